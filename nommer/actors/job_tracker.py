"""The JobTracker owns the JobStore's view of jobs: it answers queries,
cancels, keeps the cache of unfinished jobs and tells the Notifier and the
Scaler about changes. New jobs are stored by the Intake in the HTTP threads
(nommer/core/feeder/intake.py), which tells it of each."""

import collections
import logging
import time

from nommer.actors import addresses, base
from nommer.actors.messages import (
    Ack, Arrived, Enqueue, Notified, Notify, Report, ResendPending, StateChanged, Submitted, Workload,
)
from nommer.actors.ticker import Alarm, Tick, Ticker
from nommer.core import backends, log
from nommer.core.security import credentials
from nommer.core.feeder.costs import CostModel
from nommer.core.errors import NommerError, NotFound
from nommer.core.model import pieces
from nommer.core.model.jobs import FINAL_STATES, UNFINISHED_STATES, State, pending_since
from nommer.core.model.messages import PIECE_EVENT, state_change
from nommer.core.feeder.metrics import FeederMetrics
from nommer.core.security.netguard import AddressPolicy
from nommer.core.ports.store import MAX_PAGE
from nommer.core.feeder.notify import payload, wanted
from nommer.core.feeder.service import JobService
from nommer.core.model.resources import job_resource


FINAL_NAMES = frozenset(s.value for s in FINAL_STATES)

# At least this long (seconds) between two Workloads: the changes of a burst
# are told together, at most this late.
WORKLOAD_EVERY = 0.2
WORKLOAD_DUE = Tick("workload")
# How long (seconds) new jobs gather after a take before the next (see Arrivals).
ARRIVALS_GATHER = 0.02
ARRIVALS_DUE = Tick("arrivals")


class JobTracker(base.Child):
    address = addresses.JOB_TRACKER
    name = "job_tracker"

    def __init__(self, config, store, storage, metrics=None, arrivals=None):
        super().__init__()
        self.config = config
        self.metrics = metrics or FeederMetrics()
        self.box = credentials.SecretBox.from_config(config)
        self.service = JobService(store, storage, AddressPolicy.from_config(config), self.box)
        self.unfinished = {}  # job id: State, of every unfinished job
        self.waiting = {}  # job id: (priority, pending since), of every PENDING job
        # Predicted encoder-seconds per unfinished job and their sum, kept as
        # jobs change so that a long queue is never summed again.
        self.costs = CostModel(config.default_job_seconds, instance_type=instance_type(config))
        self.predicted = {}
        self.backlog = 0.0
        # Accelerated jobs: pieces that may run at once beyond the first (as
        # re-read at each piece done), so that one job may keep several
        # encoders busy in the Scaler's count.
        self.spread = {}
        # Webhook delivery records not written yet: job id -> {record id:
        # record}. A job's are written together when its last webhook (of a
        # final state) is told, else at the next tick: one write a job
        # rather than one a webhook.
        self.unrecorded = {}
        self.piece_states = {}  # job id: {piece state: count}, of unfinished accelerated jobs
        self.submitted = 0  # the Scaler derives the submission rate from it
        self.submitted_at_tick = 0  # self.submitted at the last tick
        self.workload_told = float("-inf")  # monotonic time of the last Workload told
        self.workload_last = None  # (the Scaler's urn, the Workload) last told
        self.workload_due = False  # WORKLOAD_DUE set on the alarm
        # The Arrivals the HTTP threads add new jobs to (the gateway's, which
        # outlives this actor), else the one of the last Arrived.
        self.arrivals = arrivals
        self.arrivals_due = False  # ARRIVALS_DUE set on the alarm: the hold of the arrivals ends
        self.alarm = None
        self.ticker = None

    def on_start(self):
        # The jobs added while no JobTracker ran, or during the hold of one
        # that crashed (no Arrived tells of them, and none may come for
        # RETELL_AFTER): taken before the reading of every unfinished job,
        # which then has them as they are now, and held like any take, so
        # that those added from now on gather until ARRIVALS_DUE.
        if self.arrivals is not None:
            for job in self.arrivals.take(hold=True):
                self._submitted(job, workload=False)
        self._reload()
        self.ticker = Ticker(self.actor_ref, max(5.0, self.config.scale_interval), "tracker").start()
        self.alarm = Alarm(self.actor_ref, "tracker").start()
        if self.arrivals is not None:
            self.arrivals_due = True
            self.alarm.set(ARRIVALS_GATHER, ARRIVALS_DUE)

    def on_stop(self):
        self._stop_timers()
        self._write_records()

    def on_failure(self, exception_type, exception_value, traceback):
        # on_stop is not called after a crash: the alarm's thread, with
        # nothing due, would wait for ever.
        self._stop_timers()
        super().on_failure(exception_type, exception_value, traceback)

    def _stop_timers(self):
        if self.ticker:
            self.ticker.stop()
        if self.alarm:
            self.alarm.stop()

    # asked through the gateway ------------------------------------------------

    def get(self, job_id):
        return self.service.get(job_id)

    def list(self, state=None, limit=50, cursor=None):
        return self.service.list(state, limit, cursor)

    def cancel(self, job_id):
        self._take_early()
        job = self.service.cancel(job_id)
        self._log_state(job)
        self.metrics.job_changed(job, job.state.value, job.updated_at)
        self._report(job)
        self._cache(job)
        return job

    def retry_submission(self, job_id):
        """What to submit again to retry the finished job ``job_id``."""
        return self.service.retry_submission(job_id)

    def counts(self):
        return self.service.counts()

    def piece_counts(self):
        """{piece state: count} over the pieces of unfinished accelerated jobs."""
        total = dict.fromkeys(pieces.STATES, 0)
        for states in self.piece_states.values():
            for state, count in states.items():
                total[state] = total.get(state, 0) + count
        return total

    def encoders(self):
        return self.service.store.encoders()

    # events ---------------------------------------------------------------------

    def on_receive(self, message):
        if isinstance(message, Arrived):
            self._arrived(message.arrivals)
            return
        if message == ARRIVALS_DUE:
            self.arrivals_due = False
            if self.arrivals.release():
                self._arrived(self.arrivals)
            return
        self._take_early()  # a change of a job never comes before the job
        if isinstance(message, Submitted):
            self._submitted(message.job)
        elif isinstance(message, StateChanged):
            try:
                job = self.service.get(message.change["job_id"])
            except NotFound:
                job = None
            self._changed(job, message.change, message.receipt)
        elif isinstance(message, Notified):
            records = self.unrecorded.setdefault(message.job_id, {})
            records.pop(message.record.get("id"), None)
            records[message.record.get("id")] = message.record
            if message.record.get("state") in FINAL_NAMES:
                self._write_records(message.job_id)
        elif message == WORKLOAD_DUE:
            self.workload_due = False
            self._workload()
        elif isinstance(message, Tick):
            self._write_records()
            self._recount()
        elif isinstance(message, ResendPending):
            self._reload()
            pending = list(self.waiting.items())
            for job_id, (priority, _since) in pending:
                base.tell(addresses.DISPATCHER, Enqueue(job_id, priority))
            if pending:
                self.log.info("pending jobs queued again", count=len(pending))
        else:
            super().on_receive(message)

    def _arrived(self, arrivals):
        """Take the new jobs, and hold the others that arrive for
        ARRIVALS_GATHER seconds: then they are taken together."""
        self.arrivals = arrivals
        self._took(arrivals.take(hold=True))
        if not self.arrivals_due:
            self.arrivals_due = True
            self.alarm.set(ARRIVALS_GATHER, ARRIVALS_DUE)

    def _take_early(self):
        if self.arrivals is not None:
            self._took(self.arrivals.take_early())

    def _took(self, jobs):
        """New jobs taken from the arrivals; the Scaler told once for all."""
        for job in jobs:
            self._submitted(job, workload=False)
        if jobs:
            self._workload()

    def _write_records(self, job_id=None):
        """Write the webhook records kept of job ``job_id`` (of every job
        when None), one write a job."""
        for one in [job_id] if job_id is not None else list(self.unrecorded):
            records = self.unrecorded.pop(one, None)
            if not records:
                continue
            try:
                self.service.record_notifications(one, list(records.values()))
            except NommerError as e:  # the record is a courtesy; the job goes on
                self.log.warning("webhook record not written", job_id=one, error=str(e))

    def _submitted(self, job, workload=True):
        """A job the Intake stored (and is queueing, with its PENDING change).
        ``workload``: tell the Scaler (else the caller does, once for many)."""
        self.submitted += 1
        self.metrics.job_submitted(job)
        if job.id in self.unfinished:
            # Known already: read at a start, or a change of it came first.
            # The cache keeps what it knows.
            return
        self._log_state(job)
        self._cache(job, workload)

    def _report(self, job):
        if job.notify_url:  # only webhooks need the feeder's own changes queued
            # "origin": this change is logged already (create, cancel)
            base.tell(addresses.DISPATCHER, Report(state_change(job, origin="job_tracker")))

    def _cache(self, job, workload=True):
        if job.is_final:
            if self.unfinished.pop(job.id, None) is not None and self.costs.learn(job):
                self.log.debug("cost learned", job_id=job.id, factors=self.costs.table())
        else:
            self.unfinished[job.id] = job.state
        self._note_spread(self.spread, job)
        self._note_pieces(self.piece_states, job)
        self._note_waiting(self.waiting, job)
        self._predict(job)
        if workload:
            self._workload()

    @staticmethod
    def _note_spread(spread, job):
        ready = sum(1 for p in job.pieces if p["state"] in (pieces.PENDING, pieces.RUNNING))
        if job.is_final or ready < 2:
            spread.pop(job.id, None)
        else:
            spread[job.id] = ready - 1

    @staticmethod
    def _note_pieces(piece_states, job):
        if job.is_final or not job.pieces:
            piece_states.pop(job.id, None)
        else:
            piece_states[job.id] = collections.Counter(p["state"] for p in job.pieces)

    @staticmethod
    def _note_waiting(waiting, job):
        """Keep (priority, waiting since) of the job while it is PENDING."""
        if job.state == State.PENDING:
            waiting[job.id] = (job.priority, pending_since(job))
        else:
            waiting.pop(job.id, None)

    def _predict(self, job):
        before = self.predicted.pop(job.id, 0.0)
        now = 0.0 if job.is_final else self.costs.predict(job)
        if now:
            self.predicted[job.id] = now
        self.backlog = max(0.0, self.backlog + now - before)

    def _log_state(self, job, change=None):
        """The operator's line for a job's state change: one per change, with
        what went wrong and which encoder did it."""
        state = (change or {}).get("state") or job.state.value
        warn = state in ("ERROR", "ABANDONED")
        if not log.enabled(logging.WARNING if warn else logging.INFO):
            return  # a line that would be dropped is not built
        fields = {"job_id": job.id, "state": state}
        if job.error_code:
            fields["error_code"] = job.error_code
        if job.encoder_id:
            fields["encoder_id"] = job.encoder_id
        if job.attempt:
            fields["attempt"] = job.attempt
        (self.log.warning if warn else self.log.info)("job state", **fields)

    def _changed(self, job, change, receipt):
        if job is not None:
            self._cache(job)
            if (change.get("event", "job.state_changed") == "job.state_changed"
                    and change.get("origin") != "job_tracker"):
                self._log_state(job, change)
                self.metrics.job_changed(job, change.get("state") or job.state.value, change.get("at"))
        url = None
        if (job is not None and job.notify_url and wanted(change, job.notify_format)
                and change.get("event") != PIECE_EVENT):
            try:
                url = credentials.real_uris(self.box, job)["notify_url"]
            except NommerError as e:
                self.log.warning("webhook not sent", job_id=job.id, error=str(e))
        if url is not None:
            body = payload(change, job_resource(job))
            # tell: the Notifier delivers in its own time and acknowledges the
            # change itself; it never answers back
            base.tell(addresses.NOTIFIER, Notify(job.id, url, body, job.notify_format, receipt))
        elif receipt is not None:
            base.tell(addresses.DISPATCHER, Ack(receipt))

    def _reload(self):
        # Page by page, keeping only each job's state and predicted seconds:
        # a queue of 100,000 jobs is never held whole in memory.
        unfinished, predicted, waiting, spread, piece_states = {}, {}, {}, {}, {}
        cursor = None
        while True:
            jobs, cursor = self.service.store.list(state=UNFINISHED_STATES, limit=MAX_PAGE, cursor=cursor)
            for job in jobs:
                unfinished[job.id] = job.state
                predicted[job.id] = self.costs.predict(job)
                self._note_waiting(waiting, job)
                self._note_spread(spread, job)
                self._note_pieces(piece_states, job)
                if job.state == State.PENDING:
                    self.metrics.job_pending(job)
            if cursor is None:
                break
        self.unfinished, self.predicted, self.waiting, self.spread = unfinished, predicted, waiting, spread
        self.piece_states = piece_states
        self.backlog = sum(predicted.values())
        self._workload()

    def _recount(self):
        """Correct the workload from the store's counts of the unfinished
        states, which cost little even with a long queue and never touch a
        finished job (a full reload would read every unfinished job)."""
        total = sum(self.service.counts(UNFINISHED_STATES).values())
        submitting = self.submitted != self.submitted_at_tick
        self.submitted_at_tick = self.submitted
        if total != len(self.unfinished) and self.actor_inbox.empty() and not submitting:
            # Something changed behind this actor's back. (With messages
            # waiting, or jobs submitted since the last tick, the difference
            # is most likely new jobs it has not heard of yet: a burst of
            # submissions, each stored a moment before it is told; the next
            # tick looks again, and reads every unfinished job only once the
            # burst is over.)
            self._reload()
        else:
            self._workload()

    def _workload(self):
        # At most one Workload per WORKLOAD_EVERY: the Scaler keeps only the
        # latest, and each costs both actors a wake-up (during a burst of
        # submissions there would be hundreds a second). Changes within that
        # time are told together when it ends.
        now = time.monotonic()
        due = self.workload_told + WORKLOAD_EVERY
        if now < due:
            if not self.workload_due:
                self.workload_due = True
                self.alarm.set(due - now, WORKLOAD_DUE)
            return
        self.workload_told = now
        units = len(self.unfinished) + sum(self.spread.values())
        workload = Workload(units, self.backlog, self.submitted, self._oldest_pending())
        # The Scaler keeps the latest Workload: the same again to the same
        # Scaler (not one restarted since, which starts empty) tells it
        # nothing. Most changes of a job (DOWNLOADING to ENCODING...) leave it.
        scaler = base.lookup(addresses.SCALER)
        if scaler is not None and (scaler.actor_urn, workload) == self.workload_last:
            return
        if base.tell(addresses.SCALER, workload) and scaler is not None:
            self.workload_last = (scaler.actor_urn, workload)

    def _oldest_pending(self):
        """When (epoch seconds) the job waiting longest for an encoder began
        to wait; None when none waits, or where it is not used (ec2_spot with
        on_demand_after)."""
        if not (self.config.ec2_spot and self.config.on_demand_after > 0):
            return None
        times = [since for _priority, since in self.waiting.values() if since is not None]
        return min(times) if times else None

    def predicted_seconds(self, job_ids):
        """{job id: encoder-seconds it is predicted to need still} of those
        of ``job_ids`` that are unfinished (for /fleet's busy_until)."""
        return {job_id: self.predicted[job_id] for job_id in job_ids if job_id in self.predicted}

    def cost_factors(self):
        """The cost factors known now, ``{preset[@instance type]: factor}``."""
        return self.costs.table()


def instance_type(config):
    """The instance type cost factors are learned for: the encoders' EC2
    type on AWS (``aws`` when only the launch template knows it), ``local``
    for encoder processes."""
    return backends.profile(config).cost_instance_type(config)
