"""The Storage contract: every adapter must pass these.

Adapter-specific setup lives only in the ``backend`` fixture (where a
readable object is made, where one may be written, how a stored one is read
back); add an adapter by adding a param there. ``http(s)://`` only reads:
its sources are served from a folder by a loopback server.
"""

import functools
import http.server
import os
import threading

import pytest

from nommer.core.adapters.local_storage import FileStorage, HttpStorage
from nommer.core.errors import Canceled, InvalidInput, JobFailed
from nommer.core.model.media_types import media_type
from nommer.core.security.netguard import AddressPolicy
from nommer.core.ports.storage import StorageRouter

MIB = 1024 * 1024


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Backend:
    """What the tests need to know of one adapter, besides the port itself."""

    def __init__(self, storage, make_source, missing, dest=None, read=None, content_type=None,
                 refused=(), same_place=None, unwritable=None):
        self.storage = storage
        self.router = StorageRouter([storage])
        self.make_source = make_source  # (name, bytes) -> URI of a readable object
        self.missing = missing  # URI of an object that does not exist
        self.dest = dest  # name -> URI it may write (None: the adapter cannot write)
        self.read = read  # URI -> bytes stored there, or None when nothing is
        self.content_type = content_type  # URI -> its Content-Type (None: it keeps none)
        self.refused = refused  # URIs its check refuses, whatever it is asked
        self.same_place = same_place  # two URIs of one object, when it can tell
        self.unwritable = unwritable  # a destination URI whose put must fail the job


def _file_backend(tmp_path):
    root = tmp_path / "media"
    root.mkdir()

    def make_source(name, data):
        (root / name).write_bytes(data)
        return f"file://{root}/{name}"

    def read(uri):
        path = uri[len("file://"):]
        return open(path, "rb").read() if os.path.exists(path) else None

    return Backend(
        FileStorage([root]), make_source, f"file://{root}/missing.mp4",
        dest=lambda name: f"file://{root}/out/{name}", read=read,
        refused=[f"file://{tmp_path}/outside.mp4", "file://host/a.mp4", f"file://{root}/a.mp4?x=1"],
        same_place=(f"file://{root}/a/b.mp4", f"file://{root}/a/../a/./b.mp4"),
        unwritable=f"file://{tmp_path}/outside/out.mp4")


@pytest.fixture
def _served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _http_backend(folder, base):
    def make_source(name, data):
        (folder / name).write_bytes(data)
        return f"{base}/{name}"

    # Loopback is refused unless allowed; 10/8 stays refused.
    return Backend(HttpStorage(AddressPolicy(["127.0.0.0/8"]), timeout=5), make_source,
                   f"{base}/missing.mp4",
                   refused=["http:///a.mp4", "http://127.0.0.1:99999/a.mp4", "http://10.1.2.3/a.mp4"])


def _s3_backend(s3_client, bucket):
    from nommer.core.adapters.s3_storage import S3Storage

    def make_source(name, data):
        s3_client.put_object(Bucket=bucket, Key=f"in/{name}", Body=data)
        return f"s3://{bucket}/in/{name}"

    def key(uri):
        return uri[len(f"s3://{bucket}/"):]

    def read(uri):
        try:
            return s3_client.get_object(Bucket=bucket, Key=key(uri))["Body"].read()
        except s3_client.exceptions.NoSuchKey:
            return None

    def content_type(uri):
        return s3_client.head_object(Bucket=bucket, Key=key(uri))["ContentType"]

    return Backend(S3Storage(part_size=5 * MIB), make_source, f"s3://{bucket}/in/missing.mp4",
                   dest=lambda name: f"s3://{bucket}/out/{name}", read=read,
                   content_type=content_type,
                   refused=["s3://", f"s3://{bucket}", f"s3://{bucket}/", "s3://a/key.mp4"],
                   same_place=(f"s3://{bucket}/a/b.mp4", f"s3://{bucket}/a/b.mp4"),
                   unwritable=f"s3://{bucket}-gone/out.mp4")


@pytest.fixture(params=["file", "http", "s3"])
def backend(request, tmp_path):
    if request.param == "file":
        return _file_backend(tmp_path)
    if request.param == "http":
        return _http_backend(*request.getfixturevalue("_served"))
    import uuid

    import boto3

    request.getfixturevalue("aws_endpoint")  # moto's server, over the wire
    s3_client = boto3.client("s3")
    bucket = f"t{uuid.uuid4().hex[:12]}"  # the server lives for the session
    s3_client.create_bucket(Bucket=bucket)
    return _s3_backend(s3_client, bucket)


def writable(backend):
    if backend.dest is None:
        pytest.skip("this adapter only reads")
    return backend


def progress_log():
    seen = []
    return seen, lambda done, total: seen.append((done, total))


def assert_progress(seen, size):
    """Progress only grows, never passes the size, ends at the size, and
    says the size whenever it says a total."""
    assert seen, "no progress was reported"
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == size
    assert all(total in (size, None) for _, total in seen)


# -- check ------------------------------------------------------------------------


def test_check_refuses_bad_uris_naming_the_field(backend):
    assert backend.refused
    for uri in backend.refused:
        with pytest.raises(InvalidInput) as e:
            backend.storage.check(uri, write=False, field="outputs[2].uri")
        assert e.value.field == "outputs[2].uri", uri
        assert "outputs[2].uri" in str(e.value), uri


def test_check_accepts_a_good_source(backend):
    uri = backend.make_source("ok.mp4", b"data")
    backend.storage.check(uri, write=False, field="source")
    backend.router.check(uri, write=False, field="source")


def test_a_destination_is_accepted_where_it_can_be_written_and_refused_where_not(backend):
    if backend.dest is None:
        uri = backend.make_source("ok.mp4", b"data")
        assert not backend.storage.writable
        for check in (backend.router.check, backend.storage.check):
            with pytest.raises(InvalidInput) as e:
                check(uri, write=True, field="outputs[0].uri")
            assert e.value.field == "outputs[0].uri"
        with pytest.raises(InvalidInput) as e:
            backend.storage.put(__file__, uri)
        assert e.value.field == "destination"
        return
    assert backend.storage.writable
    backend.router.check(backend.dest("a.mp4"), write=True, field="outputs[0].uri")
    backend.router.check(backend.dest("hls/"), write=True, field="outputs[1].uri", folder=True)


def test_location_is_shared_by_two_uris_of_one_object(backend):
    if backend.same_place is None:
        assert backend.storage.location(backend.make_source("a.mp4", b"x")) is None
        return
    first, second = backend.same_place
    assert backend.storage.location(first) is not None
    assert backend.storage.location(first) == backend.storage.location(second)
    assert backend.storage.location(first) != backend.storage.location(first + ".other")


# -- fetch ------------------------------------------------------------------------


def test_fetch_copies_the_whole_object_with_progress(backend, tmp_path):
    data = os.urandom(2 * MIB + 321)
    uri = backend.make_source("clip.mp4", data)
    seen, progress = progress_log()

    size = backend.router.fetch(uri, tmp_path / "got", progress=progress)

    assert size == len(data)
    assert (tmp_path / "got").read_bytes() == data
    assert_progress(seen, len(data))


def test_fetch_of_an_empty_object(backend, tmp_path):
    uri = backend.make_source("empty.mp4", b"")
    assert backend.storage.fetch(uri, tmp_path / "got") == 0
    assert (tmp_path / "got").read_bytes() == b""


def test_a_missing_source_fails_the_job_as_source_not_found(backend, tmp_path):
    with pytest.raises(JobFailed) as e:
        backend.storage.fetch(backend.missing, tmp_path / "got")
    assert e.value.code == "SOURCE_NOT_FOUND"
    assert "missing.mp4" in str(e.value)


def test_a_canceled_fetch_stops(backend, tmp_path):
    uri = backend.make_source("clip.mp4", os.urandom(3 * MIB))
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        cancel.set()  # after the first chunk

    with pytest.raises(Canceled):
        backend.storage.fetch(uri, tmp_path / "got", progress=progress, cancel=cancel)
    assert seen and seen[-1] < 3 * MIB


def test_a_fetch_canceled_before_it_starts_copies_nothing(backend, tmp_path):
    uri = backend.make_source("clip.mp4", b"x" * 1000)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Canceled):
        backend.storage.fetch(uri, tmp_path / "got", cancel=cancel)
    assert not (tmp_path / "got").exists() or (tmp_path / "got").read_bytes() == b""


# -- put ----------------------------------------------------------------------------


def test_put_then_fetch_round_trip_with_progress(backend, tmp_path):
    backend = writable(backend)
    src = tmp_path / "src.mp4"
    data = os.urandom(2 * MIB + 17)
    src.write_bytes(data)
    uri = backend.dest("deep/er/out.mp4")
    seen, progress = progress_log()

    assert backend.router.put(src, uri, progress=progress) == len(data)

    assert_progress(seen, len(data))
    assert backend.read(uri) == data
    assert backend.router.fetch(uri, tmp_path / "back") == len(data)
    assert (tmp_path / "back").read_bytes() == data


def test_put_of_an_empty_file_reports_its_end(backend, tmp_path):
    backend = writable(backend)
    src = tmp_path / "empty.mp4"
    src.write_bytes(b"")
    seen, progress = progress_log()
    uri = backend.dest("empty.mp4")

    assert backend.storage.put(src, uri, progress=progress) == 0

    assert backend.read(uri) == b""
    assert seen == [] or seen[-1] == (0, 0)


def test_put_replaces_what_an_earlier_put_stored(backend, tmp_path):
    backend = writable(backend)
    uri = backend.dest("again.mp4")
    for content in (b"first attempt", b"second"):
        (tmp_path / "src").write_bytes(content)
        backend.storage.put(tmp_path / "src", uri)
        assert backend.read(uri) == content


def test_a_canceled_put_stores_nothing(backend, tmp_path):
    backend = writable(backend)
    src = tmp_path / "src.mp4"
    src.write_bytes(os.urandom(3 * MIB))
    uri = backend.dest("canceled.mp4")
    cancel = threading.Event()

    with pytest.raises(Canceled):
        backend.storage.put(src, uri, progress=lambda *_: cancel.set(), cancel=cancel)

    assert backend.read(uri) is None


def test_a_put_canceled_before_it_starts_stores_nothing(backend, tmp_path):
    backend = writable(backend)
    src = tmp_path / "src.mp4"
    src.write_bytes(b"small" * 100)
    uri = backend.dest("never.mp4")
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(Canceled):
        backend.storage.put(src, uri, cancel=cancel)

    assert backend.read(uri) is None


def test_a_put_where_it_may_not_write_fails_the_job_and_stores_nothing(backend, tmp_path):
    backend = writable(backend)
    (tmp_path / "src").write_bytes(b"data")

    with pytest.raises(JobFailed) as e:
        backend.storage.put(tmp_path / "src", backend.unwritable)

    assert e.value.code in ("DESTINATION_INVALID", "UPLOAD_FAILED")
    assert not (tmp_path / "outside").exists()


def test_put_sets_the_content_type_where_the_adapter_keeps_one(backend, tmp_path):
    backend = writable(backend)
    if backend.content_type is None:
        pytest.skip("this adapter keeps no content type")
    (tmp_path / "src").write_bytes(b"x")
    for name in ("a.mp4", "b.m3u8", "c.ts", "d.MPD", "e.unknown-ext"):
        uri = backend.dest(name)
        backend.storage.put(tmp_path / "src", uri)
        assert backend.content_type(uri) == media_type(name), name
    assert backend.content_type(backend.dest("a.mp4")) == "video/mp4"


# -- put_folder ---------------------------------------------------------------------


@pytest.fixture
def hls_folder(tmp_path):
    folder = tmp_path / "hls"
    (folder / "v0").mkdir(parents=True)
    files = {"v0/seg0.ts": os.urandom(1000), "v0/seg1.ts": os.urandom(2000),
             "v0/index.m3u8": b"#EXTM3U\nseg0.ts\nseg1.ts\n",
             "master.m3u8": b"#EXTM3U\nv0/index.m3u8\n", "poster.jpg": b"jpeg"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder, files


def test_put_folder_stores_every_file_playlists_last_master_very_last(backend, hls_folder):
    backend = writable(backend)
    folder, files = hls_folder
    base = backend.dest("hls/")
    seen, progress = progress_log()

    stored = backend.router.put_folder(folder, base, progress=progress)

    names = [uri[len(base):] for uri, _ in stored]
    assert sorted(names) == sorted(files)
    assert names[-2:] == ["v0/index.m3u8", "master.m3u8"]
    assert dict(stored) == {base + name: len(data) for name, data in files.items()}
    for name, data in files.items():
        assert backend.read(base + name) == data, name
    total = sum(len(d) for d in files.values())
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and seen[-1] == (total, total)


def test_a_put_folder_canceled_before_it_starts_stores_nothing(backend, hls_folder):
    backend = writable(backend)
    folder, files = hls_folder
    base = backend.dest("hls-canceled/")
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(Canceled):
        backend.storage.put_folder(folder, base, cancel=cancel)

    assert all(backend.read(base + name) is None for name in files)
