"""The shapes of what the feeder's api object answers for ``/fleet`` and
``/health`` (nommer.actors.gateway.ActorGateway builds them; the HTTP layer
passes them on). Tests build their doubles from these same types, and a test
checks a running feeder's answers against them, so the two cannot drift."""

import types
import typing
from typing import Any, NotRequired, Protocol, TypedDict


class ActorHealth(TypedDict):
    """One of the Supervisor's children, by its name (``job_tracker``,
    ``notifier``, ``dispatcher``, ``scaler``, ``reaper``, ``http_front``)."""

    state: str  # "starting", "running", "restarting", "failed", "dead"
    restarts: int
    last_error: str | None


class HealthMetrics(TypedDict):
    jobs: dict[str, int]  # {state: count}; empty when the JobTracker did not answer


class HealthProblem(TypedDict):
    kind: str  # "launch_error" or "spot_error"
    at: str | None
    reason: str


class HealthReport(TypedDict):
    status: str  # "ok" or "degraded"
    actors: dict[str, ActorHealth]
    metrics: HealthMetrics
    problems: NotRequired[list[HealthProblem]]
    undelivered_messages: NotRequired[dict[str, int]]


class FleetMember(TypedDict):
    id: str
    state: str  # "starting", "running", "stopping", "stopped", "interrupted"
    started_at: str
    detail: str
    market: str  # "spot", "on-demand" or ""
    busy_until: str | None
    interrupted: NotRequired[dict[str, Any]]  # the spot notice, once one came


class EncoderRecord(TypedDict):
    id: str
    last_seen: str
    info: dict[str, Any]  # what the encoder's heartbeat reports
    busy_until: str | None


class ScalerDecision(TypedDict):
    at: float
    launch: int
    retire: list[str]
    desired: int
    reason: str


class ScalerReport(TypedDict):
    decision: ScalerDecision | None  # None until the Scaler first looked


class LaunchProblem(TypedDict):
    at: str
    code: str
    message: str
    missing_permission: NotRequired[str]
    next_try_in: NotRequired[int]


class FleetReport(TypedDict):
    members: list[FleetMember]
    encoders: list[EncoderRecord]
    scaler: ScalerReport
    launch_error: NotRequired[LaunchProblem]
    spot_error: NotRequired[LaunchProblem]


class StatusApi(Protocol):
    """The status part of the api object the HTTP app serves."""

    def fleet(self) -> FleetReport: ...

    def health(self) -> tuple[bool, HealthReport]: ...


def mismatches(value, shape, where="answer"):
    """Where ``value`` differs from ``shape`` (one of the types above, or a
    list, dict, union or plain type of them), as readable lines: a key a
    TypedDict requires is missing, a key it does not declare is there, or a
    value has another type. Empty when it matches."""
    if shape is Any:
        return []
    origin, args = typing.get_origin(shape), typing.get_args(shape)
    if typing.is_typeddict(shape):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(shape)
        found = [f"{where}: missing {key!r}" for key in sorted(shape.__required_keys__ - value.keys())]
        found += [f"{where}: undeclared {key!r}" for key in sorted(value.keys() - hints.keys(), key=str)]
        for key in sorted(value.keys() & hints.keys()):
            found += mismatches(value[key], hints[key], f"{where}.{key}")
        return found
    if origin in (typing.Union, types.UnionType):
        tried = [mismatches(value, arm, where) for arm in args]
        return [] if any(not found for found in tried) else tried[0]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [line for n, item in enumerate(value) for line in mismatches(item, args[0], f"{where}[{n}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        return [line for key, item in value.items() for line in mismatches(item, args[1], f"{where}[{key!r}]")]
    if shape is type(None):
        return [] if value is None else [f"{where}: {value!r}, not null"]
    if shape is float and isinstance(value, int) and not isinstance(value, bool):
        return []
    return [] if isinstance(value, shape) else [f"{where}: {value!r} is not a {shape.__name__}"]
