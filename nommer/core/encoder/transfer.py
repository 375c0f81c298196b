"""Retrying a download or an upload of one job."""

from nommer.core.backoff import Backoff
from nommer.core.errors import Canceled, JobFailed, TransientError

TRANSIENT_RETRIES = 4


def retrying(step, task, what, log):
    """Run ``step`` and retry TransientError with backoff and jitter, in the
    calling stage's thread; ``what`` is "download" or "upload". Raises
    JobFailed after TRANSIENT_RETRIES tries, Canceled when the task is
    stopped during a pause."""
    backoff = Backoff(0.75, jitter=1 / 3)  # from 0.5 to 1 s at first, as before
    for attempt in range(1, TRANSIENT_RETRIES + 1):
        try:
            return step()
        except TransientError as e:
            if attempt == TRANSIENT_RETRIES:
                code = "SOURCE_UNREADABLE" if what == "download" else "UPLOAD_FAILED"
                raise JobFailed(f"{what} failed {attempt} times: {e}", code=code) from None
            log.warning(f"{what} failed; retrying", job_id=task.id, error=str(e))
            if task.cancel.wait(backoff.delay(attempt)):
                raise Canceled("work on the job stopped") from None
