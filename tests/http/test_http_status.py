"""GET /fleet, /health and /metrics pass on what the api reports."""

from nommer.core.feeder.api_types import FleetReport, HealthReport, mismatches


def test_the_double_answers_in_the_feeders_shapes(api):
    # The same types a running feeder's answers are checked against
    # (tests/actors/test_gateway_shapes.py), sick and well.
    assert mismatches(api.fleet(), FleetReport) == []
    assert mismatches(api.health()[1], HealthReport) == []
    api.healthy = False
    assert mismatches(api.health()[1], HealthReport) == []


def test_fleet_answers_the_api_fleet(client, api):
    answer = client.get("/fleet")

    assert answer.status_code == 200
    assert answer.get_json() == api.fleet()


def test_health_is_200_when_healthy(client, api):
    answer = client.get("/health")

    assert answer.status_code == 200
    assert answer.get_json()["actors"] == api.health()[1]["actors"]


def test_health_is_503_with_the_report_when_not(client, api):
    api.healthy = False

    answer = client.get("/health")

    assert answer.status_code == 503
    assert answer.get_json()["status"] == "degraded"
    assert answer.get_json()["actors"]["job_tracker"]["state"] == "restarting"


def test_metrics_count_jobs_by_state(client, submit, api):
    from prometheus_client.parser import text_string_to_metric_families

    submit(), submit()
    api.cancel(submit()["id"])

    answer = client.get("/metrics")

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    found = {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    jobs = {s.labels["state"]: s.value for s in found["nommer_jobs"].samples}
    assert (jobs["PENDING"], jobs["CANCELED"], jobs["FINISHED"]) == (2, 1, 0)
    assert [s.value for s in found["nommer_healthy"].samples] == [1]


def test_fleet_retry_asks_the_api_and_is_documented_behind_the_token(client, api):
    answer = client.post("/fleet/retry")

    assert answer.status_code == 200 and answer.get_json() == {"retried": True}
    assert api.retried == 1
    operation = client.get("/openapi.json").get_json()["paths"]["/fleet/retry"]["post"]
    assert "401" in operation["responses"] and operation.get("security") != []
