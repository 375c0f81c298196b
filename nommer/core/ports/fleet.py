"""The Fleet port: the encoder machines (or processes) the Scaler manages.

Adapters: ``nommer.core.adapters.local_fleet`` (encoder subprocesses) and, for
AWS, an EC2 one.
"""

import abc
import dataclasses


@dataclasses.dataclass(frozen=True)
class Member:
    id: str  # the encoder id it heartbeats under
    state: str  # "starting", "running", "stopping", "stopped"
    started_at: str
    detail: str = ""
    market: str = ""  # "spot" or "on-demand" on EC2; "" where there is no market


class Fleet(abc.ABC):
    @abc.abstractmethod
    def launch(self, count):
        """Start ``count`` encoders; returns their Members."""

    @abc.abstractmethod
    def members(self):
        """The encoders this fleet started that have not stopped, refreshed now."""

    @abc.abstractmethod
    def retire(self, member_id):
        """Stop one encoder (it finishes or releases its work first)."""

    def problems(self):
        """What keeps this fleet from launching as asked, for /health and
        /fleet: ``{"launch_error": {"at", "code", "message", ...}}`` while
        launches fail, ``{"spot_error": {...}}`` while spot launches are
        refused for a reason on-demand ones worked around. Empty when none."""
        return {}

    def note_wait(self, seconds):
        """The oldest job waiting for an encoder has waited ``seconds`` (None:
        none waits). The Scaler tells it before launching; a fleet that
        chooses between markets may use it (EC2: ``on_demand_after``)."""

    def retry_launches(self):
        """Forget the wait after a failed launch, so that the next look of
        the Scaler launches at once (the operator fixed the cause)."""

    def stop_all(self, timeout=10.0):
        """Stop every encoder this fleet started (feeder shutdown)."""
        for member in self.members():
            self.retire(member.id)


def merged_members(members, encoders):
    """The fleet's ``members`` (dicts) with what their encoders' heartbeat
    records add: the market when the fleet does not know it, and state
    ``interrupted`` with the notice (``interrupted``) once the encoder got a
    spot interruption notice. ``encoders`` are the store's heartbeat records."""
    infos = {e.get("id"): e.get("info") or {} for e in encoders}
    merged = []
    for member in members:
        member = dict(member)
        info = infos.get(member.get("id"), {})
        if not member.get("market") and info.get("market"):
            member["market"] = info["market"]
        if info.get("interrupted"):
            member["state"] = "interrupted"
            member["interrupted"] = info["interrupted"]
        merged.append(member)
    return merged


def busy_until(encoders, predicted, now):
    """{encoder id: ISO time} when each encoder is predicted to be done with
    the jobs it holds (its heartbeat's ``jobs``; they run side by side, so
    the longest counts); an encoder holding nothing is not in it.
    ``predicted`` is {job id: encoder-seconds still to go}."""
    import datetime

    until = {}
    for record in encoders:
        jobs = (record.get("info") or {}).get("jobs") or []
        if jobs:
            left = max(predicted.get(job_id, 0.0) for job_id in jobs)
            at = now + datetime.timedelta(seconds=left)
            until[record.get("id")] = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return until
