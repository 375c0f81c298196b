"""A real ``python -m nommer.encoder`` process over a fresh data folder: jobs
placed in the store and on the queue are fetched, encoded and uploaded."""

import os
import signal
import time

import pytest

from nommer.core import ffmpeg
from nommer.core.model.jobs import State
from nommer.core.feeder.service import JobService
from nommer.testing.media import make_clip

from .farm import (
    decodes, farm_env, ffmpeg_processes_in, open_parts, place_job, start_encoder, state_history,
    uri, video_stream, wait_final, wait_for,
)


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    root = tmp_path_factory.mktemp("farm")
    media = root / "media"
    media.mkdir()
    env = farm_env(root / "data", [media], jobs_per_encoder=2)
    parts = open_parts(env)
    clip = make_clip(ffmpeg_exe, media / "source.mp4", seconds=2.0, size="1280x720")
    proc = start_encoder(env, "enc-test-1", root / "encoder.log")
    yield {"env": env, "parts": parts, "media": media, "clip": clip, "proc": proc, "root": root}
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(30) == 0, (root / "encoder.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        parts.close()










def assert_work_folder_empty(farm, job):
    # The job's final state is written before its work folder goes, so the
    # folder may outlive the state by a moment; it must not outlive it long.
    work = farm["root"] / "data" / "work"

    def leftovers():
        return [p.name for p in work.iterdir() if p.name.startswith(job.id)] if work.exists() else []

    try:
        wait_for(lambda: not leftovers(), 10, "the job's work folder to go")
    except AssertionError:
        assert leftovers() == []


@pytest.mark.parametrize("preset, height", [("mp4-h264-480p", 480), ("mp4-h264-720p", 720)])
def test_preset_job_encodes(farm, ffmpeg_exe, preset, height):
    out = farm["media"] / f"out-{preset}.mp4"
    job = place_job(farm["parts"], uri(farm["clip"]), [{"destination": uri(out), "preset": preset}])
    done = wait_final(farm["parts"].store, job.id, timeout=120)
    assert done.state == State.FINISHED, done.details
    assert done.attempt == 1 and done.progress == 100 and done.encoder_id == "enc-test-1"
    assert done.outputs[0]["result"]["size"] == out.stat().st_size
    assert decodes(ffmpeg_exe, out)
    info = ffmpeg.probe(ffmpeg_exe, out)
    assert video_stream(info)["height"] == height
    assert abs(info["duration"] - 2.0) <= 2 / 25 + 0.03  # within a frame or two
    assert done.probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert state_history(farm["parts"], job.id) == ["DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    assert farm["parts"].new_jobs.depth() == (0, 0)
    assert_work_folder_empty(farm, job)


def mp4_top_boxes(path):
    boxes = []
    with open(path, "rb") as f:
        while True:
            header = f.read(8)
            if len(header) < 8:
                return boxes
            size, kind = int.from_bytes(header[:4], "big"), header[4:].decode("latin-1")
            if size == 1:
                size = int.from_bytes(f.read(8), "big")
                f.seek(size - 16, 1)
            else:
                f.seek(size - 8, 1)
            boxes.append(kind)


def test_legacy_two_pass_with_old_option_names(farm, ffmpeg_exe):
    out = farm["media"] / "legacy.mp4"
    first = {"infile_options": [], "outfile_options": [
        ["vcodec", "libx264"], ["vprofile", "baseline"], ["b", "300k"], ["an", None]]}
    second = {"infile_options": [], "outfile_options": [
        ["vcodec", "libx264"], ["vprofile", "baseline"], ["b", "300k"],
        ["acodec", "libfaac"], ["ab", "96k"], ["ar", "48000"], ["ac", "2"]],
        "move_atom_to_front": True}
    job = place_job(farm["parts"], uri(farm["clip"]),
                    [{"destination": uri(out), "options": [first, second]}])
    done = wait_final(farm["parts"].store, job.id, timeout=120)
    assert done.state == State.FINISHED, done.details
    assert decodes(ffmpeg_exe, out)
    boxes = mp4_top_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    info = ffmpeg.probe(ffmpeg_exe, out)
    assert {s["codec"] for s in info["streams"]} >= {"h264", "aac"}
    assert any("libfaac" in note and "aac" in note for note in done.notes)  # the translation is told
    assert done.details == ""  # details are for what went wrong


def test_missing_source_ends_in_error(farm):
    job = place_job(farm["parts"], uri(farm["media"] / "nope.mp4"),
                    [{"destination": uri(farm["media"] / "x.mp4"), "preset": "mp4-h264-480p"}])
    done = wait_final(farm["parts"].store, job.id)
    assert done.state == State.ERROR
    assert done.error_code == "SOURCE_NOT_FOUND"
    assert "does not exist" in done.details and "Traceback" not in done.details
    assert farm["parts"].new_jobs.depth() == (0, 0)
    assert not (farm["media"] / "x.mp4").exists()
    assert_work_folder_empty(farm, job)
    assert farm["proc"].poll() is None


def test_source_that_is_not_media_ends_in_error(farm):
    text = farm["media"] / "notes.mp4"
    text.write_bytes(bytes(range(256)) * 40)  # text would be refused as unsafe first
    job = place_job(farm["parts"], uri(text),
                    [{"destination": uri(farm["media"] / "y.mp4"), "preset": "mp4-h264-480p"}])
    done = wait_final(farm["parts"].store, job.id)
    assert done.state == State.ERROR
    assert done.error_code == "SOURCE_UNREADABLE"
    assert "not a media file" in done.details
    assert farm["parts"].new_jobs.depth() == (0, 0)
    assert_work_folder_empty(farm, job)
    assert farm["proc"].poll() is None


def test_failing_ffmpeg_puts_its_stderr_in_the_details(farm):
    out = farm["media"] / "bad.mp4"
    job = place_job(farm["parts"], uri(farm["clip"]), [{"destination": uri(out), "options": [
        {"outfile_options": [["c:v", "libx264"], ["pix_fmt", "no_such_format"]]}]}])
    done = wait_final(farm["parts"].store, job.id)
    assert done.state == State.ERROR
    assert done.error_code == "ENCODE_FAILED"
    assert "no_such_format" in done.details  # ffmpeg's own words
    assert "ENCODE_FAILED" not in done.details  # the code is said once, in error_code
    assert "/work/" not in done.details and " @ 0x" not in done.details  # no internal paths
    assert "Error opening output file out-0.mp4." in done.details
    assert not out.exists()
    assert_work_folder_empty(farm, job)
    assert farm["proc"].poll() is None




@pytest.fixture(scope="module")
def long_clip(farm, ffmpeg_exe):
    return make_clip(ffmpeg_exe, farm["media"] / "long.mp4", seconds=60.0, size="640x360")


def test_cancel_during_encoding_stops_ffmpeg(farm, long_clip):
    store = farm["parts"].store
    job = place_job(farm["parts"], uri(long_clip),
                    [{"destination": uri(farm["media"] / "c.mp4"), "preset": "mp4-h264-720p"}])
    wait_for(lambda: store.get(job.id).state == State.ENCODING and store.get(job.id).progress > 0,
             60, "encoding to start")
    JobService(store, farm["parts"].storage).cancel(job.id)
    started = time.monotonic()
    work = farm["root"] / "data" / "work"
    wait_for(lambda: not ffmpeg_processes_in(work), 2.0, "ffmpeg to stop")
    wait_for(lambda: farm["parts"].new_jobs.depth() == (0, 0), 5, "the message to go")
    assert time.monotonic() - started < 2.5
    assert store.get(job.id).state == State.CANCELED
    assert not (farm["media"] / "c.mp4").exists()
    wait_for(lambda: not any(p.name.startswith(job.id) for p in work.iterdir()), 5, "work folder cleanup")


def test_sigterm_hands_unfinished_work_back(tmp_path, ffmpeg_exe, long_clip, farm):
    env = farm_env(tmp_path / "data", [farm["media"]], stop_grace=0)
    parts = open_parts(env)
    try:
        proc = start_encoder(env, "enc-stop", tmp_path / "enc.log")
        job = place_job(parts, uri(long_clip),
                        [{"destination": uri(farm["media"] / "never.mp4"), "preset": "mp4-h264-720p"}])
        wait_for(lambda: parts.store.get(job.id).state == State.ENCODING, 60, "encoding")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        released = parts.store.get(job.id)
        assert released.state == State.PENDING
        assert released.attempt == 0 and released.encoder_id is None
        assert "released by encoder enc-stop" in released.details
        assert parts.new_jobs.depth() == (1, 0)  # visible again at once
        # a fresh message: the stop does not count toward dead-lettering
        [message] = parts.new_jobs.receive(visibility_timeout=30)
        assert message.receive_count == 1 and job.id in message.body
        assert not ffmpeg_processes_in(tmp_path / "data")
        assert parts.store.encoders() == []
    finally:
        parts.close()


def test_idle_encoder_stops_by_itself(tmp_path, farm):
    env = farm_env(tmp_path / "data", [farm["media"]], max_inactivity=1)
    proc = start_encoder(env, "enc-idle", tmp_path / "enc.log")
    try:
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    parts = open_parts(env)
    try:
        assert parts.store.encoders() == []
    finally:
        parts.close()


def test_one_slot_encoder_works_jobs_one_after_another(tmp_path, farm):
    env = farm_env(tmp_path / "data", [farm["media"]], jobs_per_encoder=1)
    parts = open_parts(env)
    proc = start_encoder(env, "enc-one-slot", tmp_path / "enc.log")
    try:
        jobs = [place_job(parts, uri(farm["clip"]), [
            {"destination": uri(farm["media"] / f"one-{n}.mp4"), "preset": "mp4-h264-360p"}])
            for n in range(3)]
        done = [wait_final(parts.store, job.id, timeout=120) for job in jobs]
        assert [j.state for j in done] == [State.FINISHED] * 3, [j.details for j in done]
        spans = sorted((j.started_at, j.finished_at) for j in done)
        for (_, first_end), (second_start, _) in zip(spans, spans[1:]):
            assert first_end <= second_start  # one slot: never two jobs at once
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        parts.close()


def test_destination_outside_the_roots_fails_before_encoding(farm, tmp_path):
    job = place_job(farm["parts"], uri(farm["clip"]),
                    [{"destination": uri(tmp_path / "elsewhere.mp4"), "preset": "mp4-h264-360p"}])
    done = wait_final(farm["parts"].store, job.id)
    assert done.state == State.ERROR and done.error_code == "DESTINATION_INVALID"
    assert "outputs[0].destination" in done.details and "file_roots" in done.details
    assert done.probe is None  # it never got as far as the source
    assert not (tmp_path / "elsewhere.mp4").exists()


def test_a_jobs_ffmpeg_runs_confined_and_limited(farm, long_clip):
    """The encoder starts ffmpeg through the sandbox: no new privileges (so
    Landlock took hold, on kernels that have it) and the output budget as
    its file size limit."""
    from nommer.core.config import SETTINGS_BY_NAME
    from nommer.core.ffmpeg.sandbox import landlock_abi

    store = farm["parts"].store
    job = place_job(farm["parts"], uri(long_clip),
                    [{"destination": uri(farm["media"] / "confined.mp4"), "preset": "mp4-h264-720p"}])
    work = farm["root"] / "data" / "work"
    try:
        pids = wait_for(lambda: [p for p in ffmpeg_processes_in(work) if encoding(p)], 60, "the encode to start")
        status = open(f"/proc/{pids[0]}/status").read()
        limits = open(f"/proc/{pids[0]}/limits").read()
    finally:
        JobService(store, farm["parts"].storage).cancel(job.id)
    no_new_privs = next(line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs:"))
    assert no_new_privs == ("1" if landlock_abi() >= 1 else "0")
    fsize = next(line.split()[3:5] for line in limits.splitlines() if line.startswith("Max file size"))
    # The whole budget is left (the source does not count), as soft and
    # hard limit: ffmpeg cannot raise it.
    assert fsize == [str(SETTINGS_BY_NAME["max_output_bytes"].default)] * 2
    wait_for(lambda: store.get(job.id).state == State.CANCELED, 10, "the job to be canceled")


def encoding(pid):
    """Whether process ``pid`` is an encode's ffmpeg itself (not its wrapper before the exec)."""
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return b"-progress" in argv and os.path.basename(argv[0]).startswith(b"ffmpeg")
