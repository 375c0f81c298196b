"""The Reaper's logic: find jobs whose encoder went silent, and jobs stuck
for too long, and encoders that stopped heartbeating."""

import dataclasses

from nommer.core.errors import StaleWrite
from nommer.core.jobs import RUNNING_STATES, State, age_seconds


@dataclasses.dataclass
class Sweep:
    requeued: list = dataclasses.field(default_factory=list)  # jobs back to PENDING
    failed: list = dataclasses.field(default_factory=list)  # jobs that gave up
    abandoned: list = dataclasses.field(default_factory=list)
    lost_encoders: list = dataclasses.field(default_factory=list)

    @property
    def changed(self):
        return self.requeued + self.failed + self.abandoned


class Reaping:
    def __init__(self, config, store):
        self.config = config
        self.store = store

    def sweep(self):
        result = Sweep()
        for job in self.store.unfinished():
            try:
                self._look_at(job, result)
            except StaleWrite:
                continue  # someone else moved it; the next sweep looks again
        limit = self.config.heartbeat_interval * 3 + self.config.lease_seconds / 2
        for encoder in self.store.encoders():
            silent = age_seconds(encoder["last_seen"])
            if silent is not None and silent > limit:
                result.lost_encoders.append(encoder["id"])
        return result

    def _look_at(self, job, result):
        idle = age_seconds(job.updated_at)
        if idle is not None and idle > self.config.abandon_after:
            result.abandoned.append(self.store.update(job.transition(
                State.ABANDONED,
                details=f"no change for {int(idle)} s (abandon_after is "
                        f"{int(self.config.abandon_after)} s)")))
            return
        if job.state not in RUNNING_STATES:
            return
        silent = age_seconds(job.heartbeat_at or job.updated_at)
        if silent is None or silent <= self.config.lease_seconds:
            return
        reason = f"encoder {job.encoder_id} stopped answering during {job.state}"
        if job.attempt >= self.config.max_attempts:
            result.failed.append(self.store.update(job.transition(
                State.ERROR, error_code="GAVE_UP",
                details=f"gave up after {job.attempt} attempts: {reason}")))
        else:
            result.requeued.append(self.store.update(job.transition(
                State.PENDING, encoder_id=None, details=f"{reason}; trying again")))
