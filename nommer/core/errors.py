"""Errors that carry a message a user can read.

Every error nommer raises on purpose is a :class:`NommerError`; its ``str()`` is
the sentence shown to the user (in a job's details, an HTTP body or a start-up
message). Tracebacks are for the log only.
"""


class NommerError(Exception):
    """Base of nommer's own errors. ``code`` is stable and machine-readable."""

    code = "ERROR"

    field = None  # the input at fault, when there is one (InvalidInput always has it)

    def __init__(self, message, *, code=None, field=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if field is not None:
            self.field = field

    def __str__(self):
        return self.message


class ConfigError(NommerError):
    """A setting is missing, malformed or out of range; the message names the key."""

    code = "CONFIG"


class InvalidInput(NommerError):
    """A request, URI or option is wrong; ``field`` names where."""

    code = "INVALID"

    def __init__(self, field, message, *, code=None):
        super().__init__(f"{field}: {message}" if field else message, code=code)
        self.field = field
        self.problem = message


class RecordTooLarge(InvalidInput):
    """A job's record is larger than the job store can hold in one item."""

    def __init__(self, message):
        super().__init__("job", message, code="RECORD_TOO_LARGE")


class NotFound(NommerError):
    code = "NOT_FOUND"


class AlreadyExists(NommerError):
    code = "ALREADY_EXISTS"


class StaleWrite(NommerError):
    """A conditional write lost: the record changed since it was read."""

    code = "STALE_WRITE"


class InvalidTransition(NommerError):
    """The job state machine does not allow this change."""

    code = "INVALID_TRANSITION"


class JobFailed(NommerError):
    """Work on a job failed for good (bad source, ffmpeg error...): the job ends in ERROR."""

    code = "JOB_FAILED"


class TransientError(NommerError):
    """A failure worth retrying later (network, throttling)."""

    code = "TRANSIENT"


class Canceled(NommerError):
    """Work stopped because the job was canceled or the claim on it was lost."""

    code = "CANCELED"


class Unavailable(NommerError):
    """A part of the system did not answer in time (an actor is restarting)."""

    code = "UNAVAILABLE"


class QueueingLate(NommerError):
    """A new job was stored, and its queue message was not committed in the
    request's time: the Dispatcher writes it (and, should the feeder stop
    first, the next one queues every PENDING job). Not a failed submission:
    the job is kept, and is answered 202 Accepted, so that a client does not
    submit it twice."""

    code = "QUEUEING"

    def __init__(self, job, reason):
        super().__init__(f"job {job.id} is stored; its queue message is being written ({reason})")
        self.job = job
        self.reason = reason
