"""Credentials in URIs: redaction in text and logs, sealing in the store."""

import io
import json
import logging

import pytest
from cryptography.fernet import Fernet

from nommer.core.security import credentials

from nommer.core import log
from nommer.core.security.credentials import SecretBox, real_uris, scrub, seal_uris
from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.model.jobs import Job

SECRETS = ("S3CRETKEY", "pa55word", "sig-abc123", "t0k3n")


def test_scrub_finds_uris_anywhere_in_text():
    text = ("cannot download https://alice:pa55word@cdn.example/a.mov: refused; "
            "tried 's3://AKIA:S3CRETKEY@bucket/k' and <https://h/x?sig=sig-abc123&a=1>")
    clean = scrub(text)
    assert not any(secret in clean for secret in SECRETS)
    assert "https://alice:***@cdn.example/a.mov" in clean and "a=1" in clean


def test_scrub_copes_with_broken_uris():
    assert "pa55word" not in scrub("see http://u:pa55word@[::1/x")


@pytest.fixture
def restore_logging():
    yield
    import structlog

    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_nommer", False)]:
        root.removeHandler(handler)


def test_the_log_has_no_secret_anywhere_in_an_event(restore_logging):
    out = io.StringIO()
    log.configure("json", "debug", stream=out)
    try:
        raise RuntimeError("fetch of https://u:pa55word@h/x failed")
    except RuntimeError:
        log.get("test").exception(
            "https://u:pa55word@h/x went wrong", job_id="j1",
            source="s3://AKIA:S3CRETKEY@b/k", nested={"urls": ["https://h/x?token=t0k3n"]},
        )
    logging.getLogger("waitress").warning("request for http://u:pa55word@h/ failed")

    written = out.getvalue()
    assert not any(secret in written for secret in SECRETS)
    event = json.loads(written.splitlines()[0])
    assert event["job_id"] == "j1"
    assert event["source"] == "s3://***:***@b/k"  # for s3, the key id goes too
    assert "RuntimeError" in event["exception"]  # the traceback is kept, redacted
    assert "request for http://u:***@h/ failed" in written


@pytest.fixture
def box():
    return SecretBox(Fernet.generate_key().decode())


def test_uris_with_credentials_are_sealed_and_shown_redacted(box):
    outputs = [{"destination": "s3://AKIA:S3CRETKEY@bucket/out.mp4", "preset": "p"}]
    source, shown, notify, sealed = seal_uris(
        box, "https://alice:pa55word@cdn/a.mov", outputs, "https://app/hook?token=t0k3n")
    job = Job.new(source, shown, notify, sealed=sealed)

    stored = json.dumps(job.to_dict())
    assert not any(secret in stored for secret in SECRETS)
    assert real_uris(box, job) == {
        "source": "https://alice:pa55word@cdn/a.mov",
        "destinations": ["s3://AKIA:S3CRETKEY@bucket/out.mp4"],
        "notify_url": "https://app/hook?token=t0k3n",
    }


def test_plain_uris_are_not_sealed(box):
    outputs = [{"destination": "file:///m/out.mp4", "preset": "p"}]
    assert seal_uris(box, "file:///m/in.mov", outputs, None) == ("file:///m/in.mov", outputs, None, None)


def test_a_rotated_key_still_opens_what_the_old_one_sealed(box):
    old = Fernet.generate_key().decode()
    _, _, _, sealed = seal_uris(SecretBox(old), "https://u:pa55word@h/a", [], None)
    job = Job.new("https://u:***@h/a", [], sealed=sealed)

    assert real_uris(SecretBox(Fernet.generate_key().decode() + "," + old), job)["source"] == (
        "https://u:pa55word@h/a")


def test_a_sealed_job_without_the_key_fails_with_a_reason(box):
    _, _, _, sealed = seal_uris(box, "https://u:pa55word@h/a", [], None)
    job = Job.new("https://u:***@h/a", [], sealed=sealed)

    with pytest.raises(JobFailed, match="no secret_key") as e:
        real_uris(None, job)
    assert e.value.code == "SECRET_KEY"
    with pytest.raises(JobFailed, match="cannot be decrypted"):
        real_uris(SecretBox(Fernet.generate_key().decode()), job)


def test_without_a_key_credentials_are_refused_naming_the_field():
    with pytest.raises(InvalidInput) as e:
        credentials.refuse_without_key(None, [("source", "file:///a"),
                                              ("outputs[0].destination", "s3://K:S@b/k")])
    assert e.value.field == "outputs[0].destination"
    assert "secret_key" in str(e.value) and "S@" not in str(e.value)


@pytest.mark.parametrize("name", [
    "client_secret", "private_token", "access_key", "session", "jwt", "X-Amz-Signature",
    "X-Amz-Credential", "AWSAccessKeyId", "Password", "passwd", "pwd", "sig", "SessionId",
    "credential", "auth", "apiKey", "refresh%5Ftoken",
])
def test_any_query_parameter_named_like_a_credential_is_a_secret(name):
    uri = f"https://cdn.example/a.mov?width=640&{name}=hunter22&h=360"

    assert credentials.redact(uri) == f"https://cdn.example/a.mov?width=640&{name}=***&h=360"
    assert credentials.carries_secret(uri)
    assert "hunter22" not in scrub(f"cannot fetch {uri}: refused")


def test_plain_query_parameters_stay():
    uri = "https://cdn.example/a.mov?width=640&h=360&format=mp4"
    assert credentials.redact(uri) == uri and not credentials.carries_secret(uri)


@pytest.mark.parametrize("uri", [
    "https://cdn.example/a.mov#access_token=hunter22",
    "https://cdn.example/a.mov?w=1#hunter22",
    "http://u:pw@[::1/x#hunter22",  # not parseable: everything after '#' goes
])
def test_a_fragment_is_a_secret(uri, box):
    assert "hunter22" not in credentials.redact(uri)
    assert credentials.carries_secret(uri)
    source, _, _, sealed = seal_uris(box, uri, [], None)
    assert "hunter22" not in source and sealed
    with pytest.raises(InvalidInput, match="secret_key"):
        credentials.refuse_without_key(None, [("source", uri)])


def test_refusals_show_no_user_name_either():
    assert credentials.shown("https://alice:pa55word@cdn/a") == "https://***@cdn/a"
    assert credentials.shown("file://alice:pa55word@host/a") == "file://***@host/a"
    assert "alice" not in scrub("see http://alice:pa55word@h/x", keep_user=False)
    # logs and answers keep the user name: it says which account
    assert credentials.redact("https://alice:pa55word@cdn/a") == "https://alice:***@cdn/a"


def _scrub_deep_plainly(value):
    # scrub_deep as it reads: every string scrubbed, every container rebuilt
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_deep_plainly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_deep_plainly(v) for v in value)
    return value


class _Text(str):
    pass


def test_scrub_deep_scrubs_every_string_at_any_depth_and_keeps_the_rest():
    secret = "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/key.mp4"
    value = {
        "id": "j1", "progress": 50, "ratio": 0.5, "done": False, "none": None,
        "source": "https://user:hunter2@cdn.example/a.mov?token=abc",
        "details": f"could not read {secret}: denied",
        "outputs": [{"destination": secret, "result": {"files": [secret, "file:///m/b.mp4"]}}],
        "history": [["PENDING", "t"], ("ERROR", f"at {secret}")],
        "sub": _Text(f"see {secret}"),
        "nested": [[[{"deep": [f"x {secret}"]}]]],
    }
    scrubbed = credentials.scrub_deep(value)

    assert scrubbed == _scrub_deep_plainly(value)
    text = json.dumps(scrubbed)
    assert "hunter2" not in text and "wJalrXUtnFEMI" not in text and "abc" not in text
    assert scrubbed["progress"] == 50 and scrubbed["done"] is False and scrubbed["none"] is None
    assert isinstance(scrubbed["history"][1], tuple)
    assert scrubbed["outputs"][0]["result"]["files"][1] == "file:///m/b.mp4"
    assert value["outputs"][0]["destination"] == secret  # the value given is left as it was


@pytest.mark.parametrize("uri", [
    "https://media.example.com/a.mp4?X-Amz-Signature=0123abcd&X-Amz-Credential=AKIAEXAMPLE",
    "https://media.example.com/a.mp4?token=s3cr3t",
    "https://media.example.com/a.mp4#access_token=s3cr3t",
    "https://user:s3cr3t@media.example.com/a.mp4",
    "s3://AKIAEXAMPLE:s3cr3t/with/slashes@bucket/a.mp4",
])
def test_the_schemes_remembered_of_uris_seen_hold_no_uri_with_a_secret(uri):
    from nommer.core.ports import storage

    assert storage.scheme_of(uri) in ("https", "s3")
    assert storage.scheme_of(uri) in ("https", "s3")  # asked again, as a submission does
    assert not [kept for kept in storage._schemes if "s3cr3t" in kept or "0123abcd" in kept]
    plain = "https://media.example.com/plain.mp4"
    assert storage.scheme_of(plain) == "https" and plain in storage._schemes
