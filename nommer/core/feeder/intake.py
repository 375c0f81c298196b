"""Taking in a submission in the thread that received it.

A submission is checked, stored and queued by the HTTP server's thread that
received it, and answered only when the job and its queue message are both
committed: a job whose submitter got its id survives the feeder's death
(SIGKILL included). The threads of many submissions at once never queue up
behind one another or behind an actor: their writes are committed in groups
(the SQLite adapters' ``GroupCommit``; AWS's services take concurrent writes
as they come), and the JobTracker only hears of each new job afterwards.
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

    def store(self, source, outputs, notify_url=None, notify_format="json", progress_events=False,
              priority=0, acceleration=None):
        """Check a submission completely and store it as a new PENDING job;
        returns the job once committed. Raises InvalidInput naming the field
        (nothing stored) or the store's error."""
        self.service.validate(source, outputs, notify_url, progress_events, priority, acceleration)
        return self.service.create(source, outputs, notify_url, notify_format, progress_events,
                                   priority, acceleration)

    def queue(self, job):
        """Put a stored job on the new-job queue; returns once committed.

        A job with a webhook first gets its PENDING change on the
        state-change queue, so that its webhook comes before the
        encoder's DOWNLOADING (which cannot happen before the job is queued).
        """
        if job.notify_url:
            self.state_changes.send(json.dumps(state_change(job, origin="job_tracker")))
        self.new_jobs.send(message_body(job.id), priority=job.priority)
