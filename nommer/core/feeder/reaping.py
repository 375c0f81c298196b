"""The Reaper's logic: find jobs whose encoder went silent, jobs stuck for
too long, jobs whose queue message the queue gave up on, and encoders that
stopped heartbeating."""

import dataclasses
import time

from nommer.core import log
from nommer.core.model.messages import job_id_of
from nommer.core.errors import NotFound, StaleWrite
from nommer.core.model.jobs import RUNNING_STATES, State, age_seconds, time_ago
from nommer.core.model.liveness import encoder_lost, gave_up, given_back, owner_lost

DEAD_LETTER_BATCHES = 10  # of up to 10 messages each, per sweep
PAGE = 500  # running jobs read a page at a time
# A PENDING job can only be abandoned, so the PENDING ones (a long queue
# may hold many thousands) are looked at every this share of abandon_after,
# the running ones at every sweep: abandoned at most 5% late.
PENDING_LOOK = 1 / 20


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
    def __init__(self, config, store, new_jobs=None, scratch=None):
        self.config = config
        self.store = store
        self.new_jobs = new_jobs
        self.scratch = scratch  # encoder.scratch.Scratch: files of accelerated jobs
        self.log = log.get("nommer.reaper")
        self._next_whole_look = 0.0  # monotonic time of the next look at PENDING jobs too

    def sweep(self):
        result = Sweep()
        if self.new_jobs is not None:
            try:
                self._dead_letters(result)
            except Exception:
                # The rest of the sweep does not depend on it; the next one retries.
                self.log.exception("reading the dead-letter queue failed")
        for job in self._jobs_to_look_at():
            try:
                self._look_at(job, result)
            except StaleWrite:
                continue  # someone else moved it; the next sweep looks again
        for encoder in self.store.encoders():
            if encoder_lost(encoder, self.config.heartbeat_interval, self.config.lease_seconds):
                result.lost_encoders.append(encoder["id"])
        self._clear_scratch(result)
        return result

    def _clear_scratch(self, result):
        """An accelerated job this sweep ended (abandoned, or given up on a
        dead letter) may have no piece message left to bring an encoder to
        its scratch files, so they go here (deleting twice is harmless)."""
        if self.scratch is None or not self.scratch.available:
            return
        for job in result.changed:
            if not (job.is_final and job.pieces):
                continue
            try:
                self.scratch.remove(job.id)
            except Exception:
                # Left for whoever next finds the job ended; never stops the sweep.
                self.log.exception("removing an ended job's scratch files failed", job_id=job.id)

    def _jobs_to_look_at(self):
        """The running jobs; now and then (PENDING_LOOK) also the PENDING
        ones unchanged for abandon_after, which the store picks."""
        now = time.monotonic()
        if now >= self._next_whole_look:
            self._next_whole_look = now + max(self.config.reap_interval,
                                              self.config.abandon_after * PENDING_LOOK)
            yield from self.store.idle({State.PENDING}, before=time_ago(self.config.abandon_after))
        cursor = None
        while True:
            jobs, cursor = self.store.list(state=RUNNING_STATES, limit=PAGE, cursor=cursor)
            yield from jobs
            if cursor is None:
                return

    def encoder_gone(self, encoder_id, reason):
        """The encoder ``encoder_id`` was ended: each unfinished job it held
        goes back to PENDING (or ERROR past ``max_attempts``) at once,
        instead of after its lease runs out."""
        result = Sweep()
        for job in self.store.unfinished():
            if job.encoder_id != encoder_id or job.state not in RUNNING_STATES:
                continue
            try:
                self._give_back(job, f"encoder {encoder_id} {reason}", result)
            except StaleWrite:
                continue  # it moved meanwhile: its encoder is alive after all
        return result

    def _give_back(self, job, reason, result):
        written = self.store.update(given_back(job, self.config.max_attempts, reason))
        (result.requeued if written.state == State.PENDING else result.failed).append(written)

    def _look_at(self, job, result):
        idle = age_seconds(job.updated_at)
        if idle is not None and idle > self.config.abandon_after:
            result.abandoned.append(self.store.update(job.transition(
                State.ABANDONED,
                details=f"no change for {int(idle)} s (abandon_after is "
                        f"{int(self.config.abandon_after)} s)")))
            return
        if not owner_lost(job, self.config.lease_seconds):
            return
        self._give_back(job, f"encoder {job.encoder_id} stopped answering during {job.state}",
                        result)

    def _dead_letters(self, result):
        """Drain the new-job queue's dead letters: each unfinished job among
        them ends in ERROR (GAVE_UP)."""
        for _ in range(DEAD_LETTER_BATCHES):
            letters = self.new_jobs.dead_letters(max_messages=10)
            if not letters:
                return
            for letter in letters:
                if self._dead_letter(letter, result):
                    self.new_jobs.forget_dead_letter(letter.receipt)

    def _dead_letter(self, letter, result):
        """Deal with one dead letter; False to look at it again next sweep."""
        job_id = job_id_of(letter.body)
        if job_id is None:
            self.log.warning("unreadable dead letter dropped", body=letter.body[:200])
            return True
        try:
            job = self.store.get(job_id)
        except NotFound:
            return True
        if job.is_final:
            return True
        if job.state in RUNNING_STATES and not owner_lost(job, self.config.lease_seconds):
            # A second message of a job its encoder is working on (the
            # first went back to the queue when the job was re-queued).
            self.log.info("dead letter of a job at work dropped", job_id=job.id)
            return True
        try:
            failed = self.store.update(gave_up(
                job, f"gave up: its queue message was received {letter.receive_count} "
                     "times without finishing"))
        except StaleWrite:
            return False
        self.log.warning("job gave up: dead letter", job_id=job.id, receives=letter.receive_count)
        result.failed.append(failed)
        return True
