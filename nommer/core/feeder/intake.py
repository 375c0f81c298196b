"""Taking in a submission in the thread that received it.

A submission is checked, stored and queued by the HTTP server's thread that
received it, and answered only when the job and its queue message are both
committed: a job whose submitter got its id survives the feeder's death
(SIGKILL included). The threads of many submissions at once never queue up
behind one another or behind an actor: their writes are committed in groups
(the SQLite adapters' ``GroupCommit``; AWS's services take concurrent writes
as they come), and the JobTracker only hears of each new job afterwards.

When the store and the queues keep their rows in one SQLite file (the
embedded default), the job and its messages are written in one transaction
(one commit per submission, not two, and never a job stored without its
message); the receivers are woken only by :meth:`Intake.queue`, after the
JobTracker has been told, so that no change an encoder makes to the job can
reach the JobTracker before the job does.
"""

import json

from nommer.core.model.messages import message_body, state_change


class Intake:
    """Checks, stores and queues new jobs; see the module.

    Threads: every HTTP request thread calls it at once; it keeps no state
    of its own, and the JobService (which only reads while checking), the
    store and the queues are safe to share between threads.
    """

    def __init__(self, service, new_jobs, state_changes):
        self.service = service
        self.new_jobs = new_jobs
        self.state_changes = state_changes
        # (new jobs, state changes) as the store can write them with a job,
        # or None: each is sent on its own after the job is stored.
        here = getattr(service.store, "queues_here", None)
        self.joint = here(new_jobs, state_changes) if here is not None else None

    def store(self, source, outputs, notify_url=None, notify_format="json", progress_events=False,
              priority=0, acceleration=None):
        """Check a submission completely and store it as a new PENDING job;
        returns the job once committed (with its queue messages, when
        ``joint``: :meth:`queue` then only wakes their receivers). Raises
        InvalidInput naming the field (nothing stored) or the store's error."""
        self.service.validate(source, outputs, notify_url, progress_events, priority, acceleration)
        return self.service.create(source, outputs, notify_url, notify_format, progress_events,
                                   priority, acceleration,
                                   messages=self._messages if self.joint else None)

    def _messages(self, job):
        new_jobs, state_changes = self.joint
        sends = [(new_jobs, message_body(job.id), job.priority)]
        if job.notify_url:
            sends.insert(0, (state_changes, json.dumps(state_change(job, origin="job_tracker")), 0))
        return sends

    def queue(self, job):
        """Put a stored job on the new-job queue; returns once committed.

        A job with a webhook first gets its PENDING change on the
        state-change queue, so that its webhook comes before the
        encoder's DOWNLOADING (which cannot happen before the job is queued).
        When ``joint``, both were committed with the job: this wakes their
        receivers.
        """
        if self.joint:
            new_jobs, state_changes = self.joint
            if job.notify_url:
                state_changes.ring()
            new_jobs.ring()
            return
        if job.notify_url:
            self.state_changes.send(json.dumps(state_change(job, origin="job_tracker")))
        self.new_jobs.send(message_body(job.id), priority=job.priority)
