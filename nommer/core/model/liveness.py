"""When an encoder counts as lost, so that what it held may be taken over.

The one rule, used by an encoder claiming a job whose owner went silent
(``core/encoder/claim.py``) and by the Reaper (``core/feeder/reaping.py``).
"""

from nommer.core.model.jobs import RUNNING_STATES, age_seconds


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
