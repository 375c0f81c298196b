"""The extra options' ffmpeg runs, with the bundled ffmpeg on tiny clips:
two-pass loudness normalization, quality scores, the CRF search."""

import subprocess

import pytest

from nommer.core.ffmpeg import extras, loudness, measuring, probe
from nommer.core.ffmpeg.command import Tuning
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE

H264 = BUILT_IN_CATALOGUE.get("mp4-h264-480p")


class Tools:
    """Runs ffmpeg in a folder, as the encoder's do (unconfined here)."""

    def __init__(self, ffmpeg, folder):
        self.ffmpeg, self.workdir = ffmpeg, str(folder)

    def run(self, args):
        done = subprocess.run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", *args], cwd=self.workdir,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr[-4000:]

    def size_of(self, path):
        video = next(s for s in probe(self.ffmpeg, path)["streams"] if s["type"] == "video")
        return video["width"], video["height"]


def clip(ffmpeg, path, audio, seconds=3):
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", audio,
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def tools(ffmpeg_exe, tmp_path_factory):
    return Tools(ffmpeg_exe, tmp_path_factory.mktemp("measuring"))


@pytest.mark.parametrize("audio", ["sine=frequency=440,volume=-38dB", "anoisesrc=color=white:amplitude=1"],
                         ids=["quiet", "loud"])
@pytest.mark.parametrize("target", ["ebu-r128", "streaming"])
def test_quiet_and_loud_sources_land_within_one_lu_of_the_target(tools, ffmpeg_exe, audio, target):
    source = clip(ffmpeg_exe, f"{tools.workdir}/{target}-{audio[:4]}.mp4", audio)
    wanted = extras.parse({"loudness": target}, "outputs[0]", H264).loudness
    before = measuring.measure_loudness(tools, source, wanted)
    assert abs(before["integrated"] - wanted.target) > 5  # far from it to start with
    out = f"{tools.workdir}/normalized.mp4"
    tools.run(["-i", str(source), *Tuning(audio_filter=loudness.correct_filter(wanted, before)).apply(
        [*H264.output_args, out])])
    after = measuring.measure_loudness(tools, out, wanted)
    assert after["integrated"] == pytest.approx(wanted.target, abs=1.0)
    assert after["true_peak"] <= wanted.true_peak + 0.5
    report = loudness.report(wanted, before, after)
    assert report["after"]["integrated"] == round(after["integrated"], 2)
    assert report["mode"] in ("linear", "dynamic")


def test_silence_is_not_measured(tools, ffmpeg_exe):
    source = clip(ffmpeg_exe, f"{tools.workdir}/silent.mp4", "anullsrc=sample_rate=48000", seconds=1)
    wanted = extras.parse({"loudness": "measure"}, "outputs[0]", H264).loudness
    assert measuring.measure_loudness(tools, source, wanted) is None


def test_scores_fall_as_the_crf_rises(tools, ffmpeg_exe):
    source = clip(ffmpeg_exe, f"{tools.workdir}/q.mp4", "sine", seconds=1)
    scores = []
    for crf in (18, 45):
        out = f"{tools.workdir}/q-{crf}.mp4"
        tools.run(["-i", str(source), "-vf", "scale=80:60", "-c:v", "libx264", "-crf", str(crf), "-an", out])
        scores.append(measuring.quality_report(tools, out, source, ("psnr", "ssim", "vmaf"), 80, 60, "t"))
    good, bad = scores
    for metric in ("psnr", "ssim", "vmaf"):
        assert good[metric]["frames"] == bad[metric]["frames"] == 25
        assert good[metric]["mean"] > bad[metric]["mean"]
        assert good[metric]["min"] <= good[metric]["p5"] <= good[metric]["mean"]
    assert 0 < bad["ssim"]["mean"] < good["ssim"]["mean"] <= 1
    assert good["seconds"] > 0


def test_crf_search_meets_the_target_on_its_samples(tools, ffmpeg_exe):
    source = clip(ffmpeg_exe, f"{tools.workdir}/s.mp4", "sine", seconds=2)
    choice = measuring.find_crf(tools, source, H264, 2.0, 90, "c")
    report = choice.report()
    assert report["predicted_vmaf"] >= 90 and report["preset_crf"] == 23
    at_preset = next(s for s in choice.found.tried if s.crf == 23)
    assert report["crf"] != 23 or at_preset.vmaf >= 90
    if report["crf"] > 23:
        assert report["predicted_bitrate_saved_percent"] > 0


def test_an_unreachable_target_stops_at_the_lowest_crf_the_encoder_takes(tools, ffmpeg_exe):
    source = clip(ffmpeg_exe, f"{tools.workdir}/hard.mp4", "sine", seconds=1)
    choice = measuring.find_crf(tools, source, H264, 1.0, 100, "u")
    assert choice.crf == min(s.crf for s in choice.found.tried) == 10
