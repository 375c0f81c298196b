"""The nommer command against a real feeder process and its encoders:
submit and wait with a progress bar, exit statuses, progress webhooks."""

import json
import os
import subprocess
import sys

import pytest

from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from .farm import wait_for
from .feeder import FeederProcess


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_exe):
    folder = tmp_path_factory.mktemp("cli-media")
    make_clip(ffmpeg_exe, folder / "clip.mp4", seconds=12.0, size="640x360")
    (folder / "notes.mp4").write_text("not moving pictures\n" * 50)
    return folder


@pytest.fixture(scope="module")
def feeder(tmp_path_factory, media):
    workdir = tmp_path_factory.mktemp("cli-feeder")
    f = FeederProcess(workdir, [media], max_encoders=1, max_inactivity=30,
                      presets=json.dumps(OPERATOR_PRESETS)).start()
    yield f
    assert f.stop() == 0, f.log()


OPERATOR_PRESETS = {"voice-mp3": {"description": "Speech as mono MP3", "extension": "mp3",
                                  "args": ["-vn", "-c:a", "libmp3lame", "-ac", "1", "-b:a", "48k"],
                                  "needs_video": False, "needs_audio": True}}


def nommer(feeder, *args, timeout=180):
    """Run ``python -m nommer.cli`` against the feeder; (status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env["NOMMER_URL"] = feeder.base
    done = subprocess.run([sys.executable, "-m", "nommer.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def percents(stderr):
    """The overall percents of the progress lines, in order."""
    return [int(line.split("]")[1].split("%")[0]) for line in stderr.splitlines() if "] " in line]


def test_submit_and_wait_shows_progress_and_exits_0(feeder, media):
    status, out, err = nommer(feeder, "submit", str(media / "clip.mp4"),
                              "--preset", "mp4-h264-360p", "--to", str(media / "out" / "clip-360.mp4"),
                              "--preset", "m4a-aac", "--to", str(media / "out" / "clip.m4a"), "--wait")
    assert status == 0, err
    job_id = out.splitlines()[0]
    assert len(job_id) == 20
    seen = percents(err)
    assert seen == sorted(seen) and seen[-1] == 100
    assert len({p for p in seen if 0 < p < 100}) >= 2, err  # progress shown while it ran
    assert "ENCODING" in err and "encode" in err
    assert f"job {job_id}: FINISHED (100%)" in out
    assert out.count(": FINISHED") == 3  # the job and its two outputs
    assert (media / "out" / "clip-360.mp4").stat().st_size > 0
    # The other commands see the same job.
    status, out, _ = nommer(feeder, "status", job_id, "--json")
    assert status == 0 and json.loads(out)["state"] == "FINISHED"
    status, out, _ = nommer(feeder, "list", "--state", "FINISHED")
    assert status == 0 and job_id in out
    status, _, err = nommer(feeder, "cancel", job_id)
    assert status == 2 and "already FINISHED" in err


def test_wait_on_a_failing_job_exits_non_zero_with_the_reason(feeder, media):
    status, out, err = nommer(feeder, "submit", str(media / "notes.mp4"),
                              "--preset", "mp4-h264-360p", "--to", str(media / "out" / "never.mp4"))
    assert status == 0
    job_id = out.strip()
    status, out, err = nommer(feeder, "wait", job_id)
    assert status == 1
    # a text file is refused before ffmpeg reads it (docs/security.md)
    assert f"nommer: job {job_id} ended ERROR (SOURCE_UNSAFE): the source is" in err
    assert out == ""


def test_a_refused_submission_shows_the_apis_message(feeder, media):
    status, out, err = nommer(feeder, "submit", str(media / "clip.mp4"), "--preset", "mp4-h264-4k",
                              "--to", str(media / "out" / "x.mp4"))
    assert (status, out) == (2, "")
    assert err.startswith("nommer: outputs[0].preset: unknown preset 'mp4-h264-4k'; known presets: ")


def test_presets_lists_the_catalogue_with_the_operators_own(feeder):
    status, out, _ = nommer(feeder, "presets")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert "hls-h264-ladder" in names and "thumbnails-jpeg" in names and "mp4-h265-1080p" in names
    assert names[-1] == "voice-mp3"


def test_an_operator_preset_reaches_the_encoders_the_feeder_starts(feeder, media, probe_media):
    status, out, err = nommer(feeder, "submit", str(media / "clip.mp4"), "--preset", "voice-mp3",
                              "--to", str(media / "out" / "voice.mp3"), "--wait")
    assert status == 0, err
    streams = probe_media(media / "out" / "voice.mp3")["streams"]
    assert [(s["codec"], s["channels"]) for s in streams] == [("mp3", 1)]


def test_progress_events_reach_the_webhook(feeder, media):
    receiver = Receiver()
    try:
        status, out, err = nommer(feeder, "submit", str(media / "clip.mp4"), "--preset", "mp4-h264-480p",
                                  "--to", str(media / "out" / "events.mp4"), "--notify", receiver.url,
                                  "--progress-events", "--wait")
        assert status == 0, err
        job_id = out.splitlines()[0]
        # The command saw FINISHED through the API; the webhook may come a moment later.
        wait_for(lambda: "FINISHED" in receiver.states(job_id), 30, "the FINISHED webhook")
        bodies = [json.loads(p["body"]) for p in list(receiver.posts)]
        progress = [b for b in bodies if b["event"] == "job.progress" and b["job_id"] == job_id]
        assert len(progress) >= 2
        overall = [b["job"]["progress"] for b in progress]
        assert overall == sorted(overall)
        assert receiver.states(job_id)[-1] == "FINISHED"
        assert {b["event"] for b in bodies} == {"job.progress", "job.state_changed"}
    finally:
        receiver.close()
