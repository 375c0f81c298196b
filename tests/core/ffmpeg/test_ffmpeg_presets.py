import pytest

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import PRESETS, build_commands, get_preset, run_plan


def encode(ffmpeg_exe, source, tmp_path, preset):
    out = tmp_path / f"{preset}.mp4"
    plan = build_commands(ffmpeg_exe, source, out, {"preset": preset}, tmp_path / "work")
    run_plan(plan)
    return out


def video(info):
    return next(s for s in info["streams"] if s["type"] == "video")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_never_upscales_and_keeps_duration(ffmpeg_exe, sample_clip, probe_media, tmp_path, preset):
    info = probe_media(encode(ffmpeg_exe, sample_clip, tmp_path, preset))
    assert (video(info)["width"], video(info)["height"]) == (320, 240)
    assert video(info)["codec"] == "h264"
    assert [s["codec"] for s in info["streams"] if s["type"] == "audio"] == ["aac"]
    assert abs(info["duration"] - 2.0) <= 0.1


@pytest.mark.parametrize("preset,height", [("mp4-h264-360p", 360), ("mp4-h264-480p", 480),
                                           ("mp4-h264-720p", 720), ("mp4-h264-1080p", 1080)])
def test_preset_scales_a_larger_source_down_keeping_aspect(
    ffmpeg_exe, make_clip, probe_media, tmp_path, preset, height
):
    source = make_clip("hd.mp4", size="1920x1080", seconds=1, rate=10)
    v = video(probe_media(encode(ffmpeg_exe, source, tmp_path, preset)))
    assert v["height"] == height
    assert v["width"] % 2 == 0 and abs(v["width"] - height * 16 / 9) <= 2


def test_odd_sized_source_gives_even_dimensions(ffmpeg_exe, make_clip, probe_media, tmp_path):
    source = make_clip(
        "odd.mkv", size="321x241", pattern="testsrc",
        video_args=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"),
    )
    assert video(probe_media(source))["height"] == 241
    v = video(probe_media(encode(ffmpeg_exe, source, tmp_path, "mp4-h264-480p")))
    assert v["height"] == 240 and v["width"] % 2 == 0


def test_unknown_preset_names_field_and_lists_known_ones():
    with pytest.raises(InvalidInput) as err:
        get_preset("mp4-h264-4k", "outputs[1].preset")
    assert err.value.field == "outputs[1].preset"
    assert "unknown preset 'mp4-h264-4k'" in str(err.value)
    assert "mp4-h264-720p" in str(err.value)


def test_video_preset_refuses_audio_only_source():
    audio_only = {"streams": [{"index": 0, "type": "audio", "codec": "mp3"},
                              {"index": 1, "type": "video", "codec": "mjpeg", "attached_pic": True}]}
    with pytest.raises(JobFailed) as err:
        PRESETS["mp4-h264-360p"].check_source(audio_only)
    assert err.value.code == "SOURCE_NO_VIDEO"


def test_check_source_passes_a_clip_with_video(probe_media, sample_clip):
    from nommer.core.ffmpeg import check_source

    check_source({"preset": "mp4-h264-360p"}, probe_media(sample_clip))
    with pytest.raises(JobFailed):
        check_source({"preset": "mp4-h264-360p"}, {"streams": []})
