"""Events between the feeder's actors (sent with tell)."""

import dataclasses

from nommer.core.model.jobs import Job


@dataclasses.dataclass(frozen=True)
class Enqueue:
    """Put a job on the new-job queue (Dispatcher)."""

    job_id: str
    priority: int = 0


@dataclasses.dataclass(frozen=True)
class Submitted:
    """A new job is stored; it is being queued (JobTracker)."""

    job: Job


@dataclasses.dataclass(frozen=True)
class StateChanged:
    """A job moved; ``change`` has job_id, state, details, at (JobTracker).
    ``receipt`` is its state-change queue message, to be acknowledged once
    the change has been dealt with."""

    change: dict
    receipt: str | None = None


@dataclasses.dataclass(frozen=True)
class Notify:
    """Deliver a state change to a notify_url (Notifier), then acknowledge
    its queue message."""

    job_id: str
    url: str
    body: dict
    fmt: str = "json"
    receipt: str | None = None


@dataclasses.dataclass(frozen=True)
class Report:
    """Put a state change the feeder made itself on the state-change queue
    (Dispatcher), so it is delivered like an encoder's, even across a crash."""

    change: dict


@dataclasses.dataclass(frozen=True)
class Ack:
    """A state change has been dealt with: delete its queue message (Dispatcher)."""

    receipt: str


@dataclasses.dataclass(frozen=True)
class Notified:
    """What became of one webhook delivery, to record on the job (JobTracker)."""

    job_id: str
    record: dict


@dataclasses.dataclass(frozen=True)
class Workload:
    """The number of unfinished jobs now, the encoder-seconds they are
    predicted to need still, a running count of submissions, and when (epoch
    seconds) the job waiting longest for an encoder began to wait (None: not
    known) (Scaler)."""

    unfinished: int
    backlog_seconds: float = 0.0
    submitted: int = 0  # jobs created since the JobTracker started: a running count
    oldest_pending: float | None = None


@dataclasses.dataclass(frozen=True)
class Retire:
    """An encoder stopped heartbeating (Scaler)."""

    encoder_id: str


@dataclasses.dataclass(frozen=True)
class ResendPending:
    """Queue every PENDING job again (JobTracker): the Dispatcher started
    afresh and Enqueue messages in its old mailbox may be lost."""


@dataclasses.dataclass(frozen=True)
class EncoderGone:
    """An encoder the Scaler ended (it never heartbeated within boot_timeout):
    hand its unfinished jobs back to the queue (Reaper)."""

    encoder_id: str
    reason: str
