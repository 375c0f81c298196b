"""A source read where it is (``Sandbox.read_files``): confined ffmpeg may
read that one file, not the files beside it, and only while its path
leads to the very file that was checked. Through the fork server and
through the wrapper alike."""

import os
import subprocess

import pytest

from nommer.core.adapters.local_storage import FileStorage
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import Sandbox, launcher
from nommer.core.ffmpeg import sandbox as sandbox_mod
from nommer.core.ffmpeg.probe import probe

ABI = sandbox_mod.landlock_abi()
pytestmark = pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")


@pytest.fixture(params=["fork server", "wrapper"])
def start(request, monkeypatch):
    """How a run starts: (box, argv) -> (returncode, stderr text)."""
    if request.param == "fork server":
        if not launcher.available():
            pytest.skip("no pidfds here")

        def go(box, argv):
            child = box.start(argv, fsize=0)
            _, err = child.communicate(timeout=60)
            return child.returncode, err.decode()
    else:
        monkeypatch.setattr(launcher, "launcher", lambda: None)

        def go(box, argv):
            done = subprocess.run(box.wrap(argv, fsize=0), capture_output=True, timeout=60)
            return done.returncode, done.stderr.decode()
    return go


@pytest.fixture
def folders(tmp_path, sample_clip):
    """A root with the source and a secret beside it, and a work folder."""
    root, work = tmp_path / "media", tmp_path / "work"
    root.mkdir()
    work.mkdir()
    source, secret = root / "source.mp4", root / "secret.mp4"
    source.write_bytes(sample_clip.read_bytes())
    secret.write_bytes(sample_clip.read_bytes())
    return root, work, source, secret


def read(ffmpeg_exe, path):
    return [ffmpeg_exe, "-hide_banner", "-nostdin", "-i", str(path), "-t", "0.1", "-f", "null", "-"]


def box_for(storage, source, work):
    found = storage.local_file(source.as_uri())
    return Sandbox(write=(str(work),), read_files=((found.path, found.device, found.inode),))


def test_the_source_is_read_in_place_and_nothing_beside_it(ffmpeg_exe, folders, start):
    root, work, source, secret = folders
    box = box_for(FileStorage([root]), source, work)
    code, err = start(box, read(ffmpeg_exe, source))
    assert code == 0, err
    code, err = start(box, read(ffmpeg_exe, secret))
    assert code != 0 and "Permission denied" in err
    assert list(work.iterdir()) == []  # nothing copied


def test_a_source_swapped_after_its_check_is_refused(ffmpeg_exe, folders, start):
    root, work, source, secret = folders
    box = box_for(FileStorage([root]), source, work)
    os.replace(secret, source)  # the same name, another file
    code, err = start(box, read(ffmpeg_exe, source))
    assert code == sandbox_mod.EXIT_SANDBOX
    assert "no longer the file that was checked" in err


def test_a_source_swapped_once_ffmpeg_is_confined_cannot_be_read(ffmpeg_exe, folders, tmp_path):
    root, work, source, secret = folders
    box = box_for(FileStorage([root]), source, work)
    # The rule is on the file, not the name: what the name leads to later
    # is another file, and unreadable.
    go = work / "go"
    argv = ["/bin/sh", "-c", f"read -r line < {source} && echo read; while [ ! -e {go} ]; do :; done; "
            f"if read -r line < {source}; then echo read again; else echo refused; fi"]
    if not launcher.available():
        pytest.skip("no pidfds here")
    child = box.start(argv)
    assert child.stdout.readline() == b"read\n"
    os.replace(secret, source)
    go.write_bytes(b"")
    out, err = child.communicate(timeout=30)
    assert out.decode().split() == ["refused"], err


def test_probe_reads_a_source_in_place(ffmpeg_exe, folders):
    root, work, source, secret = folders
    box = box_for(FileStorage([root]), source, work)
    assert probe(ffmpeg_exe, source, sandbox=box)["duration"] > 1
    with pytest.raises(JobFailed):
        probe(ffmpeg_exe, secret, sandbox=box)


def test_local_file_checks_like_fetch(folders, tmp_path):
    root, _, source, _ = folders
    storage = FileStorage([root])
    found = storage.local_file(source.as_uri())
    assert (found.path, found.size) == (str(source), source.stat().st_size)
    assert (found.device, found.inode) == (source.stat().st_dev, source.stat().st_ino)
    with pytest.raises(JobFailed) as err:
        storage.local_file((root / "missing.mp4").as_uri())
    assert err.value.code == "SOURCE_NOT_FOUND"
    os.mkfifo(root / "pipe.mp4")
    with pytest.raises(JobFailed) as err:
        storage.local_file((root / "pipe.mp4").as_uri())
    assert err.value.code == "SOURCE_UNSAFE"


@pytest.mark.parametrize("spec", ["1:2:relative", "x:2:/a", "1:y:/a", "12"])
def test_a_bad_read_file_is_refused_before_anything_runs(spec):
    done = subprocess.run(["python3", "-I", "-S", sandbox_mod.__file__, "--read-file", spec, "--", "/bin/true"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == sandbox_mod.EXIT_SANDBOX
    assert f"--read-file takes DEVICE:INODE:/PATH, not {spec!r}" in done.stderr
