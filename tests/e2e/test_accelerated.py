"""Accelerated jobs through real encoder processes on the embedded backends:
the job is planned in pieces, the pieces are encoded by whichever slot is
free, the stitch joins them, and the output is the source's frames and
sound (docs/accelerated.md)."""

import shutil
import subprocess

import pytest

from nommer.core.ffmpeg import segments, verify
from nommer.core.model import pieces
from nommer.core.model.jobs import State

from .farm import decodes, encoder_farm, place_job, uri, wait_final

SECONDS, RATE = 12, 25
# Small and quick: segments of 3 s, acceleration from 5 s of source.
SETTINGS = {"jobs_per_encoder": 2, "segment_seconds": 3, "accelerate_min_seconds": 5}


def make_source(ffmpeg, path, seconds=SECONDS, gop=RATE, size="320x240"):
    """A clip of moving pattern and tone, a key frame every ``gop`` frames."""
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={RATE}:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "64k", "-t", str(seconds), str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory, ffmpeg_exe):
    return make_source(ffmpeg_exe, tmp_path_factory.mktemp("accel-src") / "source.mp4")


def scan_of(ffmpeg, path, work):
    return segments.scan(ffmpeg, path, work, {"streams": [{"type": "video"}, {"type": "audio"}]})


def check_whole(ffmpeg, out, source, work):
    """The output holds the source's frames at their times and its sound."""
    scan = scan_of(ffmpeg, source, work / "scan")
    measured = verify.check(ffmpeg, out, scan, work / "check")
    assert measured.frames == len(scan.frames) == SECONDS * RATE
    assert measured.video[1] - measured.video[0] == pytest.approx(SECONDS - 1 / RATE, abs=1 / RATE)
    assert measured.audio is not None
    assert decodes(ffmpeg, out)


def test_one_encoder_with_two_slots_makes_an_accelerated_job(tmp_path, ffmpeg_exe, source):
    with encoder_farm(tmp_path, "enc-a", **SETTINGS) as farm:
        src = shutil.copy(source, farm["media"] / "source.mp4")
        out = farm["media"] / "out.mp4"
        job = place_job(farm["parts"], uri(src), [{"destination": uri(out), "preset": "mp4-h264-360p"}],
                        acceleration="ENABLED")
        done = wait_final(farm["parts"].store, job.id, timeout=180)

        assert done.state == State.FINISHED, done.details
        segs = [p for p in done.pieces if p["kind"] == pieces.SEGMENT]
        assert len(segs) == SECONDS // 3
        assert [p["kind"] for p in done.pieces if p["kind"] != pieces.SEGMENT] == [pieces.AUDIO, pieces.STITCH]
        assert all(p["state"] == pieces.DONE and p["encoder_id"] == "enc-a" and p["attempt"] == 1
                   for p in done.pieces)
        assert done.progress == 100 and done.encoder_id is None
        assert any(n.startswith("accelerated: 4 segments") for n in done.notes)
        check_whole(ffmpeg_exe, out, src, tmp_path)
        # The pieces' files are gone with the job, and so is every work folder.
        assert not (tmp_path / "data" / "scratch" / job.id).exists()
        assert farm["parts"].new_jobs.depth() == (0, 0)


def test_a_short_source_preferring_acceleration_is_encoded_whole_and_says_why(tmp_path, ffmpeg_exe, source):
    with encoder_farm(tmp_path, "enc-b", **{**SETTINGS, "accelerate_min_seconds": 60}) as farm:
        src = shutil.copy(source, farm["media"] / "source.mp4")
        out = farm["media"] / "out.mp4"
        job = place_job(farm["parts"], uri(src), [{"destination": uri(out), "preset": "mp4-h264-360p"}],
                        acceleration="PREFERRED")
        done = wait_final(farm["parts"].store, job.id, timeout=120)
        assert done.state == State.FINISHED, done.details
        assert done.pieces == ()
        assert any("not more than accelerate_min_seconds (60 s)" in n for n in done.notes), done.notes
        ended = place_job(farm["parts"], uri(src), [{"destination": uri(out), "preset": "mp4-h264-360p"}],
                          acceleration="ENABLED")
        failed = wait_final(farm["parts"].store, ended.id, timeout=120)
        assert failed.state == State.ERROR and failed.error_code == "ACCELERATION_INELIGIBLE"
        assert "acceleration is ENABLED, but the source lasts 12 s" in failed.details
        # A job that leaves it to the farm (PREFERRED by default) is encoded
        # whole without a word about it.
        quiet = place_job(farm["parts"], uri(src), [{"destination": uri(out), "preset": "mp4-h264-360p"}])
        whole = wait_final(farm["parts"].store, quiet.id, timeout=120)
        assert whole.state == State.FINISHED and whole.pieces == () and whole.acceleration is None
        assert not any("accelerat" in n for n in whole.notes), whole.notes


def test_far_key_frames_and_a_variable_frame_rate(tmp_path, ffmpeg_exe):
    """A source with a single key frame is not cut (PREFERRED: encoded whole,
    saying why; ENABLED: ACCELERATION_INELIGIBLE); a variable frame rate is
    cut and keeps every frame at its time."""
    with encoder_farm(tmp_path, "enc-v", **SETTINGS) as farm:
        store = farm["parts"].store
        far = make_source(ffmpeg_exe, farm["media"] / "far.mp4", gop=1000)
        vfr = farm["media"] / "vfr.mp4"
        # Three frames of every ten left out: gaps of 160 ms among 40 ms frames.
        subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={RATE}", "-f", "lavfi", "-i", "sine",
                        "-t", str(SECONDS), "-vf", r"select='not(between(mod(n\,10)\,3\,5))'", "-fps_mode", "vfr",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", str(vfr)], check=True, timeout=120)
        jobs = {name: place_job(farm["parts"], uri(src), [{"destination": uri(farm["media"] / f"{name}-out.mp4"),
                                                           "preset": "mp4-h264-360p"}], acceleration=mode)
                for name, src, mode in (("far-preferred", far, "PREFERRED"), ("far-enabled", far, "ENABLED"),
                                        ("vfr", vfr, "ENABLED"))}
        ended = {name: wait_final(store, job.id, timeout=180) for name, job in jobs.items()}

        preferred = ended["far-preferred"]
        assert preferred.state == State.FINISHED and preferred.pieces == ()
        assert any("key frames are too far apart" in n for n in preferred.notes), preferred.notes
        enabled = ended["far-enabled"]
        assert enabled.state == State.ERROR and enabled.error_code == "ACCELERATION_INELIGIBLE"
        assert "too far apart" in enabled.details
        assert ended["vfr"].state == State.FINISHED, ended["vfr"].details
        assert len([p for p in ended["vfr"].pieces if p["kind"] == pieces.SEGMENT]) == 4
        scan = scan_of(ffmpeg_exe, vfr, tmp_path / "scan-vfr")
        assert scan.variable_rate
        measured = verify.check(ffmpeg_exe, farm["media"] / "vfr-out.mp4", scan, tmp_path / "check-vfr")
        assert measured.frames == len(scan.frames) == SECONDS * RATE * 7 // 10


def test_two_outputs_of_one_job_are_cut_and_stitched_each(tmp_path, ffmpeg_exe, source):
    with encoder_farm(tmp_path, "enc-2", **{**SETTINGS, "segment_seconds": 6}) as farm:
        src = shutil.copy(source, farm["media"] / "source.mp4")
        outs = [farm["media"] / "two.mp4", farm["media"] / "two.webm"]
        job = place_job(farm["parts"], uri(src), [{"destination": uri(outs[0]), "preset": "mp4-h264-480p"},
                                                  {"destination": uri(outs[1]), "preset": "webm-vp9-720p"}],
                        acceleration="ENABLED")
        done = wait_final(farm["parts"].store, job.id, timeout=300)

        assert done.state == State.FINISHED, done.details
        assert [p["id"] for p in done.pieces] == ["o0-s0000", "o0-s0001", "o0-audio",
                                                  "o1-s0000", "o1-s0001", "o1-audio", "stitch"]
        assert [o["state"] for o in done.outputs] == ["FINISHED", "FINISHED"]
        for out in outs:
            check_whole(ffmpeg_exe, out, src, tmp_path / out.suffix[1:])
