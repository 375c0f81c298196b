"""What an output reports about itself, read from the files made; and the
master playlist written when ffmpeg could not write a useful one."""

import os
import subprocess

import pytest

from nommer.core import results
from nommer.core.ffmpeg import plan_job, run_plan
from nommer.core.ffmpeg.hls_master import lists_renditions


def make(ffmpeg_exe, probe_media, source, tmp_path, *presets):
    outputs = [{"destination": "unused", "preset": p} for p in presets]
    probe = probe_media(source)
    plans, targets = plan_job(ffmpeg_exe, source, probe, outputs, tmp_path)
    for plan in plans:
        run_plan(plan, probe["duration"])
    return [results.describe(ffmpeg_exe, t) for t in targets], targets


def test_a_file_output_reports_size_duration_picture_and_bitrate(ffmpeg_exe, probe_media, sample_clip, tmp_path):
    (facts, poster), targets = make(ffmpeg_exe, probe_media, sample_clip, tmp_path, "mp4-h264-360p", "poster-jpeg")
    size = os.path.getsize(targets[0].path)
    assert facts["size"] == size
    assert (facts["width"], facts["height"]) == (320, 240)
    assert facts["duration"] == pytest.approx(2.0, abs=0.1)
    assert facts["bitrate"] == int(size * 8 / facts["duration"])
    # A still has a picture but no duration or bitrate.
    assert (poster["width"], poster["height"], poster["duration"], poster["bitrate"]) == (320, 240, None, None)


def test_result_adds_the_stored_uris():
    facts = {"size": 10, "duration": 1.0, "width": 2, "height": 2, "bitrate": 80,
             "renditions": [{"name": "360p", "playlist": "360p.m3u8", "width": 2, "height": 2}]}
    stored = [("s3://b/p/360p_00000.ts", 7), ("s3://b/p/360p.m3u8", 2), ("s3://b/p/master.m3u8", 1)]
    made = results.result(facts, stored, "s3://b/p/")
    assert made["files"] == [uri for uri, _ in stored] and made["size"] == 10
    assert made["playlist"] == "s3://b/p/master.m3u8"
    assert made["renditions"][0]["playlist"] == "s3://b/p/360p.m3u8"


def test_a_source_of_a_few_frames_still_gets_a_master_that_plays(ffmpeg_exe, make_clip, probe_media, tmp_path):
    # Five frames: too few for ffmpeg's encoders to announce a bitrate, and
    # ffmpeg's own master playlist then lists no rendition.
    source = make_clip("five-frames.mp4", size="320x240", seconds=0.5, rate=10)
    (facts,), (target,) = make(ffmpeg_exe, probe_media, source, tmp_path, "hls-h264-ladder")
    master = os.path.join(target.path, "master.m3u8")
    assert lists_renditions(master)
    assert [r["name"] for r in facts["renditions"]] == ["360p"]
    assert "360p.m3u8" in open(master).read()
    played = subprocess.run([ffmpeg_exe, "-v", "error", "-protocol_whitelist", "file", "-i", master,
                             "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0, played.stderr
