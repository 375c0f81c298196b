"""The JobTracker owns the JobStore: it creates jobs, answers queries, keeps
the cache of unfinished jobs and tells the Notifier and the Scaler about
changes."""

from nommer.actors import base
from nommer.actors.messages import Enqueue, Notify, StateChanged, Workload
from nommer.actors.ticker import Tick, Ticker
from nommer.core.errors import NotFound
from nommer.core.notify import payload
from nommer.core.service import JobService
from nommer.http.resources import job_resource


class JobTracker(base.Child):
    name = "job_tracker"

    def __init__(self, config, store, storage):
        super().__init__()
        self.config = config
        self.service = JobService(store, storage)
        self.unfinished = {}
        self.ticker = None

    def on_start(self):
        self._reload()
        self.ticker = Ticker(self.actor_ref, max(5.0, self.config.scale_interval), "tracker").start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    # asked through the gateway ------------------------------------------------

    def create(self, source, outputs, notify_url=None, notify_format="json", progress_events=False):
        """Store a submission the gateway has validated, and queue it."""
        job = self.service.create(source, outputs, notify_url, notify_format, progress_events)
        base.tell("Dispatcher", Enqueue(job.id))
        self._changed(job, {"job_id": job.id, "state": job.state.value,
                            "details": job.details, "at": job.updated_at})
        return job

    def get(self, job_id):
        return self.service.get(job_id)

    def list(self, state=None, limit=50, cursor=None):
        return self.service.list(state, limit, cursor)

    def cancel(self, job_id):
        job = self.service.cancel(job_id)
        self._changed(job, {"job_id": job.id, "state": job.state.value,
                            "details": job.details, "at": job.updated_at})
        return job

    def counts(self):
        return self.service.counts()

    def encoders(self):
        return self.service.store.encoders()

    # events ---------------------------------------------------------------------

    def on_receive(self, message):
        if isinstance(message, StateChanged):
            try:
                job = self.service.get(message.change["job_id"])
            except NotFound:
                return
            self._changed(job, message.change)
        elif isinstance(message, Tick):
            self._reload()
        else:
            super().on_receive(message)

    def _changed(self, job, change):
        if job.is_final:
            self.unfinished.pop(job.id, None)
        else:
            self.unfinished[job.id] = job
        # media-nommer's form receivers know state changes only.
        progress_only = change.get("event") == "job.progress"
        if job.notify_url and not (progress_only and job.notify_format == "form"):
            body = payload(change, job_resource(job))
            # tell: the Notifier delivers in its own time and never answers back
            base.tell("Notifier", Notify(job.id, job.notify_url, body, job.notify_format))
        self._workload()

    def _reload(self):
        self.unfinished = {job.id: job for job in self.service.unfinished()}
        self._workload()

    def _workload(self):
        base.tell("Scaler", Workload(len(self.unfinished)))
