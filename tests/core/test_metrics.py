"""The feeder's counters and histograms, moved by the events the actors see."""

import datetime

from prometheus_client.parser import text_string_to_metric_families

from nommer.core.model.jobs import Job, State
from nommer.core.feeder.metrics import FeederMetrics


def value(metrics, name, **labels):
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no sample {name} {labels}")


def at(job, seconds):
    created = datetime.datetime.fromisoformat(job.created_at.replace("Z", "+00:00"))
    return (created + datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_a_job_through_every_phase_is_timed_phase_by_phase():
    metrics = FeederMetrics()
    job = Job.new("file:///in.mov", [{"destination": "file:///out.mp4", "preset": "aac"}])
    metrics.job_submitted(job)
    for state, seconds in (("DOWNLOADING", 3), ("ENCODING", 5), ("ENCODING", 6), ("UPLOADING", 15),
                           ("FINISHED", 16)):
        metrics.job_changed(job, state, at(job, seconds))

    assert value(metrics, "nommer_jobs_submitted_total", api="jobs") == 1
    assert value(metrics, "nommer_job_queue_wait_seconds_count") == 1
    assert value(metrics, "nommer_job_queue_wait_seconds_sum") == 3
    assert value(metrics, "nommer_job_phase_seconds_sum", phase="download") == 2
    assert value(metrics, "nommer_job_phase_seconds_sum", phase="encode") == 10  # ENCODING told twice
    assert value(metrics, "nommer_job_phase_seconds_count", phase="encode") == 1
    assert value(metrics, "nommer_job_phase_seconds_sum", phase="upload") == 1
    assert value(metrics, "nommer_job_duration_seconds_sum", state="FINISHED") == 16
    assert value(metrics, "nommer_jobs_ended_total", state="FINISHED", error_code="") == 1


def test_a_final_state_told_twice_is_counted_once_and_errors_carry_their_code():
    metrics = FeederMetrics()
    job = Job.new("file:///in.mov", [{"destination": "file:///out.mp4", "preset": "aac"}])
    failed = job.transition(State.DOWNLOADING).transition(State.ERROR, error_code="SOURCE_UNREADABLE")
    metrics.job_changed(failed, "ERROR", at(job, 2))
    metrics.job_changed(failed, "ERROR", at(job, 3))
    assert value(metrics, "nommer_jobs_ended_total", state="ERROR", error_code="SOURCE_UNREADABLE") == 1
    assert value(metrics, "nommer_job_duration_seconds_count", state="ERROR") == 1


def test_webhooks_launches_and_legacy_submissions():
    metrics = FeederMetrics()
    metrics.webhook_ended(True)
    metrics.webhook_ended(True)
    metrics.webhook_ended(False)
    metrics.encoders_launched(3)
    metrics.encoder_launch_failed()
    legacy = Job.new("file:///in.mov", [{"destination": "file:///out.mp4", "preset": "aac"}],
                     notify_format="form")
    metrics.job_submitted(legacy)
    assert value(metrics, "nommer_webhook_deliveries_total", outcome="delivered") == 2
    assert value(metrics, "nommer_webhook_deliveries_total", outcome="failed") == 1
    assert value(metrics, "nommer_encoder_launches_total") == 3
    assert value(metrics, "nommer_encoder_launch_failures_total") == 1
    assert value(metrics, "nommer_jobs_submitted_total", api="legacy") == 1


def test_gauges_are_read_at_each_scrape():
    metrics = FeederMetrics()
    seen = {"healthy": True, "jobs": {"ENCODING": 2}, "encoders": {"running": 3},
            "queues": {"new_jobs": (5, 1)}, "undelivered": {"Scaler": 2},
            "pieces": {"WAITING": 1, "PENDING": 6, "RUNNING": 2, "DONE": 0}}
    metrics.watch(lambda: seen)
    assert value(metrics, "nommer_jobs", state="ENCODING") == 2
    assert value(metrics, "nommer_jobs", state="FINISHED") == 0
    assert value(metrics, "nommer_encoders", state="running") == 3
    assert value(metrics, "nommer_queue_messages", queue="new_jobs", state="waiting") == 5
    assert value(metrics, "nommer_actor_messages_undelivered_total", actor="Scaler") == 2
    assert value(metrics, "nommer_pieces", state="RUNNING") == 2
    assert value(metrics, "nommer_pieces", state="DONE") == 0
    seen["jobs"] = {"ENCODING": 1}
    seen["healthy"] = False
    assert value(metrics, "nommer_jobs", state="ENCODING") == 1
    assert value(metrics, "nommer_healthy") == 0
