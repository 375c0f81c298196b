"""mismatches() says where an answer differs from the shape it should have."""

from nommer.core.feeder.api_types import FleetReport, HealthReport, mismatches


def healthy():
    return {"status": "ok", "metrics": {"jobs": {"PENDING": 1}},
            "actors": {"job_tracker": {"state": "running", "restarts": 0, "last_error": None}}}


def test_a_report_of_the_declared_shape_matches():
    assert mismatches(healthy(), HealthReport) == []
    assert mismatches({**healthy(), "problems": [{"kind": "launch_error", "at": None, "reason": "r"}],
                       "undelivered_messages": {"Enqueue": 2}}, HealthReport) == []


def test_missing_and_undeclared_keys_are_named_with_where_they_are():
    report = healthy()
    del report["status"]
    report["ok"] = True
    report["metrics"]["encoders"] = 1
    del report["actors"]["job_tracker"]["restarts"]

    assert mismatches(report, HealthReport) == [
        "answer: missing 'status'",
        "answer: undeclared 'ok'",
        "answer.actors['job_tracker']: missing 'restarts'",
        "answer.metrics: undeclared 'encoders'",
    ]


def test_values_of_another_type_are_named():
    report = healthy()
    report["actors"] = {"JobTracker": "running"}
    report["metrics"]["jobs"] = {"PENDING": "1"}

    assert mismatches(report, HealthReport) == [
        "answer.actors['JobTracker']: str, not an object",
        "answer.metrics.jobs['PENDING']: '1' is not a int",
    ]


def test_lists_and_optional_values_are_checked_item_by_item():
    member = {"id": "e1", "state": "running", "started_at": "t", "detail": "", "market": "", "busy_until": None}
    fleet = {"members": [member, {**member, "busy_until": 5}], "encoders": [], "scaler": {"decision": None}}

    assert mismatches(fleet, FleetReport) == ["answer.members[1].busy_until: 5 is not a str"]
