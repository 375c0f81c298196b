import os
import sys
import threading
import time

import pytest

from tests.core.ffmpeg.processes import kill_parent_and_expect_child_gone

from nommer.core.errors import Canceled, JobFailed
from nommer.core.ffmpeg import FfmpegRun, PlanRun, build_commands, run_plan


def long_encode(ffmpeg_exe):
    """Some 60 s of video at -preset medium: seconds of work on two cores."""
    return [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats",
            "-f", "lavfi", "-i", "testsrc2", "-t", "60", "-c:v", "libx264", "-preset", "medium",
            "-f", "null", os.devnull]


def assert_gone(pid):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(f"/proc/{pid}")


def test_cancel_from_another_thread_stops_ffmpeg_quickly(ffmpeg_exe):
    started = threading.Event()
    run = FfmpegRun(long_encode(ffmpeg_exe), duration=60, on_progress=lambda p: started.set())
    canceled_at = []

    def cancel_soon():
        started.wait(10)
        canceled_at.append(time.monotonic())
        run.cancel()

    threading.Thread(target=cancel_soon, daemon=True).start()
    with pytest.raises(Canceled) as err:
        run.run()
    assert time.monotonic() - canceled_at[0] < 2.0
    assert str(err.value) == "encoding was canceled"
    assert_gone(run.pid)


def test_canceled_raised_by_on_progress_kills_ffmpeg(ffmpeg_exe):
    def stop(_percent):
        raise Canceled("the job was canceled")

    run = FfmpegRun(long_encode(ffmpeg_exe), duration=60, on_progress=stop)
    with pytest.raises(Canceled, match="the job was canceled"):
        run.run()
    assert_gone(run.pid)


def test_timeout_fails_the_job(ffmpeg_exe):
    run = FfmpegRun(long_encode(ffmpeg_exe), timeout=0.5)
    began = time.monotonic()
    with pytest.raises(JobFailed) as err:
        run.run()
    assert err.value.code == "TIMED_OUT"
    assert time.monotonic() - began < 3
    assert_gone(run.pid)


def test_cancel_before_start_never_starts_ffmpeg(ffmpeg_exe, sample_clip, tmp_path):
    plan = build_commands(ffmpeg_exe, sample_clip, tmp_path / "o.mp4", {"preset": "mp4-h264-360p"}, tmp_path)
    plan_run = PlanRun(plan)
    plan_run.cancel()
    with pytest.raises(Canceled):
        plan_run.run()
    assert not (tmp_path / "o.mp4").exists()


def test_bad_option_value_fails_with_ffmpegs_words(ffmpeg_exe, sample_clip, tmp_path):
    output = {"options": [{"outfile_options": [["vcodec", "libx264"], ["preset", "notapreset"]]}]}
    plan = build_commands(ffmpeg_exe, sample_clip, tmp_path / "o.mp4", output, tmp_path)
    with pytest.raises(JobFailed) as err:
        run_plan(plan)
    assert err.value.code == "ENCODE_FAILED"
    message = str(err.value)
    assert message.startswith("ffmpeg failed (exit ")
    assert "invalid preset 'notapreset'" in message
    assert "Stream mapping" not in message  # descriptions are left to the log


def test_two_passes_report_one_rising_percent(ffmpeg_exe, sample_clip, tmp_path):
    pass_options = [["c:v", "libx264"], ["b:v", "200k"], ["preset", "veryfast"], ["stats_period", "0.02"]]
    output = {"options": [{"outfile_options": pass_options}, {"outfile_options": pass_options}]}
    plan = build_commands(ffmpeg_exe, sample_clip, tmp_path / "o.mp4", output, tmp_path / "w")
    seen = []
    results = run_plan(plan, duration=2.0, on_progress=seen.append)
    assert [r.returncode for r in results] == [0, 0]
    assert seen == sorted(set(seen)) and seen[-1] == 100
    assert 50 in seen  # the first pass ends half-way
    assert any(p > 50 for p in seen[:-1]), seen


def test_cancel_kills_a_child_that_ignores_sigterm_and_its_whole_group(tmp_path):
    # A stand-in for a hung ffmpeg: ignores SIGTERM and has a child of its own.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(tmp_path / 'child')!r}, 'w').write(str(child.pid))\n"
        "print('out_time_us=1000000', 'progress=continue', sep='\\n', flush=True)\n"
        "time.sleep(60)\n"
    )
    run = FfmpegRun([sys.executable, "-c", script], duration=10, on_progress=lambda p: run.cancel())
    began = time.monotonic()
    with pytest.raises(Canceled):
        run.run()
    assert 1.5 < time.monotonic() - began < 4  # SIGTERM was ignored; SIGKILL came after the grace
    assert_gone(run.pid)
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and process_state(child) not in (None, "Z"):
        time.sleep(0.05)
    assert process_state(child) in (None, "Z")  # dead; its reaping is init's business


def process_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_a_missing_ffmpeg_binary_names_the_setting(tmp_path):
    from nommer.core.errors import ConfigError
    from nommer.core.ffmpeg import FfmpegRun

    with pytest.raises(ConfigError, match="setting 'ffmpeg': '/no/such/ffmpeg' is not an executable program"):
        FfmpegRun(["/no/such/ffmpeg", "-version"]).run()


def test_ffmpeg_dies_with_the_process_that_started_it(ffmpeg_exe, tmp_path):
    """A parent killed with SIGKILL takes its ffmpeg with it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, threading\n"
        "from nommer.core.ffmpeg import FfmpegRun\n"
        f"run = FfmpegRun([{ffmpeg_exe!r}, '-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i',"
        " 'testsrc2=size=320x240:rate=25', '-t', '600', '-f', 'null', '-'])\n"
        "threading.Timer(0.5, lambda: (print(run.pid, flush=True))).start()\n"
        "run.run()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    kill_parent_and_expect_child_gone(parent, child)


def test_error_lines_name_files_by_their_names_and_drop_addresses():
    from nommer.core.ffmpeg.runner import error_lines

    tail = ("[vost#0:0/libx264 @ 0x55c63c770e40] Unknown pixel format requested: x.\n"
            "Error opening output file /srv/nommer-data/work/01a2-1-enc/out-0.mp4.\n"
            "/srv/nommer-data/work/01a2-1-enc/source.mov: Invalid data found when processing input\n"
            "Stream ratio 16/9 kept; http://example.com/a/b.mp4 kept\n")
    assert error_lines(tail).splitlines() == [
        "[vost#0:0/libx264] Unknown pixel format requested: x.",
        "Error opening output file out-0.mp4.",
        "source.mov: Invalid data found when processing input",
        "Stream ratio 16/9 kept; http://example.com/a/b.mp4 kept",
    ]


def test_on_header_gets_the_source_described_as_a_probe_reads_it(ffmpeg_exe, sample_clip, probe_media, tmp_path):
    from nommer.core.ffmpeg.probe import parse_probe

    told = []
    plan = build_commands(ffmpeg_exe, sample_clip, tmp_path / "out.mp4", {"preset": "mp4-h264-360p"},
                          tmp_path / "w")
    FfmpegRun(plan.commands[0], duration=2, on_header=told.append).run()
    assert len(told) == 1 and told[0].startswith("Input #0, mov,mp4,")
    assert parse_probe(told[0]) == probe_media(sample_clip)


def test_on_header_gets_none_when_ffmpeg_opens_no_input(ffmpeg_exe, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01\x02" * 1000)
    told = []
    with pytest.raises(JobFailed) as err:
        FfmpegRun([ffmpeg_exe, "-hide_banner", "-nostdin", "-i", str(junk), "-f", "null", os.devnull],
                  on_header=told.append).run()
    assert err.value.code == "ENCODE_FAILED"
    assert told == [None]


def test_an_error_from_on_header_kills_the_run_and_comes_out_of_it(ffmpeg_exe):
    class Refused(Exception):
        pass

    def refuse(_header):
        raise Refused("not this one")

    began = time.monotonic()
    run = FfmpegRun(long_encode(ffmpeg_exe), duration=60, on_header=refuse)
    with pytest.raises(Refused):
        run.run()
    assert time.monotonic() - began < 10  # not the minute of encoding
    assert_gone(run.pid)
