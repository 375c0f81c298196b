"""Webhook deliveries against a real receiver on loopback: signatures,
retries with a capped backoff, refusals, and the record kept on the job."""

import base64
import json
import urllib.parse

import pytest
import structlog

from nommer.core.feeder import notify

from nommer.core.security import signing
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.model.jobs import Job, State
from nommer.core.feeder.connections import ConnectionPool
from nommer.core.security.netguard import AddressPolicy
from nommer.core.feeder.service import JobService
from nommer.testing.receiver import Receiver
from tests import documented

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_the_standard_webhooks_example_signature():
    # The example of the Standard Webhooks specification.
    key = signing.secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert signing.signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                             b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret, words", [
    ("whsec_not base64!", "base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
])
def test_a_bad_secret_says_what_is_wrong(secret, words):
    with pytest.raises(ValueError, match=words):
        signing.secret_bytes(secret)


def test_verify_refuses_a_changed_body_an_old_timestamp_and_a_wrong_key():
    key = signing.secret_bytes(SECRET)
    headers = signing.headers(key, "msg_1", b"{}", now=1000)
    assert signing.verify(key, headers, b"{}", now=1000)
    assert not signing.verify(key, headers, b"{ }", now=1000)
    assert not signing.verify(key, headers, b"{}", now=1000 + 301)
    assert not signing.verify(b"x" * 32, headers, b"{}", now=1000)


def test_backoff_doubles_up_to_the_cap():
    delays = notify.backoff_delays(0.5, 3.0)
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


_documented = documented.verify_webhook()


def _verify(secret, headers, body):
    # The receiver of docs/security.md, run as it is printed there.
    return _documented(secret, {k.lower(): v for k, v in headers.items()}, body)


@pytest.fixture
def receivers():
    """Makes receivers answering with ``statuses`` (then 204) that verify
    the signature with ``key`` as docs/security.md tells receivers to."""
    made = []

    def make(statuses=(), key=None, redirect=None):
        verify = (lambda headers, body: _verify(key, headers, body)) if key is not None else None
        made.append(Receiver(statuses, redirect=redirect, verify=verify))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


def send(url, *, attempts=4, backoff=0.05, backoff_max=0.1, key=None, policy=None):
    body = json.dumps({"job_id": "j1", "state": "FINISHED"}).encode()
    pool = ConnectionPool(policy or AddressPolicy(["127.0.0.0/8"]))
    try:
        return notify.deliver(
            pool, url, body, "application/json",
            msg_id="msg_test", state="FINISHED", attempts=attempts, timeout=5,
            backoff=backoff, backoff_max=backoff_max, log=structlog.get_logger(), key=key,
        )
    finally:
        pool.close()


def test_a_signed_delivery_verifies_at_the_receiver(receivers):
    receiver = receivers(key=SECRET)

    record = send(receiver.url, key=signing.secret_bytes(SECRET))

    assert record["status"] == 204 and record["attempts"] == 1 and record["delivered_at"]
    [post] = receiver.posts
    assert post["verified"] is True
    assert post["headers"]["webhook-id"] == "msg_test"


def test_no_secret_no_signature_headers(receivers):
    receiver = receivers()
    send(receiver.url)
    assert "webhook-signature" not in receiver.posts[0]["headers"]


def test_retries_back_off_keep_the_id_and_re_sign(receivers):
    receiver = receivers(statuses=(500, 503), key=SECRET)

    record = send(receiver.url, key=signing.secret_bytes(SECRET), backoff=0.2, backoff_max=0.3)

    assert record == {"id": "msg_test", "state": "FINISHED", "attempts": 3, "status": 204,
                      "delivered_at": record["delivered_at"]}
    assert [p["headers"]["webhook-id"] for p in receiver.posts] == ["msg_test"] * 3
    assert all(p["verified"] for p in receiver.posts)
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.posts, receiver.posts[1:])]
    assert 0.18 <= gaps[0] < 0.3 and 0.28 <= gaps[1] < 0.45  # 0.2, then capped at 0.3


def test_giving_up_says_why(receivers):
    receiver = receivers(statuses=(500,) * 5)
    record = send(receiver.url, attempts=3)
    assert record["attempts"] == 3 and record["status"] == 500
    assert record["error"] == "HTTP 500; gave up after 3 attempts"


@pytest.mark.parametrize("status, words", [(410, "HTTP 410"), (302, "redirects are not followed")])
def test_a_refusal_or_a_redirect_is_not_retried(receivers, status, words):
    receiver = receivers(statuses=(status,), redirect="http://169.254.169.254/")
    record = send(receiver.url)
    assert record["attempts"] == 1 and words in record["error"]
    assert len(receiver.posts) == 1


def test_a_refused_address_is_never_contacted(receivers):
    receiver = receivers()
    record = send(receiver.url, policy=AddressPolicy())
    assert record["attempts"] == 1 and "loopback" in record["error"]
    assert receiver.posts == []


def test_delivery_records_are_kept_on_the_job(tmp_path):
    store = SqliteJobStore(tmp_path / "db.sqlite3")
    service = JobService(store, storage=None)
    job = store.create(Job.new("file:///m/a.mov", [{"destination": "file:///m/b.mp4", "preset": "p"}],
                               notify_url="https://app.example/hook"))
    job = store.update(job.transition(State.CANCELED))

    service.record_notification(job.id, {"id": "m1", "state": "PENDING", "attempts": 1, "status": 204,
                                         "delivered_at": "t"})
    service.record_notification(job.id, {"id": "m2", "state": "CANCELED", "attempts": 5, "status": None,
                                         "error": "timed out"})
    stored = store.get(job.id)

    assert [n["id"] for n in stored.notifications] == ["m1", "m2"]
    assert stored.updated_at == job.updated_at  # telling about a job is no activity of it
    assert service.record_notification("0" * 20, {"id": "m3"}) is None
    store.close()


# media-nommer's receivers: form fields, as its feederd sent them.

def change(state, details="", event="job.state_changed"):
    return {"event": event, "job_id": "j1", "state": state, "details": details, "at": "t"}


@pytest.mark.parametrize("state", ["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED", "ERROR"])
def test_json_receivers_are_told_every_state(state):
    assert notify.wanted(change(state), "json")


@pytest.mark.parametrize("state, told", [
    ("PENDING", False), ("DOWNLOADING", True), ("ENCODING", True), ("UPLOADING", True),
    ("FINISHED", True), ("ERROR", True), ("ABANDONED", True),
])
def test_form_receivers_are_never_told_pending_as_media_nommer_did(state, told):
    assert notify.wanted(change(state), "form") is told


def test_form_receivers_get_no_progress_events():
    assert notify.wanted(change("ENCODING", event="job.progress"), "json")
    assert not notify.wanted(change("ENCODING", event="job.progress"), "form")


def form_of(state, details):
    data, content_type = notify.encode(notify.payload(change(state, details), {"id": "j1"}), "form")
    assert content_type == "application/x-www-form-urlencoded"
    return dict(urllib.parse.parse_qsl(data.decode(), keep_blank_values=True))


def test_a_finished_form_notification_has_empty_details_and_only_media_nommers_fields():
    form = form_of("FINISHED", "option -vcodec is now -c:v")

    assert form == {"unique_id": "j1", "job_state": "FINISHED", "job_state_details": ""}


def test_an_error_form_notification_carries_the_error():
    form = form_of("ERROR", "ffmpeg failed: Unknown encoder 'libfoo'")

    assert form["job_state"] == "ERROR"
    assert form["job_state_details"] == "ffmpeg failed: Unknown encoder 'libfoo'"


def test_json_notifications_keep_the_notes_of_a_finished_job():
    body = json.loads(notify.encode(notify.payload(change("FINISHED", "option -b is now -b:v"), {}), "json")[0])

    assert body["details"] == body["job_state_details"] == "option -b is now -b:v"
