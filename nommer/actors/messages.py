"""Events between the feeder's actors (sent with tell)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Enqueue:
    """Put a job on the new-job queue (Dispatcher)."""

    job_id: str


@dataclasses.dataclass(frozen=True)
class StateChanged:
    """A job moved; ``change`` has job_id, state, details, at (JobTracker)."""

    change: dict


@dataclasses.dataclass(frozen=True)
class Notify:
    """Deliver a state change to a notify_url (Notifier)."""

    job_id: str
    url: str
    body: dict
    fmt: str = "json"


@dataclasses.dataclass(frozen=True)
class Notified:
    """What became of one webhook delivery, to record on the job (JobTracker)."""

    job_id: str
    record: dict


@dataclasses.dataclass(frozen=True)
class Workload:
    """The number of unfinished jobs now (Scaler)."""

    unfinished: int


@dataclasses.dataclass(frozen=True)
class Retire:
    """An encoder stopped heartbeating (Scaler)."""

    encoder_id: str
