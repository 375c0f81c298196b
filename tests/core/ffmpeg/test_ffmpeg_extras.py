"""The extra output options: what each accepts, the field a bad value is
refused under, and how they adjust a preset's arguments."""

import pytest

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import extras, validate_output
from nommer.core.ffmpeg.command import Tuning, check_source
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE

H264 = BUILT_IN_CATALOGUE.get("mp4-h264-480p")


def parse(**fields):
    return validate_output({"destination": "file:///o.mp4", "preset": "mp4-h264-480p", **fields}).extras


@pytest.mark.parametrize("given, target, peak, measure_only", [
    ("ebu-r128", -23, -1, False),
    ("atsc-a85", -24, -2, False),
    ("streaming", -16, -1, False),
    ("measure", -23, -1, True),
    (-18, -18, -1, False),
    ({"target": "atsc-a85", "true_peak": -3}, -24, -3, False),
    ({"target": -14.5, "range": 7, "measure_only": True}, -14.5, -1, True),
])
def test_loudness_targets(given, target, peak, measure_only):
    found = parse(loudness=given).loudness
    assert (found.target, found.true_peak, found.measure_only) == (target, peak, measure_only)


@pytest.mark.parametrize("fields, field", [
    ({"loudness": -4}, "outputs[0].loudness"),
    ({"loudness": {"target": -71}}, "outputs[0].loudness.target"),
    ({"loudness": {"target": "ebu"}}, "outputs[0].loudness.target"),
    ({"loudness": {"true_peak": 0.5}}, "outputs[0].loudness.true_peak"),
    ({"loudness": {"range": 60}}, "outputs[0].loudness.range"),
    ({"loudness": {"gain": 3}}, "outputs[0].loudness.gain"),
    ({"loudness": {"measure_only": "yes"}}, "outputs[0].loudness.measure_only"),
    ({"loudness": True}, "outputs[0].loudness"),
    ({"loudness": float("nan")}, "outputs[0].loudness"),
    ({"quality": []}, "outputs[0].quality"),
    ({"quality": ["vmaf", 3]}, "outputs[0].quality[1]"),
    ({"target_vmaf": 100.5}, "outputs[0].target_vmaf"),
    ({"target_vmaf": True}, "outputs[0].target_vmaf"),
    ({"keep_if_smaller": 1}, "outputs[0].keep_if_smaller"),
])
def test_bad_values_are_refused_naming_the_field(fields, field):
    with pytest.raises(InvalidInput) as refused:
        parse(**fields)
    assert refused.value.field == field


@pytest.mark.parametrize("preset, fields, field", [
    ("m4a-aac", {"quality": ["psnr"]}, "outputs[0].quality"),
    ("thumbnails-jpeg", {"target_vmaf": 90}, "outputs[0].target_vmaf"),
    ("hls-h264-ladder", {"loudness": "ebu-r128"}, "outputs[0].loudness"),
    ("poster-jpeg", {"keep_if_smaller": True}, "outputs[0].keep_if_smaller"),
    ("poster-jpeg", {"loudness": -23}, "outputs[0].loudness"),
])
def test_options_a_preset_cannot_honour_are_refused(preset, fields, field):
    with pytest.raises(InvalidInput) as refused:
        validate_output({"destination": "file:///o", "preset": preset, **fields})
    assert refused.value.field == field


def test_passes_take_none_of_them():
    with pytest.raises(InvalidInput) as refused:
        validate_output({"destination": "file:///o.mp4", "options": [{"outfile_options": [["c:v", "libx264"]]}],
                         "quality": ["vmaf"]})
    assert refused.value.field == "outputs[0].quality"


def test_a_target_vmaf_measures_vmaf_after_the_encode():
    assert parse(target_vmaf=93, quality=["ssim"]).metrics == ("ssim", "vmaf")
    assert parse(quality=["vmaf", "psnr", "vmaf"]).quality == ("psnr", "vmaf")
    assert not parse()


def test_tuning_replaces_the_crf_and_adds_the_audio_filter_before_the_path():
    args = [*H264.output_args, "/w/out-0.mp4"]
    tuned = Tuning(crf=31, audio_filter="loudnorm=I=-23.0").apply(args)
    assert tuned[tuned.index("-crf") + 1] == "31"
    assert tuned[-5:] == ["-af", "loudnorm=I=-23.0", "-ar", "48000", "/w/out-0.mp4"]
    assert extras.preset_crf(H264) == 23 and extras.codec_of(H264) == "libx264"


def test_loudness_needs_a_source_with_audio():
    output = {"destination": "file:///o.mp4", "preset": "mp4-h264-480p", "loudness": "ebu-r128"}
    video_only = {"streams": [{"type": "video", "width": 320, "height": 240}]}
    with pytest.raises(JobFailed) as failed:
        check_source(output, video_only)
    assert failed.value.code == "NO_AUDIO_STREAM"


def test_keep_if_smaller_skips_larger_outputs_and_missed_targets():
    wanted = parse(keep_if_smaller=True, target_vmaf=93)
    assert "larger than its source" in extras.skip_reason(wanted, {"size": 1001}, 1000)
    assert extras.skip_reason(wanted, {"size": 1000, "target_vmaf": {"measured_vmaf": 92.5}}, 1000) is None
    assert "below its target_vmaf" in extras.skip_reason(
        wanted, {"size": 10, "target_vmaf": {"measured_vmaf": 91.9}}, 1000)


def test_the_filters_nommer_builds_pass_the_checks_of_user_filters():
    from nommer.core.ffmpeg import loudness, quality, safety

    wanted = parse(loudness={"target": -16.5, "true_peak": -1.5, "range": 9}).loudness
    measured = {"integrated": -40.123, "range": 3.2, "true_peak": -30.0, "threshold": -50.5, "offset": 0.4}
    graph = loudness.correct_filter(wanted, measured)
    safety.check_filtergraph("af", graph, "outputs[0].loudness")
    assert "I=-16.5:TP=-1.5:LRA=9.0:measured_I=-40.12" in graph
    args = quality.compare_args("/w/out.mp4", "/w/source.mp4", ("psnr", "ssim", "vmaf"), 640, 360, "o0")
    graph = args[args.index("-filter_complex") + 1]
    # The score files are bare names in the run's own folder.
    for name in quality.files(("psnr", "ssim", "vmaf"), "o0").values():
        assert f"={name}" in graph and "/" not in name
    with pytest.raises(ValueError):
        quality.files(("vmaf",), "../x")
