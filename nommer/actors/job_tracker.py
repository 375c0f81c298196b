"""The JobTracker owns the JobStore: it creates jobs, answers queries, keeps
the cache of unfinished jobs and tells the Notifier and the Scaler about
changes."""

from nommer.actors import base
from nommer.actors.messages import Enqueue, Notified, Notify, StateChanged, Workload
from nommer.actors.ticker import Tick, Ticker
from nommer.core import credentials
from nommer.core.errors import NommerError, NotFound
from nommer.core.netguard import AddressPolicy
from nommer.core.notify import payload
from nommer.core.service import JobService
from nommer.http.resources import job_resource


class JobTracker(base.Child):
    name = "job_tracker"

    def __init__(self, config, store, storage):
        super().__init__()
        self.config = config
        self.box = credentials.SecretBox.from_config(config)
        self.service = JobService(store, storage, AddressPolicy.from_config(config), self.box)
        self.unfinished = {}
        self.ticker = None

    def on_start(self):
        self._reload()
        self.ticker = Ticker(self.actor_ref, max(5.0, self.config.scale_interval), "tracker").start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    # asked through the gateway ------------------------------------------------

    def create(self, source, outputs, notify_url=None, notify_format="json"):
        """Store a submission the gateway has validated, and queue it."""
        job = self.service.create(source, outputs, notify_url, notify_format)
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
        elif isinstance(message, Notified):
            try:
                self.service.record_notification(message.job_id, message.record)
            except NommerError as e:  # the record is a courtesy; the job goes on
                self.log.warning("webhook record not written", job_id=message.job_id, error=str(e))
        elif isinstance(message, Tick):
            self._reload()
        else:
            super().on_receive(message)

    def _changed(self, job, change):
        if job.is_final:
            self.unfinished.pop(job.id, None)
        else:
            self.unfinished[job.id] = job
        if job.notify_url:
            body = payload(change, job_resource(job))
            try:
                url = credentials.real_uris(self.box, job)["notify_url"]
            except NommerError as e:
                self.log.warning("webhook not sent", job_id=job.id, error=str(e))
            else:
                # tell: the Notifier delivers in its own time and never answers back
                base.tell("Notifier", Notify(job.id, url, body, job.notify_format))
        self._workload()

    def _reload(self):
        self.unfinished = {job.id: job for job in self.service.unfinished()}
        self._workload()

    def _workload(self):
        base.tell("Scaler", Workload(len(self.unfinished)))
