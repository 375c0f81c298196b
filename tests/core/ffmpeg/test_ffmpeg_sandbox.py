"""ffmpeg through the sandbox wrapper: real runs under Landlock and resource
limits, trying to write, read and connect where a job's ffmpeg must not."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.core.ffmpeg.processes import kill_parent_and_expect_child_gone

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import FfmpegRun, PlanRun, Sandbox, build_commands
from nommer.core.ffmpeg import sandbox as sandbox_mod

ABI = sandbox_mod.landlock_abi()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")


@pytest.fixture
def places(tmp_path):
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    return work, outside


def encode(ffmpeg_exe, *outputs, seconds=1, extra=()):
    """A short test pattern encoded to each of ``outputs`` (argv lists)."""
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *extra,
            "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=10:duration={seconds}"]
    for out in outputs:
        argv += list(out)
    return argv


def run(argv, work, **sandbox):
    return FfmpegRun(argv, duration=1, cwd=str(work), sandbox=Sandbox(write=(str(work),), **sandbox)).run()


@needs_landlock
def test_ffmpeg_writes_in_its_work_folder(ffmpeg_exe, places):
    work, _ = places
    result = run(encode(ffmpeg_exe, ["-c:v", "libx264", "out.mp4"]), work)
    assert result.returncode == 0
    assert (work / "out.mp4").stat().st_size > 1000


@needs_landlock
@pytest.mark.parametrize("how", ["output", "second output", "vstats_file", "passlogfile"])
def test_ffmpeg_cannot_write_outside_its_work_folder(ffmpeg_exe, places, how):
    work, outside = places
    target = str(outside / "x.mp4")
    argv = {
        "output": encode(ffmpeg_exe, ["-c:v", "libx264", target]),
        "second output": encode(ffmpeg_exe, ["-c:v", "libx264", "in.mp4"], ["-c:v", "mpeg4", target]),
        "vstats_file": encode(ffmpeg_exe, ["-c:v", "libx264", "-vstats_file", str(outside / "vstats"),
                                           "in.mp4"]),
        "passlogfile": encode(ffmpeg_exe, ["-c:v", "libx264", "-pass", "1", "-passlogfile",
                                           str(outside / "log"), "in.mp4"]),
    }[how]
    ffmpeg = FfmpegRun(argv, duration=1, cwd=str(work), sandbox=Sandbox(write=(str(work),)))
    with pytest.raises(JobFailed) as err:
        ffmpeg.run()
    assert err.value.code == "ENCODE_FAILED"
    said = ffmpeg.stderr_tail()
    assert "Permission denied" in said or "can't open stats file" in said  # x264's words
    assert list(outside.iterdir()) == []


@needs_landlock
def test_ffmpeg_cannot_read_beyond_its_inputs(ffmpeg_exe, places, sample_clip):
    work, outside = places
    secret = outside / "secret.mp4"
    secret.write_bytes(sample_clip.read_bytes())
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-i", str(secret), "-c", "copy", "copy.mp4"]
    with pytest.raises(JobFailed, match="Permission denied"):
        run(argv, work)
    assert not (work / "copy.mp4").exists()
    # The same file inside the work folder, or allowed by name, is read.
    os.link(secret, work / "source.mp4")
    argv[argv.index(str(secret))] = str(work / "source.mp4")
    assert run(argv, work).returncode == 0
    argv[argv.index(str(work / "source.mp4"))] = str(secret)
    assert run(argv, work, read=(str(secret),)).returncode == 0


@needs_landlock
@pytest.mark.skipif(ABI < 4, reason="TCP rules need Landlock ABI 4")
def test_ffmpeg_cannot_connect_anywhere(ffmpeg_exe, places):
    work, _ = places
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-i", f"tcp://127.0.0.1:{port}", "-f", "null", "-"]
    try:
        with pytest.raises(JobFailed, match="Permission denied"):
            run(argv, work)
        with pytest.raises(TimeoutError):
            listener.accept()[0].close()  # nobody came
    finally:
        listener.close()


def wrapped(program_argv, work, **sandbox):
    """Run any program through the wrapper, as the runner does."""
    argv = Sandbox(write=(str(work),), **sandbox).wrap(program_argv)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=work)


@needs_landlock
def test_no_symbolic_link_device_or_pipe_in_the_work_folder(places):
    # A link there would lead the unconfined uploader to any file.
    work, _ = places
    for argv in (["/usr/bin/ln", "-s", "/etc/passwd", str(work / "link")],
                 ["/usr/bin/mkfifo", str(work / "fifo")]):
        done = wrapped(argv, work)
        assert done.returncode != 0 and "Permission denied" in done.stderr, done
    assert list(work.iterdir()) == []


@needs_landlock
@pytest.mark.skipif(ABI < 6, reason="signal scoping needs Landlock ABI 6")
def test_no_signal_to_a_process_outside(places):
    work, _ = places
    victim = subprocess.Popen(["sleep", "30"])
    try:
        done = wrapped(["/usr/bin/kill", "-TERM", str(victim.pid)], work)
        assert done.returncode != 0
        time.sleep(0.2)
        assert victim.poll() is None  # still alive
    finally:
        victim.kill()
        victim.wait()


def test_a_file_past_the_budget_ends_in_output_too_large(ffmpeg_exe, places):
    # One file: RLIMIT_FSIZE stops the write itself (SIGXFSZ), even unconfined.
    work, _ = places
    argv = encode(ffmpeg_exe, ["-c:v", "rawvideo", "-f", "nut", "raw.nut"], seconds=5)
    run_ = FfmpegRun(argv, duration=5, cwd=str(work), sandbox=Sandbox(
        write=(str(work),), landlock=False, max_bytes=100_000))
    with pytest.raises(JobFailed) as err:
        run_.run()
    assert err.value.code == "OUTPUT_TOO_LARGE"
    assert "max_output_bytes" in str(err.value) and "100000 bytes" in str(err.value)
    assert (work / "raw.nut").stat().st_size <= 100_000


@needs_landlock
def test_files_together_past_the_budget_end_in_output_too_large(ffmpeg_exe, places):
    # Each file stays under the limit; together they pass it.
    work, _ = places
    (work / "source.bin").write_bytes(b"x" * 50_000)  # the source, not counted
    argv = encode(ffmpeg_exe, ["-c:v", "rawvideo", "-f", "nut", "a.nut"],
                  ["-c:v", "rawvideo", "-f", "nut", "b.nut"], seconds=0.4)
    one_file = 160 * 120 * 3 // 2 * 4  # four yuv420p frames, a little less than a file
    with pytest.raises(JobFailed) as err:
        run(argv, work, max_bytes=int(one_file * 1.5), uncounted=50_000)
    assert err.value.code == "OUTPUT_TOO_LARGE"
    # The same run fits a budget for both (what the first left counts too).
    for name in ("a.nut", "b.nut"):
        (work / name).unlink(missing_ok=True)
    assert run(argv, work, max_bytes=one_file * 3, uncounted=50_000).returncode == 0


def test_no_budget_left_never_starts_ffmpeg(ffmpeg_exe, places):
    work, _ = places
    (work / "earlier.mp4").write_bytes(b"x" * 2000)
    run_ = FfmpegRun(encode(ffmpeg_exe, ["-c:v", "libx264", "out.mp4"]), cwd=str(work),
                     sandbox=Sandbox(write=(str(work),), max_bytes=1000))
    with pytest.raises(JobFailed) as err:
        run_.run()
    assert err.value.code == "OUTPUT_TOO_LARGE"
    assert run_.pid is None


def test_a_wrapper_that_cannot_confine_ends_in_confinement_unavailable(ffmpeg_exe, places):
    work, _ = places
    with pytest.raises(JobFailed) as err:
        run(encode(ffmpeg_exe, ["-c:v", "libx264", "out.mp4"]), work, read=("/no/such/font.ttf",))
    assert err.value.code == "CONFINEMENT_UNAVAILABLE"
    assert "/no/such/font.ttf" in str(err.value)
    assert list(work.iterdir()) == []


def test_limits_reach_ffmpeg(ffmpeg_exe, places):
    work, _ = places
    done = wrapped(["/bin/sh", "-c", "ulimit -f; ulimit -c; while read -r key value; do case $key in SigIgn:|NoNewPrivs:) echo $key $value;; esac; done < /proc/$$/status"],
                   work, landlock=ABI >= 1)
    assert done.returncode == 0, done.stderr
    fsize, core, ignored, no_new_privs = done.stdout.split("\n")[:4]
    assert fsize == "unlimited" and core == "0"
    # Python ignores SIGPIPE and SIGXFSZ; the program gets their default actions.
    mask = int(ignored.split()[1], 16)
    assert not mask & (1 << (signal.SIGXFSZ - 1)) and not mask & (1 << (signal.SIGPIPE - 1))
    assert no_new_privs.split()[1] == ("1" if ABI >= 1 else "0")
    done = subprocess.run(Sandbox(write=(str(work),), landlock=False).wrap(
        ["/bin/sh", "-c", "ulimit -f"], fsize=10 * 512), capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "10"  # in 512-byte blocks


@needs_landlock
def test_two_passes_under_the_sandbox(ffmpeg_exe, sample_clip, places):
    # Pass 1 writes /dev/null and its log in the work folder; pass 2 reads it.
    work, _ = places
    source = work / "source.mp4"
    source.write_bytes(sample_clip.read_bytes())
    pass_options = [["c:v", "libx264"], ["b:v", "200k"], ["preset", "veryfast"]]
    output = {"options": [{"outfile_options": pass_options}, {"outfile_options": pass_options}]}
    plan = build_commands(ffmpeg_exe, source, work / "out.mp4", output, work / "passes")
    assert any("/dev/null" in argv or os.devnull in argv for argv in plan.commands), plan.commands
    results = PlanRun(plan, duration=2, sandbox=Sandbox(write=(str(work),), max_bytes=10**8,
                                                        uncounted=source.stat().st_size)).run()
    assert [r.returncode for r in results] == [0, 0]
    assert (work / "out.mp4").stat().st_size > 1000


def test_ffmpeg_in_the_sandbox_dies_with_the_process_that_started_it(ffmpeg_exe, tmp_path):
    script = (
        "import sys, threading\n"
        "from nommer.core.ffmpeg import FfmpegRun, Sandbox\n"
        f"run = FfmpegRun([{ffmpeg_exe!r}, '-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i',"
        " 'testsrc2=size=320x240:rate=25', '-t', '600', '-f', 'null', '-'],"
        f" sandbox=Sandbox(write=({str(tmp_path)!r},), landlock={ABI >= 1}, max_bytes=10**6))\n"
        "threading.Timer(0.5, lambda: (print(run.pid, flush=True))).start()\n"
        "run.run()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    with open(f"/proc/{child}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == ffmpeg_exe.encode()  # the wrapper exec'd it
    kill_parent_and_expect_child_gone(parent, child)


@pytest.mark.parametrize("args, message", [
    (["--write"], "unknown or incomplete option '--write'"),
    (["--fsize", "ten", "--", "/bin/true"], "--fsize takes a whole number, not 'ten'"),
    (["--bogus", "x", "--", "/bin/true"], "unknown or incomplete option '--bogus'"),
    (["--write", "/tmp"], "no program given after --"),
    (["--write", "/tmp", "--"], "no program given after --"),
])
def test_wrapper_refuses_bad_arguments(args, message):
    done = subprocess.run([sys.executable, "-I", "-S", sandbox_mod.__file__, *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == sandbox_mod.EXIT_SANDBOX
    assert done.stderr == f"nommer sandbox: {message}\n"


def test_rules_fit_each_path_and_abi(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    font = tmp_path / "font.ttf"
    font.write_bytes(b"")
    found = dict(sandbox_mod.rules([str(work)], [str(font)], [], abi=1))
    # ABI 1 knows neither REFER nor TRUNCATE; a file rule carries file rights only.
    assert found[str(work)] & (sandbox_mod.FS_REFER | sandbox_mod.FS_TRUNCATE) == 0
    assert found[str(work)] & sandbox_mod.FS_MAKE_REG
    assert found[str(font)] == sandbox_mod.FS_READ_FILE
    found = dict(sandbox_mod.rules([str(work)], [], [], abi=7))
    assert found[str(work)] & sandbox_mod.FS_TRUNCATE
    assert found[str(work)] & (sandbox_mod.FS_MAKE_SYM | sandbox_mod.FS_MAKE_FIFO | sandbox_mod.FS_EXECUTE) == 0
    with pytest.raises(sandbox_mod.SandboxError, match="/no/such: no such file or folder to allow"):
        sandbox_mod.rules(["/no/such"], [], [], abi=7)


@needs_landlock
def test_probes_read_only_the_work_folder(ffmpeg_exe, places, sample_clip):
    from nommer.core.ffmpeg.probe import has_packets, probe

    work, outside = places
    inside = work / "source.mp4"
    inside.write_bytes(sample_clip.read_bytes())
    secret = outside / "secret.mp4"
    secret.write_bytes(sample_clip.read_bytes())
    box = Sandbox(write=(str(work),))
    assert probe(ffmpeg_exe, inside, sandbox=box)["duration"] > 1
    assert has_packets(ffmpeg_exe, inside, sandbox=box)
    with pytest.raises(JobFailed, match="Permission denied") as err:
        probe(ffmpeg_exe, secret, sandbox=box)
    assert err.value.code == "SOURCE_UNREADABLE"
    assert not has_packets(ffmpeg_exe, secret, sandbox=box)


def test_a_probe_that_cannot_be_confined_ends_in_confinement_unavailable(ffmpeg_exe, places, sample_clip):
    from nommer.core.ffmpeg.probe import probe

    work, _ = places
    inside = work / "source.mp4"
    inside.write_bytes(sample_clip.read_bytes())
    with pytest.raises(JobFailed) as err:
        probe(ffmpeg_exe, inside, sandbox=Sandbox(write=(str(work),), read=("/no/such/lut.cube",)))
    assert err.value.code == "CONFINEMENT_UNAVAILABLE"
    assert "/no/such/lut.cube" in str(err.value)


@needs_landlock
@pytest.mark.parametrize("abi", sorted({1, 2, 3, 4, 5, 6, ABI}))
def test_each_older_abi_still_confines_files(places, abi):
    # As on an older kernel: only the rights that ABI knows are handled.
    if abi > ABI:
        pytest.skip(f"this kernel has Landlock ABI {ABI}")
    work, outside = places
    code = (
        f"import os, sys; sys.path.append({os.path.dirname(sandbox_mod.__file__)!r}); import sandbox; "
        f"sandbox.confine([{str(work)!r}], [], ['/usr/bin/touch'], abi={abi}); "
        f"os.execv('/usr/bin/touch', ['touch', {str(work / 'in')!r}, {str(outside / 'out')!r}])"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "Permission denied" in done.stderr, done
    assert (work / "in").exists() and not (outside / "out").exists()
