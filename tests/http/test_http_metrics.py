"""GET /metrics in Prometheus' text format, parsed back as Prometheus does."""

from prometheus_client.parser import text_string_to_metric_families

from nommer.core.model.jobs import State


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(found, family, **labels):
    [value] = [s.value for s in found[family].samples
               if s.name == family and all(s.labels.get(k) == v for k, v in labels.items())] or [None]
    return value


def test_every_family_has_help_and_a_grafana_ready_name(client):
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    text = answer.get_data(as_text=True)
    found = families(text)
    for name in ("nommer_healthy", "nommer_jobs", "nommer_encoders", "nommer_jobs_submitted",
                 "nommer_jobs_ended", "nommer_webhook_deliveries", "nommer_encoder_launches",
                 "nommer_encoder_launch_failures", "nommer_job_queue_wait_seconds",
                 "nommer_job_phase_seconds", "nommer_job_duration_seconds",
                 "process_resident_memory_bytes"):
        assert name in found, name
    helps = [line for line in text.splitlines() if line.startswith("# HELP ")]
    assert len(helps) == len(found)
    assert all(len(line.split(" ", 3)[3]) > 10 for line in helps)
    counters = [f for f in found.values() if f.type == "counter"]
    assert counters and all(s.name.endswith(("_total", "_created")) for f in counters for s in f.samples)


def test_jobs_by_state_list_every_state_and_follow_the_store(client, submit):
    before = families(client.get("/metrics").get_data(as_text=True))
    assert {s.labels["state"] for s in before["nommer_jobs"].samples} == {s.value for s in State}
    assert sample(before, "nommer_jobs", state="PENDING") == 0
    assert sample(before, "nommer_healthy") == 1
    submit()
    submit()
    after = families(client.get("/metrics").get_data(as_text=True))
    assert sample(after, "nommer_jobs", state="PENDING") == 2


def test_a_down_feeder_reads_unhealthy(client, api):
    api.healthy = False
    assert sample(families(client.get("/metrics").get_data(as_text=True)), "nommer_healthy") == 0
