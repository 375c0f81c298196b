import http.server
import os
import pathlib
import threading
import time

import pytest

from nommer.core.adapters.local_storage import FileStorage, HttpStorage, written_by_nommer
from nommer.core.errors import Canceled, InvalidInput, JobFailed, TransientError
from nommer.core.security.netguard import AddressPolicy
from nommer.core.ports.storage import StorageRouter, redact


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "media"
    d.mkdir()
    return d


@pytest.fixture
def router(root):
    # The test server is on loopback, which nommer refuses unless allowed.
    return StorageRouter([FileStorage([root]), HttpStorage(AddressPolicy(["127.0.0.0/8"]), timeout=5)])


def test_put_then_fetch_round_trip(router, root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    uri = f"file://{root}/deep/er/out.bin"
    router.check(uri, write=True, field="dest")
    seen = []
    assert router.put(src, uri, progress=lambda done, total: seen.append((done, total))) == src.stat().st_size
    assert (root / "deep/er/out.bin").read_bytes() == src.read_bytes()
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)
    back = tmp_path / "back.bin"
    router.fetch(uri, back)
    assert back.read_bytes() == src.read_bytes()
    # no temporary file is left beside the output
    assert sorted(p.name for p in (root / "deep/er").iterdir()) == ["out.bin"]


@pytest.mark.parametrize("uri, message", [
    ("", "must be a non-empty URI"),
    ("relative/path.mp4", "has no scheme"),
    ("ftp://host/x.mp4", "scheme 'ftp' is not supported"),
    ("file://otherhost/x.mp4", "names host 'otherhost'"),
    ("file:///etc/passwd", "outside the folders nommer may use"),
    ("file:///{root}/../escape.mp4", "outside the folders nommer may use"),
    ("file:///{root}/x.mp4?a=1", "takes no ?query"),
])
def test_bad_uris_are_refused_naming_the_field(router, root, uri, message):
    with pytest.raises(InvalidInput) as e:
        router.check(uri.format(root=root), write=True, field="outputs[0].destination")
    assert e.value.field == "outputs[0].destination"
    assert message in str(e.value)


def test_symlink_out_of_the_root_is_refused(router, root, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "link.txt").symlink_to(outside)
    with pytest.raises(InvalidInput, match="outside the folders"):
        router.check(f"file://{root}/link.txt", write=False, field="source")


def test_http_cannot_be_a_destination(router):
    with pytest.raises(InvalidInput, match="can be read but not written"):
        router.check("http://example.com/out.mp4", write=True, field="dest")


def test_missing_source_is_a_job_failure(router, root, tmp_path):
    with pytest.raises(JobFailed) as e:
        router.fetch(f"file://{root}/missing.mp4", tmp_path / "x")
    assert e.value.code == "SOURCE_NOT_FOUND"


def test_cancel_stops_a_copy(router, root, tmp_path):
    src = root / "big.bin"
    src.write_bytes(b"\0" * (4 * 1024 * 1024))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Canceled):
        router.fetch(f"file://{src}", tmp_path / "x", cancel=cancel)


def test_redact_hides_secrets():
    assert redact("s3://AKIA:SECRET@bucket/key") == "s3://***:***@bucket/key"
    assert "SECRET" not in redact("https://user:SECRET@host/x")
    assert redact("file:///a/b") == "file:///a/b"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/clip.bin":
            body = b"x" * 100_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/busy":
            self.send_response(503)
            self.end_headers()
        elif self.path == "/forbidden":
            self.send_response(403)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_download(router, http_server, tmp_path):
    dest = tmp_path / "clip.bin"
    assert router.fetch(f"{http_server}/clip.bin", dest) == 100_000
    assert dest.stat().st_size == 100_000


@pytest.mark.parametrize("path, error, code", [
    ("/nope", JobFailed, "SOURCE_NOT_FOUND"),
    ("/forbidden", JobFailed, "SOURCE_UNREADABLE"),
    ("/busy", TransientError, "TRANSIENT"),
])
def test_http_errors_are_classified(router, http_server, tmp_path, path, error, code):
    with pytest.raises(error) as e:
        router.fetch(f"{http_server}{path}", tmp_path / "x")
    assert e.value.code == code


def test_unreachable_host_is_transient(router, tmp_path):
    with pytest.raises(TransientError):
        router.fetch("http://127.0.0.1:9/x.mp4", tmp_path / "x")


def test_a_dead_writers_temporary_file_is_removed_by_the_next_write(router, root, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = root / f".out.mp4.{dead}.abcd1234.part"
    stale.write_bytes(b"half")
    alive = root / f".out.mp4.{os.getpid()}.abcd1234.part"  # a write still going on
    alive.write_bytes(b"half")
    src = tmp_path / "src.bin"
    src.write_bytes(b"whole")
    router.put(src, f"file://{root}/out.mp4")
    assert (root / "out.mp4").read_bytes() == b"whole"
    assert not stale.exists()
    assert alive.exists()


def test_rate_limit_paces_a_copy_and_cancel_cuts_the_wait(root, tmp_path):
    import time

    storage = FileStorage([root], rate=1_000_000)
    src = root / "two-mb.bin"
    src.write_bytes(os.urandom(2_000_000))
    started = time.monotonic()
    storage.fetch(f"file://{src}", tmp_path / "copy.bin")
    elapsed = time.monotonic() - started
    assert 1.7 <= elapsed <= 6.0  # 2 MB at 1 MB/s
    assert (tmp_path / "copy.bin").read_bytes() == src.read_bytes()

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Canceled):
        storage.fetch(f"file://{src}", tmp_path / "again.bin", cancel=cancel)
    assert time.monotonic() - started < 1.0


def test_redact_hides_whole_tokens_and_signed_query_parameters():
    assert redact("https://ghp_TOKEN@host/x") == "https://***@host/x"
    signed = redact("https://b.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc123&X-Amz-Credential=AKIA%2F&x=1")
    assert "abc123" not in signed and "AKIA" not in signed and "x=1" in signed


# -- gaps a crafted file URI could use ---------------------------------------


@pytest.mark.parametrize("uri, message", [
    ("file:///{root}/a%00b.mp4", "NUL"),
    ("file:///{root}/a%ffb.mp4", "not UTF-8"),
    ("file:///{root}/a\x00b.mp4", "control characters"),
    ("file:///{root}/a\nb.mp4", "control characters"),
    ("file:///{root}/%2e%2e/%2e%2e/etc/passwd", "outside the folders"),
    ("file://localhost/etc/passwd", "outside the folders"),
])
def test_crafted_file_uris_are_refused(router, root, uri, message):
    with pytest.raises(InvalidInput) as e:
        router.check(uri.format(root=root), write=False, field="source")
    assert e.value.field == "source" and message in str(e.value)


def private_storage(data):
    from nommer.core import config as config_mod

    # The data folder's parent is a root: the data folder is refused all the same.
    config = config_mod.load(environ={"NOMMER_DATA_DIR": str(data), "NOMMER_FILE_ROOTS": str(data.parent)})
    return StorageRouter([FileStorage(config.allowed_roots, excluded=config.private_paths)])


def test_nothing_in_the_data_folder_is_ever_readable_or_writable(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "nommer.sqlite3").write_bytes(b"SQLite format 3\0")
    (data / "media").mkdir()
    (data / "media" / "clip.mp4").write_bytes(b"an ordinary file")
    storage = private_storage(data)

    for name in ("nommer.sqlite3", "nommer.sqlite3-wal", "logs/encoder-1.log", "run/encoder-1.pid",
                 "media/clip.mp4", "media/new.mp4", "anything.mp4"):
        for write in (False, True):
            with pytest.raises(InvalidInput, match="nommer's own files .*the data folder"):
                storage.check((data / name).as_uri(), write=write, field="source")
    with pytest.raises(JobFailed, match="nommer's own files .*the data folder"):
        storage.put(tmp_path / "x", (data / "work" / "other-job" / "out.mp4").as_uri())
    assert not (data / "work").exists()
    # beside it, under the same root, files are the user's
    storage.check((tmp_path / "media" / "clip.mp4").as_uri(), write=True, field="destination")


def test_a_link_into_the_data_folder_is_refused_too(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "nommer.sqlite3").write_bytes(b"db")
    (tmp_path / "innocent.mp4").symlink_to(data / "nommer.sqlite3")
    storage = private_storage(data)

    with pytest.raises(InvalidInput, match="data folder"):
        storage.check((tmp_path / "innocent.mp4").as_uri(), write=False, field="source")


def test_a_pipe_under_a_root_is_refused_and_never_blocks(router, root, tmp_path):
    fifo = root / "pipe.mp4"
    os.mkfifo(fifo)

    with pytest.raises(InvalidInput, match="not a regular file"):
        router.check(fifo.as_uri(), write=False, field="source")
    with pytest.raises(JobFailed) as e:
        router.fetch(fifo.as_uri(), tmp_path / "x")  # would hang on a plain open()
    assert e.value.code == "SOURCE_UNSAFE"


def test_a_source_swapped_for_a_link_after_the_check_is_refused(router, root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private key")
    source = root / "clip.mp4"
    source.write_bytes(b"media")
    router.check(source.as_uri(), write=False, field="source")  # at submit time: fine

    source.unlink()
    source.symlink_to(secret)  # before the encoder fetches it

    with pytest.raises(InvalidInput, match="outside the folders"):
        router.fetch(source.as_uri(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_folder_on_the_way_swapped_for_a_link_is_caught_once_open(root, tmp_path):
    # path_of resolved the path before the swap; the open file's real place decides.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "clip.mp4").write_text("secret")
    storage = FileStorage([root])
    inside = root / "sub"
    inside.symlink_to(outside)

    with pytest.raises(JobFailed) as e:
        storage._open_source(inside / "clip.mp4")
    assert e.value.code == "SOURCE_UNSAFE" and "outside the folders" in str(e.value)


def test_a_working_directory_of_slash_is_no_root(monkeypatch):
    from nommer.core import config

    monkeypatch.chdir("/")
    roots = config.load(environ={"NOMMER_FILE_ROOTS": "/srv/media"}).allowed_roots
    assert pathlib.Path("/") not in roots
    assert pathlib.Path("/srv/media") in roots


def test_folder_outputs_need_a_folder_uri_and_file_outputs_a_file_uri(router, root):
    router.check(f"file://{root}/hls/", write=True, field="outputs[1].destination", folder=True)
    with pytest.raises(InvalidInput) as e:
        router.check(f"file://{root}/hls", write=True, field="outputs[1].destination", folder=True)
    assert e.value.field == "outputs[1].destination" and "end the URI with '/'" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        router.check(f"file://{root}/out/", write=True, field="outputs[0].destination")
    assert e.value.field == "outputs[0].destination" and "names a folder" in str(e.value)
    (root / "afile").write_text("x")
    with pytest.raises(InvalidInput, match="is a file; name a folder"):
        router.check(f"file://{root}/afile/", write=True, field="d", folder=True)
    with pytest.raises(InvalidInput, match="outside the folders"):
        router.check("file:///etc/nommer/", write=True, field="d", folder=True)


def test_put_folder_stores_every_file_playlists_last(router, root, tmp_path):
    local = tmp_path / "hls"
    (local / "sub").mkdir(parents=True)
    for name, size in (("master.m3u8", 10), ("720p.m3u8", 20), ("720p_00000.ts", 3000), ("sub/x.ts", 5)):
        (local / name).write_bytes(os.urandom(size))
    seen = []
    stored = router.put_folder(local, f"file://{root}/out/", progress=lambda d, t: seen.append((d, t)))
    assert [uri.rsplit("/out/", 1)[1] for uri, _ in stored] == ["720p_00000.ts", "sub/x.ts", "720p.m3u8", "master.m3u8"]
    assert [size for _, size in stored] == [3000, 5, 20, 10]
    assert (root / "out/sub/x.ts").read_bytes() == (local / "sub/x.ts").read_bytes()
    assert seen[-1] == (3035, 3035) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_job_run_again_replaces_its_own_output_but_no_other_file(router, root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"first")
    uri = f"file://{root}/out/a.mp4"
    router.put(src, uri)
    src.write_bytes(b"second")
    router.check(uri, write=True, field="destination")  # nommer wrote it: fine
    router.put(src, uri)
    assert (root / "out" / "a.mp4").read_bytes() == b"second"

    theirs = root / "theirs.mp4"
    theirs.write_bytes(b"not nommer's")
    with pytest.raises(InvalidInput, match="nommer did not write it") as e:
        router.check(theirs.as_uri(), write=True, field="outputs[0].destination")
    assert e.value.field == "outputs[0].destination" and "allow_overwrite" in str(e.value)
    with pytest.raises(JobFailed, match="nommer did not write it") as e:
        router.put(src, theirs.as_uri())
    assert e.value.code == "DESTINATION_INVALID"
    assert theirs.read_bytes() == b"not nommer's"
    assert sorted(p.name for p in root.iterdir()) == ["out", "theirs.mp4"]  # no part left


def test_a_file_put_in_place_of_an_output_loses_the_mark(router, root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"output")
    uri = f"file://{root}/a.mp4"
    router.put(src, uri)
    (root / "a.mp4").unlink()
    (root / "a.mp4").write_bytes(b"the operator's own file, same name")

    with pytest.raises(JobFailed, match="nommer did not write it"):
        router.put(src, uri)


def test_a_file_that_appears_during_the_upload_is_not_replaced(root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"output")
    target = root / "a.mp4"

    def appear(done, total):
        target.write_bytes(b"written meanwhile")

    with pytest.raises(JobFailed, match="nommer did not write it"):
        FileStorage([root]).put(src, target.as_uri(), progress=appear)
    assert target.read_bytes() == b"written meanwhile"
    assert sorted(p.name for p in root.iterdir()) == ["a.mp4"]


def test_an_output_on_the_same_file_system_is_linked_into_place_not_copied(router, root, tmp_path):
    src = tmp_path / "work" / "out.mp4"
    src.parent.mkdir()
    src.write_bytes(os.urandom(100_000))
    target = root / "deep" / "out.mp4"
    seen = []

    def during(done, total):
        # Before the rename: the whole file under a temporary name, nothing
        # at the final name.
        seen.append((done, total, target.exists(),
                     [p.stat().st_size for p in target.parent.iterdir() if p.name.endswith(".part")]))

    assert router.put(src, target.as_uri(), progress=during) == 100_000
    assert seen == [(100_000, 100_000, False, [100_000])]
    assert target.stat().st_ino == src.stat().st_ino  # the same file: not a byte copied
    assert src.stat().st_nlink == 2
    assert written_by_nommer(target) or not xattrs_work(root)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.mp4"]
    # A job run again replaces it with a file of its own, and the first
    # job's work file is left as it was.
    again = tmp_path / "work" / "again.mp4"
    again.write_bytes(b"second")
    router.put(again, target.as_uri())
    assert target.read_bytes() == b"second" and src.stat().st_size == 100_000


def test_an_output_on_another_file_system_is_copied(root):
    shm = pathlib.Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == root.stat().st_dev:
        pytest.skip("no second file system here")
    src = shm / f"nommer-test-{os.getpid()}.bin"
    src.write_bytes(b"elsewhere")
    try:
        assert FileStorage([root]).put(src, (root / "out.bin").as_uri()) == 9
        assert (root / "out.bin").read_bytes() == b"elsewhere"
        assert (root / "out.bin").stat().st_ino != src.stat().st_ino
    finally:
        src.unlink()


def xattrs_work(folder):
    probe_file = folder / ".xattr-probe"
    probe_file.write_bytes(b"")
    try:
        os.setxattr(probe_file, "user.nommer.test", b"1")
        return True
    except OSError:
        return False
    finally:
        probe_file.unlink()


def test_allow_overwrite_replaces_any_file(root, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"output")
    (root / "theirs.mp4").write_bytes(b"theirs")

    FileStorage([root], allow_overwrite=True).put(src, (root / "theirs.mp4").as_uri())
    assert (root / "theirs.mp4").read_bytes() == b"output"


def test_a_folder_output_writes_nothing_when_one_file_is_not_nommers(router, root, tmp_path):
    local = tmp_path / "hls"
    local.mkdir()
    for name in ("master.m3u8", "720p.m3u8", "720p_00000.ts"):
        (local / name).write_bytes(b"new " + name.encode())
    (root / "out").mkdir()
    (root / "out" / "720p.m3u8").write_bytes(b"the operator's playlist")

    with pytest.raises(JobFailed, match="720p.m3u8 exists and nommer did not write it") as e:
        router.put_folder(local, f"file://{root}/out/")
    assert e.value.code == "DESTINATION_INVALID"
    assert sorted(p.name for p in (root / "out").iterdir()) == ["720p.m3u8"]


def test_the_configuration_file_is_never_a_destination(tmp_path):
    from nommer.core import config as config_mod

    settings = tmp_path / "nommer.toml"
    settings.write_text(f"data_dir = {str(tmp_path / 'data')!r}\nallow_overwrite = true\n")
    config = config_mod.load(settings, environ={"NOMMER_FILE_ROOTS": str(tmp_path)})
    assert config.replace(port=9000).private_paths == config.private_paths
    storage = FileStorage(config.allowed_roots, excluded=config.private_paths,
                          allow_overwrite=config.allow_overwrite)
    (tmp_path / "alias.toml").symlink_to(settings)

    for name in ("nommer.toml", "alias.toml"):
        with pytest.raises(InvalidInput, match="configuration file"):
            storage.check((tmp_path / name).as_uri(), write=True, field="outputs[0].destination")
    src = tmp_path / "src.bin"
    src.write_bytes(b"MP4 bytes")
    with pytest.raises(JobFailed, match="configuration file"):
        storage.put(src, settings.as_uri())
    assert "allow_overwrite = true" in settings.read_text()


@pytest.mark.parametrize("name, words", [
    ("x" * 256 + ".mp4", "260 bytes long"),
    ("é" * 128 + ".mp4", "260 bytes long"),  # 132 characters, 260 bytes
    ("/".join(["é" * 100] * 21), "at most 4096 bytes"),
])
def test_over_long_names_are_refused_by_every_call(router, root, tmp_path, name, words):
    uri = f"file://{root}/{name}"
    for write in (False, True):
        with pytest.raises(InvalidInput, match=words):
            router.check(uri, write=write, field="f")
    with pytest.raises(JobFailed, match=words):
        router.put(tmp_path, uri)


@pytest.mark.parametrize("name", ["x" * 251 + ".mp4", "é" * 125 + "x.mp4", "€" * 63 + ".mp4"])
def test_names_up_to_255_bytes_are_taken(router, root, name):
    router.check(f"file://{root}/{name}", write=True, field="f")  # raises if refused
    assert router.location(f"file://{root}/{name}")[-1] == name


def test_a_loop_of_links_is_refused_by_every_call(router, root, tmp_path):
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    for uri in (f"file://{root}/a", f"file://{root}/a/x.mp4"):
        for write in (False, True):
            with pytest.raises(InvalidInput, match="loop of symbolic links"):
                router.check(uri, write=write, field="f")
        with pytest.raises(InvalidInput, match="loop of symbolic links"):
            router.check(uri + "/", write=True, field="f", folder=True)
        with pytest.raises(JobFailed, match="loop of symbolic links"):
            router.put(tmp_path, uri)


def test_a_file_uri_with_user_info_is_refused_without_repeating_it(router):
    with pytest.raises(InvalidInput) as e:
        router.check("file://user:secretpw@host/m/x.mp4", write=False, field="source")
    assert "secretpw" not in str(e.value) and "user" not in str(e.value)
    with pytest.raises(InvalidInput) as e:
        router.check("file:///m/x.mp4?token=secretpw#hunter22", write=False, field="source")
    assert "secretpw" not in str(e.value) and "hunter22" not in str(e.value)


def test_locations_compare_what_the_names_lead_to(router, root):
    (root / "out").mkdir()
    (root / "link").symlink_to(root / "out")
    same = [f"file://{root}/out/x.mp4", f"file://{root}//out/./x.mp4", f"file://{root}/link/x.mp4",
            f"file://{root}/out/../out/x.mp4"]
    assert len({router.location(u) for u in same}) == 1
    assert router.location(f"file://{root}/out/") == ("file", *(root / "out").parts)


def test_paths_resolve_as_realpath_resolves_them_with_each_folder_looked_at_once(tmp_path, monkeypatch):
    from nommer.core.adapters import local_storage

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "file").write_bytes(b"x")
    os.symlink("a/b", tmp_path / "rel")
    os.symlink(tmp_path / "a", tmp_path / "abs")
    os.symlink("../a/b/file", tmp_path / "a" / "up")
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    os.symlink("missing/deeper", tmp_path / "dangling")
    paths = ["a/b/file", "rel/file", "rel/../b/file", "abs/b/../b/file", "a/up", "loop1/x",
             "dangling/x", "nothing/here/../there", "a/./b//file", "rel/..", "abs/../rel/file/"]
    expected = [os.path.realpath(f"{tmp_path}/{p}") for p in paths]
    asked = []
    real_lstat = os.lstat
    monkeypatch.setattr(local_storage.os, "lstat", lambda p: asked.append(p) or real_lstat(p))
    lstats = local_storage._Lstats()
    assert [lstats.realpath(f"{tmp_path}/{p}") for p in paths] == expected
    assert asked and len(asked) == len(set(asked))


def test_a_look_resolves_each_uri_once_and_forgets_it_when_left(router, root):
    (root / "a.mp4").write_bytes(b"x")
    (root / "b.mp4").write_bytes(b"y")
    uri = (root / "a.mp4").as_uri()
    with router.looking():
        with router.looking():  # an inner look shares the outer one
            first = router.location(uri)
        # Moved under the look: its answer stays the one it found first.
        os.replace(root / "a.mp4", root / "moved.mp4")
        os.symlink(root / "b.mp4", root / "a.mp4")
        assert router.location(uri) == first
    # Outside the look, the link is followed afresh.
    assert router.location(uri) == ("file", *(root / "b.mp4").resolve().parts)
    assert first == ("file", *(root / "a.mp4").parent.resolve().parts, "a.mp4")


def test_the_looks_of_a_burst_look_at_each_folder_once_and_at_each_file_every_time(root, monkeypatch):
    from nommer.core.adapters import local_storage

    (root / "in").mkdir()
    (root / "in" / "a.mp4").write_bytes(b"x")
    storage = FileStorage([root])
    asked = []
    real_lstat = os.lstat
    monkeypatch.setattr(local_storage.os, "lstat", lambda p: asked.append(p) or real_lstat(p))
    for n in range(3):
        with storage.looking():
            storage.check((root / "in" / "a.mp4").as_uri(), write=False)
            storage.check((root / f"out{n}.mp4").as_uri(), write=True)
    folders = [p for p in asked if os.path.isdir(p)]
    files = [p for p in asked if not os.path.isdir(p)]
    assert folders and len(folders) == len(set(folders))  # each folder once for the three
    assert files.count(str(root / "in" / "a.mp4")) == 3  # a file, every time
    assert {str(root / f"out{n}.mp4") for n in range(3)} <= set(files)


def test_a_folder_swapped_for_a_link_is_refused_by_the_encoder_at_once_and_by_submissions_soon(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "clip.mp4").write_text("secret")
    inside = root / "sub"
    inside.mkdir()
    (inside / "clip.mp4").write_text("fine")
    storage = FileStorage([root])
    storage._folders.seconds = 0.3
    uri = (inside / "clip.mp4").as_uri()
    with storage.looking():
        storage.check(uri, write=False)

    (inside / "clip.mp4").unlink()
    inside.rmdir()
    inside.symlink_to(outside)
    with storage.looking():  # a moment later, the folder is taken as it was
        storage.check(uri, write=False)
    with pytest.raises(InvalidInput, match="outside the folders"):
        storage.fetch(uri, tmp_path / "copy")  # what the encoder does: looked at afresh
    assert not (tmp_path / "copy").exists()
    time.sleep(0.35)
    with storage.looking(), pytest.raises(InvalidInput, match="outside the folders"):
        storage.check(uri, write=False)


def test_a_look_that_fails_to_begin_leaves_what_it_entered():
    from nommer.core.ports.storage import _Together

    events = []

    class Context:
        def __init__(self, name, fails=False):
            self.name, self.fails = name, fails

        def __enter__(self):
            if self.fails:
                raise OSError(f"{self.name} cannot begin")
            events.append(f"enter {self.name}")

        def __exit__(self, *exc):
            events.append(f"leave {self.name} ({exc[0].__name__ if exc[0] else 'ok'})")

    with pytest.raises(OSError, match="c cannot begin"):
        with _Together([Context("a"), Context("b"), Context("c", fails=True)]):
            events.append("inside")
    assert events == ["enter a", "enter b", "leave b (OSError)", "leave a (OSError)"]
    events.clear()
    with _Together([Context("a"), Context("b")]):
        events.append("inside")
    assert events == ["enter a", "enter b", "inside", "leave b (ok)", "leave a (ok)"]
