"""S3Storage against moto's S3 over the wire."""

import json
import logging
import os
import threading

import botocore.awsrequest
import pytest
import structlog.testing

from nommer.core.model import results
from nommer.core import s3uri
from nommer.core.adapters.s3_storage import S3Storage
from nommer.core.errors import Canceled, InvalidInput, JobFailed, TransientError
from nommer.core.ports.storage import StorageRouter

MIB = 1024 * 1024
KEY_ID = "AKIAURIEXAMPLE"
SECRET = "uRi/SeCrEt+K7MDENGbPxRfiCYEXAMPLE"


@pytest.fixture
def storage(aws_endpoint):
    return S3Storage(part_size=5 * MIB)


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.mp4"
    path.write_bytes(os.urandom(12 * MIB + 12345))
    return path


def progress_log():
    seen = []
    return seen, lambda done, total: seen.append((done, total))


def test_multipart_round_trip_with_progress(storage, s3_client, bucket, big_file, tmp_path):
    size = big_file.stat().st_size
    uri = f"s3://{bucket}/out/big.mp4"
    storage.check(uri, write=True, field="destination")
    up, on_up = progress_log()

    assert storage.put(big_file, uri, progress=on_up) == size

    head = s3_client.head_object(Bucket=bucket, Key="out/big.mp4")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # three 5 MiB parts: a multipart upload
    assert head["ContentType"] == "video/mp4"
    assert up[-1] == (size, size)
    assert [done for done, _ in up] == sorted(done for done, _ in up)

    back = tmp_path / "back.mp4"
    down, on_down = progress_log()
    assert storage.fetch(uri, back, progress=on_down) == size
    assert back.read_bytes() == big_file.read_bytes()
    assert down[-1] == (size, size) and len(down) >= 12  # streamed in chunks


def test_small_file_is_one_put(storage, s3_client, bucket, tmp_path):
    src = tmp_path / "small.webm"
    src.write_bytes(b"x" * 1000)

    assert storage.put(src, f"s3://{bucket}/small.webm") == 1000

    head = s3_client.head_object(Bucket=bucket, Key="small.webm")
    assert "-" not in head["ETag"] and head["ContentType"] == "video/webm"


def test_missing_key_and_missing_bucket_are_source_not_found(storage, bucket, unique, tmp_path):
    with pytest.raises(JobFailed) as e:
        storage.fetch(f"s3://{bucket}/no/such.mov", tmp_path / "x")
    assert e.value.code == "SOURCE_NOT_FOUND"
    assert f"s3://{bucket}/no/such.mov" in str(e.value) and "object" in str(e.value)

    with pytest.raises(JobFailed) as e:
        storage.fetch(f"s3://{unique}-gone/in.mov", tmp_path / "x")
    assert e.value.code == "SOURCE_NOT_FOUND"
    assert f"the bucket {unique}-gone does not exist" in str(e.value)


def test_upload_to_a_missing_bucket_fails_the_upload(storage, unique, tmp_path):
    src = tmp_path / "o.mp4"
    src.write_bytes(b"data")
    with pytest.raises(JobFailed) as e:
        storage.put(src, f"s3://{unique}-gone/o.mp4")
    assert e.value.code == "UPLOAD_FAILED"
    assert f"the bucket {unique}-gone does not exist" in str(e.value)


def test_credentials_in_the_uri_work_and_never_show(storage, s3_client, bucket, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "in.mov"
    src.write_bytes(b"media" * 1000)
    uri = f"s3://{KEY_ID}:{SECRET}@{bucket}/in.mov"
    storage.check(uri, write=True, field="destination")

    with structlog.testing.capture_logs() as ours:
        assert storage.put(src, uri) == 5000
        assert storage.fetch(uri, tmp_path / "back.mov") == 5000
        errors = []
        for call in (lambda: storage.fetch(f"s3://{KEY_ID}:{SECRET}@{bucket}/missing.mov", tmp_path / "x"),
                     lambda: storage.put(src, f"s3://{KEY_ID}:{SECRET}@{bucket}-gone/o.mov"),
                     lambda: storage.check(f"s3://{KEY_ID}:{SECRET}@{bucket}/dir/", write=True)):
            with pytest.raises((JobFailed, InvalidInput)) as e:
                call()
            errors.append(str(e.value))
    assert s3_client.get_object(Bucket=bucket, Key="in.mov")["Body"].read() == src.read_bytes()

    assert "s3://***:***@" in errors[0]
    for text in errors:
        assert SECRET not in text and KEY_ID not in text and "K7MDENG" not in text
    # nommer's own log lines name neither key...
    assert [e for e in ours if e.get("uri") == f"s3://***:***@{bucket}/in.mov"]
    assert KEY_ID not in repr(ours) and SECRET not in repr(ours)
    # ...and botocore (which signs with the secret) never logs the secret.
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)


def test_check_makes_no_network_call(monkeypatch):
    # Nothing listens there: a call would fail.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    storage = S3Storage()
    storage.check("s3://bucket-that-does-not-exist/in.mov", write=False, field="source")
    with pytest.raises(InvalidInput) as e:
        storage.check("s3://bucket_/in.mov", write=False, field="source")
    assert e.value.field == "source"


def test_canceled_download_stops(storage, bucket, big_file, tmp_path):
    uri = f"s3://{bucket}/big.mp4"
    storage.put(big_file, uri)
    cancel = threading.Event()

    def on_progress(done, total):
        if done >= 2 * MIB:
            cancel.set()

    with pytest.raises(Canceled):
        storage.fetch(uri, tmp_path / "part.mp4", progress=on_progress, cancel=cancel)
    assert (tmp_path / "part.mp4").stat().st_size < big_file.stat().st_size


def test_canceled_multipart_upload_leaves_nothing(storage, s3_client, bucket, big_file):
    cancel = threading.Event()

    def on_progress(done, total):
        if done >= MIB:
            cancel.set()

    with pytest.raises(Canceled):
        storage.put(big_file, f"s3://{bucket}/big.mp4", progress=on_progress, cancel=cancel)

    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def answer_with(storage, operation, status, code):
    """Fault injection: the next calls of ``operation`` get this HTTP answer
    instead of moto's (moto grants every request and never fails one)."""
    body = (f"<Error><Code>{code}</Code><Message>injected {code}</Message></Error>").encode()

    class Raw:
        def stream(self, **_):
            yield body

    def reply(request, **_):
        return botocore.awsrequest.AWSResponse(request.url, status, {}, Raw())

    storage.client.meta.events.register(f"before-send.s3.{operation}", reply)


def test_access_denied_is_unreadable_or_upload_failed(storage, bucket, tmp_path):
    answer_with(storage, "GetObject", 403, "AccessDenied")
    answer_with(storage, "PutObject", 403, "AccessDenied")
    with pytest.raises(JobFailed) as e:
        storage.fetch(f"s3://{bucket}/in.mov", tmp_path / "x")
    assert e.value.code == "SOURCE_UNREADABLE" and "access denied" in str(e.value)

    src = tmp_path / "o.mp4"
    src.write_bytes(b"data")
    with pytest.raises(JobFailed) as e:
        storage.put(src, f"s3://{bucket}/o.mp4")
    assert e.value.code == "UPLOAD_FAILED" and "access denied" in str(e.value)


def test_throttling_and_server_errors_are_transient(aws_endpoint, bucket, tmp_path):
    # One attempt, so botocore's own retries do not make the test wait.
    storage = S3Storage(retries={"mode": "standard", "max_attempts": 1})
    answer_with(storage, "GetObject", 503, "SlowDown")
    with pytest.raises(TransientError) as e:
        storage.fetch(f"s3://{bucket}/in.mov", tmp_path / "x")
    assert "SlowDown" in str(e.value)


def test_unreachable_endpoint_is_transient(aws_endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    storage = S3Storage(retries={"mode": "standard", "max_attempts": 1})
    with pytest.raises(TransientError):
        storage.fetch("s3://bucket/in.mov", tmp_path / "x")


def test_an_hls_folder_and_its_manifest_are_stored_with_their_types(storage, s3_client, bucket, tmp_path):
    # .ts would go out as a Qt translation file by many hosts' /etc/mime.types.
    folder = tmp_path / "hls"
    folder.mkdir()
    files = {"360p_00000.ts": b"t" * 300, "360p_00001.ts": b"t" * 200,
             "360p.m3u8": b"#EXTM3U\n", "master.m3u8": b"#EXTM3U\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    destination = f"s3://{bucket}/out/hls/"
    router = StorageRouter([storage])
    stored = router.put_folder(str(folder), destination)
    facts = results.ladder_facts(
        [{"name": "360p", "playlist": "360p.m3u8", "duration": 8.0, "width": 640, "height": 360, "bitrate": 500}],
        {"360p.m3u8": [("360p_00000.ts", 6.0), ("360p_00001.ts", 2.0)]},
        {name: len(data) for name, data in files.items()})

    made = results.finish(router, facts, stored, destination, tmp_path / "manifest.json")

    types = {name: s3_client.head_object(Bucket=bucket, Key=f"out/hls/{name}")["ContentType"]
             for name in [*files, results.MANIFEST]}
    assert types == {"360p_00000.ts": "video/mp2t", "360p_00001.ts": "video/mp2t",
                     "360p.m3u8": "application/vnd.apple.mpegurl",
                     "master.m3u8": "application/vnd.apple.mpegurl",
                     results.MANIFEST: "application/json"}
    body = s3_client.get_object(Bucket=bucket, Key=f"out/hls/{made['manifest']}")["Body"].read()
    book = json.loads(body)
    assert [(f["path"], f["size"], f["duration"]) for f in book["files"]] == [
        ("360p_00000.ts", 300, 6.0), ("360p_00001.ts", 200, 2.0), ("360p.m3u8", 8, 8.0), ("master.m3u8", 8, 8.0)]
    assert made["files"] == list(files) and made["size"] == 516
@pytest.fixture
def legacy_bucket(s3_client, unique):
    """A bucket with a legacy us-east-1 name such as media-nommer's docs
    used (nommer_in): upper case and an underscore, no valid host name."""
    name = f"Nommer_In_{unique}"
    s3_client.create_bucket(Bucket=name)  # boto3 addresses it path-style by itself
    return name


def sent_urls(storage, uri):
    """The URLs of the requests the client ``storage`` uses for ``uri`` sends."""
    urls = []
    client = storage._client_for(s3uri.parse(uri))
    client.meta.events.register("before-send.s3", lambda request, **kw: urls.append(request.url))
    return client, urls


def test_a_legacy_bucket_name_round_trips_path_style(storage, s3_client, legacy_bucket, tmp_path):
    uri = f"s3://{legacy_bucket}/in/clip.mov"
    src = tmp_path / "clip.mov"
    src.write_bytes(b"legacy" * 500)
    storage.check(uri, write=True, field="dest_path")
    client, urls = sent_urls(storage, uri)

    assert storage.put(src, uri) == 3000
    assert storage.fetch(uri, tmp_path / "back.mov") == 3000

    assert (tmp_path / "back.mov").read_bytes() == src.read_bytes()
    assert s3_client.get_object(Bucket=legacy_bucket, Key="in/clip.mov")["Body"].read() == src.read_bytes()
    assert client.meta.config.s3["addressing_style"] == "path"
    assert urls and all(f"/{legacy_bucket}/in/clip.mov" in url for url in urls)


def test_a_legacy_bucket_with_credentials_in_the_uri_round_trips(storage, s3_client, legacy_bucket, tmp_path):
    uri = f"s3://{KEY_ID}:{SECRET}@{legacy_bucket}/creds.mov"
    src = tmp_path / "creds.mov"
    src.write_bytes(b"x" * 100)

    assert storage.put(src, uri) == 100
    assert storage.fetch(uri, tmp_path / "back.mov") == 100
    assert s3_client.head_object(Bucket=legacy_bucket, Key="creds.mov")["ContentLength"] == 100
    assert storage._client_for(s3uri.parse(uri)).meta.config.s3["addressing_style"] == "path"


def test_todays_bucket_names_keep_botos_default_addressing(storage, bucket):
    client = storage._client_for(s3uri.parse(f"s3://{bucket}/k.mov"))

    assert client.meta.config.s3["addressing_style"] == "auto"
@pytest.mark.parametrize("key, expected", [
    ("hls/segment_00001.ts", "video/mp2t"),
    ("hls/index.m3u8", "application/vnd.apple.mpegurl"),
    ("dash/chunk-1.m4s", "video/iso.segment"),
    ("dash/manifest.mpd", "application/dash+xml"),
    ("subs/en.vtt", "text/vtt"),
    ("thumbs/0001.JPG", "image/jpeg"),
    ("audio.opus", "audio/ogg"),
    ("odd.bin", "application/octet-stream"),
])
def test_uploads_carry_nommers_content_type_not_the_hosts(storage, s3_client, bucket, tmp_path,
                                                         key, expected):
    import mimetypes

    # What Debian's /etc/mime.types says of .ts: it must not leak into S3.
    mimetypes.add_type("text/vnd.trolltech.linguist", ".ts")
    src = tmp_path / "out"
    src.write_bytes(b"\x47" * 188)

    storage.put(src, f"s3://{bucket}/{key}")

    assert s3_client.head_object(Bucket=bucket, Key=key)["ContentType"] == expected
