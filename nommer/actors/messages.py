"""Events between the feeder's actors (sent with tell)."""

import dataclasses
import threading
import time

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


class Arrivals:
    """New jobs the HTTP threads stored, waiting for the JobTracker, which
    takes them all at once: a burst of submissions costs it one message and
    one wake-up per batch, not per job.

    A thread that adds a job tells ``Arrived`` only when no tell covers the
    jobs waiting, so each job is in the list before a message that makes the
    JobTracker take it is in its mailbox. After taking them on ``Arrived``
    the JobTracker holds the list for a moment (``take(hold=True)``): the
    jobs added meanwhile tell nothing and gather until it ends the hold
    (:meth:`release`) and takes them together. It takes the waiting jobs
    (:meth:`take_early`) before any change of a job too: a job is added
    before its receivers are woken, so no change an encoder makes can reach
    the JobTracker before the job. A tell lost with a crashed JobTracker, or
    a hold it never ended, needs none again: each JobTracker is given the
    same Arrivals and takes (holding) the jobs waiting when it starts,
    before it reads every unfinished job; else a job taken only after its
    changes would be counted again as it was submitted. A tell lost all
    the same (a JobTracker not given it) is made again by the first add
    after ``RETELL_AFTER`` seconds.

    Threads: every HTTP request thread adds, the JobTracker takes; ``_lock``
    guards both fields.
    """

    RETELL_AFTER = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = []
        # time.monotonic() of the tell (or the hold) that covers _jobs; None:
        # the next add tells
        self._told_at = None

    def add(self, job):
        """Add ``job``; True when the caller must tell ``Arrived``."""
        with self._lock:
            self._jobs.append(job)
            now = time.monotonic()
            if self._told_at is None or now - self._told_at > self.RETELL_AFTER:
                self._told_at = now
                return True
            return False

    def take(self, hold=False):
        """The jobs waiting, oldest first. Then the next add tells again,
        or, with ``hold``, none tells until :meth:`release`."""
        with self._lock:
            jobs, self._jobs = self._jobs, []
            self._told_at = time.monotonic() if hold else None
            return jobs

    def take_early(self):
        """The jobs waiting, oldest first, taken before a tell or a hold
        that covers them ends (which then finds fewer)."""
        with self._lock:
            jobs, self._jobs = self._jobs, []
            return jobs

    def release(self):
        """End a hold: True when jobs came during it (the caller takes them,
        holding again), else the next add tells."""
        with self._lock:
            if self._jobs:
                return True
            self._told_at = None
            return False


@dataclasses.dataclass(frozen=True)
class Arrived:
    """New jobs wait in ``arrivals`` (JobTracker)."""

    arrivals: Arrivals


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
class DeleteAcked:
    """Delete the acknowledged state changes held back so far (Dispatcher,
    from its own timer once the oldest of them has waited ACK_LINGER)."""


@dataclasses.dataclass(frozen=True)
class CloseIdle:
    """Close the webhook connections kept idle too long (Notifier, from its
    own timer)."""


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
