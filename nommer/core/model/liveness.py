"""When an encoder counts as lost, so that what it held may be taken over,
and what becomes of the job it held.

The one rule, used by an encoder claiming a job whose owner went silent
(``core/encoder/claim.py``) and by the Reaper (``core/feeder/reaping.py``).
"""

from nommer.core.model.jobs import RUNNING_STATES, State, age_seconds


def owner_lost(job, lease_seconds, now=None):
    """Whether the encoder working on ``job`` is lost: the job is running
    (DOWNLOADING, ENCODING, UPLOADING) and nothing was written of it (its
    heartbeat_at, else updated_at) for more than ``lease_seconds``. A job
    with neither time written counts as lost: nothing shows its encoder alive.
    A job that is not running has no owner to lose (False)."""
    if job.state not in RUNNING_STATES:
        return False
    silent = age_seconds(job.heartbeat_at or job.updated_at, now)
    return silent is None or silent > lease_seconds


def encoder_lost(record, heartbeat_interval, lease_seconds, now=None):
    """Whether the encoder of heartbeat ``record`` (the store's encoders())
    stopped heartbeating: silent for more than three heartbeats and half a
    lease."""
    silent = age_seconds(record["last_seen"], now)
    return silent is not None and silent > heartbeat_interval * 3 + lease_seconds / 2


def gave_up(job, details):
    """``job`` ended in ERROR (GAVE_UP): it was tried too often."""
    return job.transition(State.ERROR, error_code="GAVE_UP", details=details)


def given_back(job, max_attempts, reason):
    """The job of a lost encoder, to be written: back to PENDING to be tried
    again, or, once it had ``max_attempts`` attempts, ended in ERROR (GAVE_UP).
    ``reason`` says what happened ("encoder e-1 stopped answering")."""
    if job.attempt >= max_attempts:
        return gave_up(job, f"gave up after {job.attempt} attempts: {reason}")
    return job.transition(State.PENDING, encoder_id=None, details=f"{reason}; trying again")
