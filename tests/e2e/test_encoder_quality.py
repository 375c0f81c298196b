"""The extra output options through a real encoder process: loudness
normalized to its target, a quality report and a VMAF target in the
result, and keep_if_smaller leaving nothing at the destination."""

import json
import os
import subprocess

import pytest

from nommer.core.model.jobs import State
from nommer.core.model.resources import output_resource

from .farm import encoder_farm, place_job, uri, wait_final


BROKEN = {"broken": {"description": "asks for a pixel format that does not exist", "extension": "mp4",
                     "args": ["-c:v", "libx264", "-pix_fmt", "no_such_format"]}}


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    with encoder_farm(tmp_path_factory.mktemp("quality-farm"), "enc-quality",
                      jobs_per_encoder=2, presets=json.dumps(BROKEN)) as farm:
        yield farm


def clip(ffmpeg, path, audio="sine=frequency=440", seconds=2, video_args=("-crf", "23")):
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", audio,
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", *video_args,
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True, timeout=60)
    return path


def run_job(farm, source, outputs, timeout=120):
    job = place_job(farm["parts"], uri(source), outputs)
    return wait_final(farm["parts"].store, job.id, timeout=timeout)


def test_quiet_and_loud_sources_end_at_the_loudness_target(farm, ffmpeg_exe):
    media = farm["media"]
    quiet = clip(ffmpeg_exe, media / "quiet.mp4", "sine=frequency=440,volume=-36dB")
    loud = clip(ffmpeg_exe, media / "loud.mp4", "anoisesrc=color=pink:amplitude=1")
    outputs = [{"destination": uri(media / "norm" / f"{name}.m4a"), "preset": "m4a-aac", "loudness": "ebu-r128"}
               for name in ("quiet", "loud")]
    for source, output in zip((quiet, loud), outputs):
        done = run_job(farm, source, [output])
        assert done.state == State.FINISHED, done.details
        measured = done.outputs[0]["result"]["loudness"]
        assert measured["target"] == -23.0
        assert abs(measured["before"]["integrated"] + 23) > 5
        assert measured["after"]["integrated"] == pytest.approx(-23, abs=1.0)
        assert os.path.getsize(output["destination"][len("file://"):]) == done.outputs[0]["result"]["size"]


def test_quality_report_and_vmaf_target_in_the_result(farm, ffmpeg_exe):
    media = farm["media"]
    source = clip(ffmpeg_exe, media / "motion.mp4", video_args=("-qp", "0"))
    output = {"destination": uri(media / "q" / "out.mp4"), "preset": "mp4-h264-480p",
              "quality": ["psnr", "ssim", "vmaf"], "target_vmaf": 90}
    done = run_job(farm, source, [output])
    assert done.state == State.FINISHED, done.details
    result = done.outputs[0]["result"]
    for metric in ("psnr", "ssim", "vmaf"):
        assert result["quality"][metric]["frames"] == 50
        assert result["quality"][metric]["p5"] <= result["quality"][metric]["mean"]
    chosen = result["target_vmaf"]
    assert chosen["target"] == 90 and chosen["predicted_vmaf"] >= 90
    assert chosen["measured_vmaf"] == result["quality"]["vmaf"]["mean"]
    assert chosen["measured_vmaf"] == pytest.approx(chosen["predicted_vmaf"], abs=3)
    assert len(json.dumps(result)) <= 2048


def test_keep_if_smaller_skips_an_output_larger_than_its_source(farm, ffmpeg_exe):
    media = farm["media"]
    # Already squeezed hard: the preset's CRF 23 makes it larger.
    source = clip(ffmpeg_exe, media / "tiny.mp4", video_args=("-crf", "51"))
    skipped = {"destination": uri(media / "keep" / "skipped.mp4"), "preset": "mp4-h264-480p",
               "keep_if_smaller": True}
    kept = {"destination": uri(media / "keep" / "kept.mp4"), "preset": "mp4-h264-480p"}
    done = run_job(farm, source, [skipped, kept])
    assert done.state == State.FINISHED, done.details
    assert [o["state"] for o in done.outputs] == ["SKIPPED", "FINISHED"]
    assert "larger than its source" in done.outputs[0]["reason"]
    shown = output_resource(done.outputs[0])  # as GET /jobs/<id> and webhooks show it
    assert (shown["state"], shown["reason"], shown["result"]) == ("SKIPPED", done.outputs[0]["reason"], None)
    assert "result" not in done.outputs[0]
    assert not (media / "keep" / "skipped.mp4").exists()
    assert (media / "keep" / "kept.mp4").stat().st_size > source.stat().st_size


def test_an_output_tried_alone_after_a_failed_shared_run_keeps_its_loudness(farm, ffmpeg_exe):
    media = farm["media"]
    quiet = clip(ffmpeg_exe, media / "quiet-alone.mp4", "sine=frequency=440,volume=-36dB")
    outputs = [{"destination": uri(media / "alone" / "broken.mp4"), "preset": "broken"},
               {"destination": uri(media / "alone" / "norm.m4a"), "preset": "m4a-aac", "loudness": -16}]
    done = run_job(farm, quiet, outputs)
    assert done.state == State.ERROR
    assert [o["state"] for o in done.outputs] == ["ERROR", "FINISHED"]
    assert done.outputs[1]["result"]["loudness"]["after"]["integrated"] == pytest.approx(-16, abs=1.0)
