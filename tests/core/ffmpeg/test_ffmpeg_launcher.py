"""Confined runs started by the sandbox fork server (launcher.py): one warm
server per process, each run a fork of it, confined and limited as through
the wrapper, signalled through its pidfd, dying with the process."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.core.ffmpeg.processes import kill_parent_and_expect_child_gone

from nommer.core.errors import Canceled, JobFailed
from nommer.core.ffmpeg import FfmpegRun, Sandbox, launcher
from nommer.core.ffmpeg import sandbox as sandbox_mod
from nommer.core.ffmpeg.probe import probe

ABI = sandbox_mod.landlock_abi()
pytestmark = pytest.mark.skipif(not launcher.available(), reason="no pidfds: runs go through the wrapper")


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def running(pid):
    """Whether ``pid`` is a live process (not gone, nor a zombie left to
    whichever process reaps orphans here)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def endless(ffmpeg_exe):
    return [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", "-f", "lavfi",
            "-i", "testsrc2=size=160x120:rate=25", "-t", "600", "-f", "null", "-"]


def start_in_thread(run):
    errors = []

    def go():
        try:
            run.run()
        except BaseException as e:  # noqa: BLE001 - looked at by the test
            errors.append(e)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while run.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.pid is not None
    return thread, errors


def test_every_run_is_a_child_of_one_warm_server(ffmpeg_exe, tmp_path, sample_clip):
    box = Sandbox(write=(str(tmp_path),), read=(str(sample_clip),), landlock=ABI >= 1)
    first = FfmpegRun(endless(ffmpeg_exe), duration=600, cwd=str(tmp_path), sandbox=box)
    second = FfmpegRun(endless(ffmpeg_exe), duration=600, cwd=str(tmp_path), sandbox=box)
    threads = [start_in_thread(first), start_in_thread(second)]
    server = launcher.launcher().server_pid
    try:
        assert server != os.getpid()
        assert parent_of(first.pid) == parent_of(second.pid) == server
        with open(f"/proc/{first.pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == ffmpeg_exe.encode()  # exec'd, no wrapper left between
        assert os.getsid(first.pid) == first.pid  # a session of its own
        # The probe is a fork of the same server, while the two runs go on.
        assert probe(ffmpeg_exe, sample_clip, sandbox=box)["duration"] > 1
    finally:
        first.cancel()
        second.cancel()
    for thread, errors in threads:
        thread.join(10)
        assert len(errors) == 1 and isinstance(errors[0], Canceled)
    assert launcher.launcher().server_pid == server


@pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")
def test_a_forked_run_is_confined_like_a_wrapped_one(ffmpeg_exe, tmp_path, sample_clip):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    secret = outside / "secret.mp4"
    secret.write_bytes(sample_clip.read_bytes())
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-i", str(secret), "-t", "0.2", "out.mp4"]
    with pytest.raises(JobFailed) as err:
        FfmpegRun(argv, duration=1, cwd=str(work), sandbox=Sandbox(write=(str(work),))).run()
    assert err.value.code == "ENCODE_FAILED"
    assert "Permission denied" in str(err.value)
    assert not (work / "out.mp4").exists()


def test_limits_and_the_session_reach_a_forked_run(tmp_path):
    box = Sandbox(write=(str(tmp_path),), landlock=ABI >= 1)
    child = box.start(["/bin/sh", "-c", "ulimit -f; ulimit -c; while read -r key value; do case $key in "
                       "NoNewPrivs:) echo $value;; esac; done < /proc/$$/status; read -r stat < /proc/$$/stat; "
                       "echo $stat"], fsize=10 * 512)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    fsize, core, no_new_privs, stat = out.decode().split("\n")[:4]
    assert fsize == "10" and core == "0"  # in 512-byte blocks
    assert no_new_privs == ("1" if ABI >= 1 else "0")
    assert int(stat.rsplit(")", 1)[1].split()[3]) == child.pid  # a session of its own


def test_a_run_that_cannot_be_confined_says_so(ffmpeg_exe, tmp_path):
    run = FfmpegRun([ffmpeg_exe, "-version"], cwd=str(tmp_path),
                    sandbox=Sandbox(write=(str(tmp_path),), read=("/no/such/font.ttf",)))
    with pytest.raises(JobFailed) as err:
        run.run()
    assert err.value.code == "CONFINEMENT_UNAVAILABLE"
    assert "/no/such/font.ttf" in str(err.value)


def test_a_server_that_died_is_started_again(ffmpeg_exe, tmp_path):
    box = Sandbox(write=(str(tmp_path),), landlock=ABI >= 1)
    run = FfmpegRun(endless(ffmpeg_exe), duration=600, cwd=str(tmp_path), sandbox=box)
    thread, errors = start_in_thread(run)
    server = launcher.launcher().server_pid
    os.kill(server, signal.SIGKILL)
    thread.join(10)
    assert not thread.is_alive()
    # Its run died with it, and says how.
    assert len(errors) == 1 and isinstance(errors[0], JobFailed) and "SIGKILL" in str(errors[0])
    deadline = time.monotonic() + 5  # its pipes close as it exits, a moment before it is gone
    while running(run.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(run.pid)
    done = FfmpegRun([ffmpeg_exe, "-hide_banner", "-version"], cwd=str(tmp_path), sandbox=box).run()
    assert done.returncode == 0
    assert launcher.launcher().server_pid not in (None, server)


def test_server_and_runs_die_with_the_process_that_started_them(ffmpeg_exe, tmp_path):
    script = (
        "import threading\n"
        "from nommer.core.ffmpeg import FfmpegRun, Sandbox, launcher\n"
        f"run = FfmpegRun([{ffmpeg_exe!r}, '-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i',"
        " 'testsrc2=size=320x240:rate=25', '-t', '600', '-f', 'null', '-'],"
        f" sandbox=Sandbox(write=({str(tmp_path)!r},), landlock={ABI >= 1}))\n"
        "threading.Timer(0.5, lambda: print(run.pid, launcher.launcher().server_pid, flush=True)).start()\n"
        "run.run()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    child, server = map(int, parent.stdout.readline().split())
    assert parent_of(child) == server
    kill_parent_and_expect_child_gone(parent, child)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not running(server):
            break
        time.sleep(0.05)
    else:
        os.kill(server, signal.SIGKILL)
        pytest.fail("the sandbox server outlived its process")


def test_a_run_too_large_for_the_server_goes_through_the_wrapper(tmp_path):
    box = Sandbox(write=(str(tmp_path),), landlock=ABI >= 1)
    word = "x" * (launcher.MAX_REQUEST + 10)
    child = box.start(["/bin/sh", "-c", 'echo ${#1} $PPID', "sh", word])
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    length, parent = out.decode().split()
    assert int(length) == len(word)
    assert int(parent) == os.getpid()  # the wrapper, exec'd in place: a child of this process
