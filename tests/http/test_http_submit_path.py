"""POST /jobs is served in front of the Flask app (nommer.http.submit_path):
the same answer as the Flask route gives, every failure answered by the app
after one submission, nothing stored twice."""

import time

import flask
import pytest
import structlog
from werkzeug.test import Client
from werkzeug.wrappers import Response

from nommer.core.errors import QueueingLate, TransientError
from nommer.http.app import create_app
from nommer.http.submit_path import SubmitPath

from tests.http.conftest import MAX_BODY

VOLATILE = ("id", "created_at", "updated_at", "links", "history")


class Watched:
    """The test's API, recording for each submit whether Flask was serving it."""

    def __init__(self, api, fail_with=None):
        self.api = api
        self.fail_with = fail_with
        self.calls = []

    def __getattr__(self, name):
        return getattr(self.api, name)

    def submit(self, *args, **kwargs):
        self.calls.append("flask" if flask.has_request_context() else "submit path")
        if self.fail_with is not None:
            raise self.fail_with
        return self.api.submit(*args, **kwargs)


def _body(source, dest):
    return {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]}


def _comparable(answer):
    job = answer.get_json()
    return {k: v for k, v in job.items() if k not in VOLATILE}


def test_a_submission_is_answered_in_front_of_flask_as_the_flask_route_answers(api, source, media):
    watched = Watched(api)
    app = create_app(watched, max_body_bytes=MAX_BODY)
    assert isinstance(app.wsgi_app, SubmitPath)
    fast = app.test_client().post("/jobs", json=_body(source, (media / "a.mp4").as_uri()))
    # The Flask app alone, as it answers what the submit path passes on.
    flask_only = Client(app.wsgi_app.app, Response)
    routed = flask_only.post("/jobs", json=_body(source, (media / "b.mp4").as_uri()))
    assert watched.calls == ["submit path", "flask"]
    assert (fast.status, routed.status) == ("201 CREATED", "201 CREATED")

    def headers(answer):
        return [(k, v) for k, v in answer.headers.items() if k not in ("Location", "Content-Length")]

    assert headers(fast) == headers(routed)
    assert headers(fast)[0] == ("Content-Type", "application/json")
    assert ("Cache-Control", "no-store") in headers(fast) and ("X-Content-Type-Options", "nosniff") in headers(fast)
    assert fast.headers["Location"] == f"/jobs/{fast.get_json()['id']}"
    assert int(fast.headers["Content-Length"]) == len(fast.data)
    assert fast.data.endswith(b"\n") and b", " not in fast.data  # compact, as Flask writes it
    a, b = _comparable(fast), _comparable(routed)
    assert a["outputs"][0]["destination"].endswith("a.mp4") and b["outputs"][0]["destination"].endswith("b.mp4")
    a["outputs"][0]["destination"] = b["outputs"][0]["destination"]
    assert a == b
    assert api.get(fast.get_json()["id"]).state.value == "PENDING"


def test_a_refused_submission_is_answered_by_the_app_after_one_try(api, source, media, stored_jobs):
    watched = Watched(api)
    client = create_app(watched, max_body_bytes=MAX_BODY).test_client()
    body = {"source": source, "outputs": [{"destination": (media / "c.mp4").as_uri(), "preset": "no-such-preset"}]}
    answer = client.post("/jobs", json=body)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["field"] == "outputs[0].preset" and "no-such-preset" in error["message"]
    assert watched.calls == ["submit path"]  # not submitted again by the Flask route
    assert stored_jobs() == 0


def test_a_store_that_cannot_write_gets_503_after_one_try(api, source, media, stored_jobs):
    watched = Watched(api, fail_with=TransientError("database nommer.sqlite3 stayed locked for 5 s"))
    client = create_app(watched, max_body_bytes=MAX_BODY).test_client()
    answer = client.post("/jobs", json=_body(source, (media / "d.mp4").as_uri()))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "stayed locked" in answer.get_json()["error"]["message"]
    assert watched.calls == ["submit path"]
    assert stored_jobs() == 0


@pytest.mark.parametrize("data, field, words", [
    (b"{not json", "body", "not valid JSON"),
    (b"   ", "body", "is empty"),
    (b'{"source": 5, "outputs": []}', "source", ""),
])
def test_a_body_the_submit_path_cannot_read_is_refused_by_the_app_with_its_field(api, data, field, words,
                                                                                stored_jobs):
    watched = Watched(api)
    client = create_app(watched, max_body_bytes=MAX_BODY).test_client()
    answer = client.post("/jobs", data=data, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["field"] == field and words in error["message"]
    assert watched.calls == [] and stored_jobs() == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(api, source, media, stored_jobs):
    watched = Watched(api)
    client = create_app(watched, max_body_bytes=200).test_client()
    body = _body(source, (media / ("e" * 300 + ".mp4")).as_uri())
    answer = client.post("/jobs", json=body)
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "TOO_LARGE"
    assert watched.calls == [] and stored_jobs() == 0


def test_a_caller_without_a_token_is_refused_by_the_app(api, source, media, stored_jobs):
    watched = Watched(api)
    client = create_app(watched, max_body_bytes=MAX_BODY, api_tokens=["t" * 32]).test_client()
    answer = client.post("/jobs", json=_body(source, (media / "f.mp4").as_uri()))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    allowed = client.post("/jobs", json=_body(source, (media / "g.mp4").as_uri()),
                          headers={"Authorization": "Bearer " + "t" * 32})
    assert allowed.status_code == 201
    assert watched.calls == ["submit path"] and stored_jobs() == 1


class Late(Watched):
    """Stores each job, then says its queue message was not written in time."""

    def submit(self, *args, **kwargs):
        self.calls.append("flask" if flask.has_request_context() else "submit path")
        job = self.api.submit(*args, **kwargs)
        raise QueueingLate(job, "database queues.sqlite3 stayed locked for 10 s")


def test_a_job_stored_whose_queue_message_is_late_is_answered_202_with_the_job(api, source, media, stored_jobs):
    late = Late(api)
    client = create_app(late, max_body_bytes=MAX_BODY).test_client()
    answer = client.post("/jobs", json=_body(source, (media / "h.mp4").as_uri()))
    assert answer.status_code == 202
    job = answer.get_json()
    assert job["state"] == "PENDING" and answer.headers["Location"] == f"/jobs/{job['id']}"
    assert api.get(job["id"]).state.value == "PENDING"
    assert late.calls == ["submit path"] and stored_jobs() == 1  # kept once, not submitted again


def test_a_legacy_submission_whose_queue_message_is_late_is_a_success(api, source, dest, stored_jobs):
    from tests.http.test_http_legacy import WEB_MEDIUM

    late = Late(api)
    client = create_app(late, max_body_bytes=MAX_BODY).test_client()
    answer = client.post("/job/submit", json={"source_path": source, "dest_path": dest, "notify_url": None,
                                              "job_options": WEB_MEDIUM})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["success"] is True and api.get(body["job_id"]).state.value == "PENDING"
    assert stored_jobs() == 1



class Slow:
    """``inner``, each submit ``seconds`` late (a store locked by another writer)."""

    def __init__(self, inner, seconds):
        self.inner = inner
        self.seconds = seconds

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.inner.submit(*args, **kwargs)


@pytest.mark.parametrize("failing", [
    lambda api: Watched(api, fail_with=TransientError("database nommer.sqlite3 stayed locked for 5 s")),
    Late,
], ids=["503", "202"])
def test_the_access_line_of_a_submission_answered_by_the_app_counts_the_submission_s_time(
        api, source, media, failing):
    client = create_app(Slow(failing(api), 0.25), max_body_bytes=MAX_BODY).test_client()
    with structlog.testing.capture_logs() as logs:
        answer = client.post("/jobs", json=_body(source, (media / "i.mp4").as_uri()))
    assert answer.status_code in (202, 503)
    lines = [e for e in logs if e["event"] == "request"]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [("POST", "/jobs", answer.status_code)]
    # the 0.25 s the submission took before it failed, not only the app's share of the request
    assert lines[0]["ms"] >= 250


def test_a_body_sent_in_chunks_is_left_to_the_app_to_read(api, source, media):
    watched = Watched(api)
    client = create_app(watched, max_body_bytes=MAX_BODY).test_client()
    # waitress takes the chunks apart and drops the header before the app
    # sees it; a server that leaves it is trusted for nothing here.
    answer = client.post("/jobs", json=_body(source, (media / "j.mp4").as_uri()),
                         headers={"Transfer-Encoding": "chunked"},
                         environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 201, answer.get_json()
    assert watched.calls == ["flask"]
