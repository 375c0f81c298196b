"""How a job leaves the encoder when a step cannot go on: failed (ERROR),
aborted (no longer this encoder's) or released (handed back on a graceful
stop). Runs in the thread of the stage whose step raised."""

from nommer.core.errors import Canceled, JobFailed, NommerError, NotFound
from nommer.core.model.error_codes import job_error_code
from nommer.core.model.jobs import State
from nommer.core.model.messages import message_body
from nommer.core.security import credentials


class Ending:
    def __init__(self, encoder_id, store, new_jobs, journal, tasks, log):
        self.encoder_id = encoder_id
        self.store = store
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log

    def end(self, task, error):
        """Close a task whose step raised ``error``: release, abort or fail it."""
        if isinstance(error, Canceled):
            if task.release_on_cancel:
                self.release(task)
            else:
                self.abort(task)
        elif isinstance(error, NommerError):
            self.fail(task, error)
        else:
            self.log.error("unexpected failure", job_id=task.id, exc_info=error)
            self.fail(task, JobFailed(f"internal error: {type(error).__name__}: {error}",
                                      code="INTERNAL_ERROR"))

    def fail(self, task, error):
        """The job ends in ERROR with a readable reason and a stable code; the message goes."""
        code = job_error_code(error)
        fields = {"details": credentials.scrub(str(error)), "error_code": code, "notes": task.notes_said()}
        if task.probe is not None:
            fields["probe"] = task.probe
        try:
            self.journal.set_state(task, State.ERROR, **fields)
        except Canceled:
            return self.abort(task)
        self.new_jobs.delete(task.receipt)
        self.log.warning("job failed", job_id=task.id, error_code=code, details=str(error))
        self.tasks.forget(task, "failed")

    def abort(self, task):
        """Work stopped because the job is no longer this encoder's."""
        try:
            job = self.store.get(task.id)
        except NotFound:
            job = None
        if job is None or job.is_final:
            self.new_jobs.delete(task.receipt)
        else:
            self.new_jobs.release(task.receipt)
        self.log.info("job work stopped", job_id=task.id,
                      state=job.state.value if job else "deleted")
        self.tasks.forget(task)

    def release(self, task):
        """Hand an unfinished job back to the queue (graceful stop)."""
        try:
            job = self.journal.write(task, lambda j: j.transition(
                State.PENDING, encoder_id=None, attempt=max(0, j.attempt - 1),
                details=f"released by encoder {self.encoder_id} when it stopped"))
            self.journal.report(job)
        except Canceled:
            return self.abort(task)
        # A fresh message rather than this one made visible: a graceful stop
        # (a spot instance taken back) must not count toward the receives
        # after which SQS dead-letters a job. New first: a stop between the
        # two leaves a duplicate, which encoders drop, never nothing.
        self.new_jobs.send(message_body(task.id), priority=job.priority)
        self.new_jobs.delete(task.receipt)
        self.log.info("job released", job_id=task.id)
        self.tasks.forget(task, "released")
