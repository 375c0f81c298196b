"""Failures that are not the user's input: routes, methods, crashes, timeouts."""

import pytest
import structlog

from nommer.core.errors import AlreadyExists, Unavailable


def test_an_unknown_route_is_json_404(client):
    answer = client.get("/nothing/here")

    assert answer.status_code == 404
    assert answer.is_json
    assert answer.get_json()["error"]["code"] == "NOT_FOUND"
    assert answer.get_json()["error"]["field"] == "path"


def test_a_wrong_method_is_json_405_naming_the_allowed_ones(client):
    answer = client.delete("/jobs")

    assert answer.status_code == 405
    assert answer.is_json
    assert answer.get_json()["error"]["message"] == "method: DELETE is not allowed on /jobs (allowed: GET, POST)"
    assert answer.get_json()["error"]["field"] == "method"


def test_a_crash_is_a_generic_500_and_the_traceback_goes_to_the_log(client, api, monkeypatch):
    def crash(job_id):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(api, "get", crash)

    with structlog.testing.capture_logs() as logs:
        answer = client.get("/jobs/0123456789abcdef0123")

    assert answer.status_code == 500
    assert answer.is_json
    assert b"hunter2" not in answer.data and b"Traceback" not in answer.data
    assert answer.get_json()["error"]["code"] == "INTERNAL"
    [entry] = [e for e in logs if e["event"] == "request failed"]
    assert isinstance(entry["exc_info"], RuntimeError)
    assert entry["reference"] in answer.get_json()["error"]["message"]


def test_a_crash_in_the_legacy_route_keeps_the_legacy_shape(post, api, monkeypatch):
    monkeypatch.setattr(api, "submit", lambda *a, **kw: 1 / 0)

    with structlog.testing.capture_logs():
        answer = post("/job/submit", {"source_path": "file:///x", "dest_path": "file:///y", "job_options": {"nommer": "ffmpeg", "options": [{}]}})

    assert answer.status_code == 500
    assert answer.get_json()["success"] is False
    assert "division" not in answer.get_json()["message"]


@pytest.mark.parametrize("path", ["/jobs", "/fleet", "/health"])
def test_an_unavailable_feeder_is_503(client, api, monkeypatch, path):
    def busy(*args):
        raise Unavailable("the JobTracker did not answer within 10 s; try again")

    for name in ("list", "fleet", "health"):
        monkeypatch.setattr(api, name, busy)

    answer = client.get(path)

    assert answer.status_code == 503
    assert answer.get_json()["error"] == {
        "code": "UNAVAILABLE",
        "field": None,
        "message": "the JobTracker did not answer within 10 s; try again",
    }


def test_an_existing_job_is_409(post, api, monkeypatch, source, dest):
    def exists(*args, **kwargs):
        raise AlreadyExists("job 0123456789abcdef0123 already exists")

    monkeypatch.setattr(api, "submit", exists)

    answer = post("/jobs", {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]})

    assert answer.status_code == 409


def test_the_default_body_limit_is_a_million_bytes(api, source, dest):
    from nommer.http.app import create_app

    client = create_app(api).test_client()
    padding = "x" * 1_000_000

    answer = client.post("/jobs", data=f'{{"source": "{source}", "pad": "{padding}"}}')

    assert answer.status_code == 413
    assert answer.get_json()["error"]["field"] == "body"
