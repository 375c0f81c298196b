"""The feeder's Prometheus metrics.

Counters and histograms move as things happen (the JobTracker sees every
state change, the Notifier every webhook, the Scaler every launch); gauges
are read when Prometheus scrapes, from a ``snapshot`` the feeder supplies
(jobs by state from the store, encoders by state from the fleet, queue
depths, health), so they are never stale. Each feeder has its own registry:
several feeders in one test process never share a series.

Names follow Prometheus' conventions, so Grafana's defaults fit: counters end
in ``_total``, durations are in seconds and end in ``_seconds``.
"""

import collections
import threading

from prometheus_client import (
    CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector,
    ProcessCollector, generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from nommer.core.model.jobs import State, parse_time

# The text format every Prometheus (2.x included) reads; what render() writes.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# From a thumbnail of a short clip to a feature film: seconds.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
PHASES = {State.DOWNLOADING.value: "download", State.ENCODING.value: "encode", State.UPLOADING.value: "upload"}
_REMEMBERED_ENDS = 10_000  # a final state told twice is counted once


class FeederMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.submitted = Counter("nommer_jobs_submitted_total", "Jobs accepted, by API (jobs or legacy).",
                                 ["api"], registry=registry)
        self.ended = Counter("nommer_jobs_ended_total",
                             "Jobs that reached a final state, by state and error code (empty when none).",
                             ["state", "error_code"], registry=registry)
        self.webhooks = Counter("nommer_webhook_deliveries_total",
                                "Webhook deliveries that ended, by outcome: delivered, or failed after every retry.",
                                ["outcome"], registry=registry)
        self.launches = Counter("nommer_encoder_launches_total", "Encoders the Scaler launched.",
                                registry=registry)
        self.launch_failures = Counter("nommer_encoder_launch_failures_total",
                                       "Launches of encoders that failed.", registry=registry)
        self.queue_wait = Histogram("nommer_job_queue_wait_seconds",
                                    "Seconds a job waited PENDING before an encoder took it.",
                                    buckets=DURATION_BUCKETS, registry=registry)
        self.phase = Histogram("nommer_job_phase_seconds",
                               "Seconds a job spent in one phase: download, encode or upload.",
                               ["phase"], buckets=DURATION_BUCKETS, registry=registry)
        self.job_time = Histogram("nommer_job_duration_seconds",
                                  "Seconds from submission to a final state, by that state.",
                                  ["state"], buckets=DURATION_BUCKETS, registry=registry)
        for state in (s for s in State if s.is_final):
            self.job_time.labels(state=state.value)  # present at 0 before the first ends
        for phase in PHASES.values():
            self.phase.labels(phase=phase)
        for outcome in ("delivered", "failed"):
            self.webhooks.labels(outcome=outcome)
        # Children kept: a burst of submissions counts each, and labels() costs a lookup under a lock.
        self._submitted_by_api = {api: self.submitted.labels(api=api) for api in ("jobs", "legacy")}
        self._snapshot = None
        registry.register(_Snapshot(self))
        self._lock = threading.Lock()
        self._entered = {}  # job id -> (state, when): the state each job is in, since when
        self._ended = collections.OrderedDict()

    def watch(self, snapshot):
        """``snapshot()`` returns ``{"healthy": bool, "jobs": {state: n},
        "encoders": {state: n}, "pieces": {state: n}, "queues": {name: (waiting, in flight)}}``;
        it is called on every scrape, and what it cannot tell it leaves out."""
        self._snapshot = snapshot

    def render(self):
        return generate_latest(self.registry)

    # events -------------------------------------------------------------------

    def job_submitted(self, job):
        self._submitted_by_api["legacy" if job.notify_format == "form" else "jobs"].inc()
        with self._lock:
            self._entered[job.id] = (State.PENDING.value, parse_time(job.created_at))

    def job_pending(self, job):
        """A job found PENDING at start (the feeder restarted): it has waited
        since it was last written."""
        with self._lock:
            self._entered.setdefault(job.id, (State.PENDING.value, parse_time(job.updated_at)))

    def job_changed(self, job, state, at):
        """``job`` (the stored record) was told to be in ``state`` since
        ``at`` (the writer's ISO time)."""
        when = parse_time(at) if at else parse_time(job.updated_at)
        with self._lock:
            before = self._entered.get(job.id)
            if before is not None and before[0] != state:
                spent = max(0.0, (when - before[1]).total_seconds())
                if before[0] == State.PENDING.value:
                    self.queue_wait.observe(spent)
                elif before[0] in PHASES:
                    self.phase.labels(phase=PHASES[before[0]]).observe(spent)
            if not State(state).is_final:
                if before is None or before[0] != state:
                    self._entered[job.id] = (state, when)
                return
            self._entered.pop(job.id, None)
            if job.id in self._ended:
                return
            self._ended[job.id] = None
            if len(self._ended) > _REMEMBERED_ENDS:
                self._ended.popitem(last=False)
        self.ended.labels(state=state, error_code=job.error_code or "").inc()
        self.job_time.labels(state=state).observe(
            max(0.0, (when - parse_time(job.created_at)).total_seconds()))

    def webhook_ended(self, delivered):
        self.webhooks.labels(outcome="delivered" if delivered else "failed").inc()

    def encoders_launched(self, count):
        self.launches.inc(count)

    def encoder_launch_failed(self):
        self.launch_failures.inc()


class _Snapshot:
    """The gauges, read from the feeder at scrape time."""

    def __init__(self, metrics):
        self.metrics = metrics

    def describe(self):
        return []  # unknown until scraped; keeps registration from calling collect()

    def collect(self):
        snapshot = self.metrics._snapshot() if self.metrics._snapshot else {}
        healthy = GaugeMetricFamily("nommer_healthy", "1 when every feeder actor runs, else 0.")
        healthy.add_metric([], 1 if snapshot.get("healthy") else 0)
        yield healthy
        jobs = GaugeMetricFamily("nommer_jobs", "Jobs in the store by state.", labels=["state"])
        counts = snapshot.get("jobs") or {}
        for state in State:  # every state, at 0 too: a vanished series silences alerts
            jobs.add_metric([state.value], counts.get(state.value, 0))
        yield jobs
        encoders = GaugeMetricFamily("nommer_encoders", "Encoders of the fleet by state.", labels=["state"])
        by_state = {"starting": 0, "running": 0, **(snapshot.get("encoders") or {})}
        for state, count in sorted(by_state.items()):
            encoders.add_metric([state], count)
        yield encoders
        pieces = snapshot.get("pieces")
        if pieces is not None:
            gauge = GaugeMetricFamily("nommer_pieces",
                                      "Pieces of unfinished accelerated jobs (segments, audio, stitch) by state.",
                                      labels=["state"])
            for state, count in sorted(pieces.items()):
                gauge.add_metric([state], count)
            yield gauge
        dropped = CounterMetricFamily("nommer_actor_messages_undelivered",
                                      "Messages told to a feeder actor that was not running (restarting), by actor.",
                                      labels=["actor"])
        for actor, count in sorted((snapshot.get("undelivered") or {}).items()):
            dropped.add_metric([actor], count)
        yield dropped
        queues = snapshot.get("queues")
        if queues:
            depth = GaugeMetricFamily("nommer_queue_messages",
                                      "Messages on each work queue: waiting, or taken and in flight.",
                                      labels=["queue", "state"])
            for name, (waiting, in_flight) in sorted(queues.items()):
                depth.add_metric([name, "waiting"], waiting)
                depth.add_metric([name, "in_flight"], in_flight)
            yield depth
