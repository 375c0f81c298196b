"""Claiming the job of a new-job message: PENDING → DOWNLOADING with a
conditional write, taking over the job of a silent encoder. Runs in the
Puller's thread."""

from nommer.core.encoder.task import Task
from nommer.core.errors import NotFound, StaleWrite
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import progress as progress_mod
from nommer.core.model.jobs import RUNNING_STATES, State, utcnow
from nommer.core.model.liveness import gave_up, given_back, owner_lost
from nommer.core.model.messages import job_id_of
from nommer.core.ports.storage import redact

CLAIM_TRIES = 20


class Claim:
    def __init__(self, config, encoder_id, store, new_jobs, journal, tasks, log):
        self.config = config
        self.encoder_id = encoder_id
        self.store = store
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log

    def __call__(self, message):
        """Take the job of a queue message with a conditional write.

        Returns a Task, or None when there is nothing to do: the message was
        deleted (job gone or finished) or left for its current owner.
        """
        job_id = job_id_of(message.body)
        jlog = self.log.bind(job_id=job_id)
        if job_id is None:
            jlog.warning("unreadable queue message dropped", body=message.body[:200])
            self.new_jobs.delete(message.receipt)
            return None
        for _ in range(CLAIM_TRIES):
            try:
                job = self.store.get(job_id)
            except NotFound:
                jlog.warning("queued job does not exist; message dropped")
                self.new_jobs.delete(message.receipt)
                return None
            if job.is_final:
                # Its encoder may have died between writing the final state
                # and reporting it: report it (again) before the message goes.
                self.journal.report(job)
                self.new_jobs.delete(message.receipt)
                return None
            if job_id in self.tasks:
                return None  # a second delivery of a job already here
            if job.state in RUNNING_STATES:
                if not owner_lost(job, self.config.lease_seconds):
                    return None  # its encoder is alive; the message comes back later
                # Back to PENDING, claimed by the next turn of this loop (or
                # ended past max_attempts, then reported below).
                self._write(given_back(job, self.config.max_attempts,
                                       f"encoder {job.encoder_id} stopped answering"))
                continue
            if job.attempt >= self.config.max_attempts:
                if self._give_up(job, message):
                    return None
                continue
            task = self._start(job, message)
            if task is not None:
                jlog.info("job claimed", attempt=task.job.attempt, source=redact(task.job.source))
                self.journal.report(task.job)
                return task
        return None

    def _write(self, job):
        """Write ``job``; whoever got there first wins (the loop re-reads)."""
        try:
            self.store.update(job)
        except StaleWrite:
            pass

    def _give_up(self, job, message):
        """ERROR (GAVE_UP) past max_attempts; False when another writer got there first."""
        try:
            ended = self.store.update(gave_up(
                job, f"gave up after {job.attempt} attempts: {job.details}"))
        except StaleWrite:
            return False
        self.journal.report(ended)
        self.new_jobs.delete(message.receipt)
        return True

    def _start(self, job, message):
        """A new attempt, from nothing: outputs back to PENDING. None when
        another writer got there first."""
        fresh = [{k: v for k, v in o.items() if k not in ("result", "error", "error_code", "reason")}
                 | {"state": outputs_mod.PENDING} for o in job.outputs]
        try:
            job = self.store.update(job.transition(
                State.DOWNLOADING, encoder_id=self.encoder_id,
                attempt=job.attempt + 1, progress=0, phases=progress_mod.empty(),
                outputs=fresh, details="", error_code=None, heartbeat_at=utcnow()))
        except StaleWrite:
            return None
        workdir = self.config.work_dir / f"{job.id}-{job.attempt}-{self.encoder_id}"
        task = Task(job=job, receipt=message.receipt, workdir=workdir)
        self.tasks.add(task)
        return task
