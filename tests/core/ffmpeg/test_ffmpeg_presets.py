"""Every built-in preset, run for real on small generated clips (an odd-sized
landscape one and a portrait one, both with audio), all presets of a clip in
one ffmpeg run as the encoder runs them."""

import math
import os

import pytest

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import PRESETS, build_commands, get_preset, plan_job, run_plan
from nommer.core.ffmpeg.dash import MPD
from nommer.core.ffmpeg.ladder import MASTER

INTERVAL = 0.25
SECONDS = 1  # of each clip
# (video codec or None, audio codec or None, short side or None) of each preset
EXPECTED = {
    "mp4-h264-360p": ("h264", "aac", 360),
    "mp4-h264-480p": ("h264", "aac", 480),
    "mp4-h264-720p": ("h264", "aac", 720),
    "mp4-h264-1080p": ("h264", "aac", 1080),
    "mp4-h265-720p": ("hevc", "aac", 720),
    "mp4-h265-1080p": ("hevc", "aac", 1080),
    "webm-vp9-720p": ("vp9", "opus", 720),
    "mp4-av1-720p": ("av1", "aac", 720),
    "hls-h264-ladder": ("h264", "aac", None),
    "cmaf-h264-ladder": ("h264", "aac", None),
    "dash-h264-ladder": ("h264", "aac", None),
    "m4a-aac": (None, "aac", None),
    "ogg-opus": (None, "opus", None),
    "thumbnails-jpeg": ("mjpeg", None, 360),
    "poster-jpeg": ("mjpeg", None, 1080),
}
CLIPS = {
    # name: (size, frame rate, test pattern)
    "odd": ("321x241", 25, "testsrc"),
    "portrait": ("404x720", 10, "testsrc2"),
}


def test_every_built_in_preset_is_tested():
    assert set(EXPECTED) == set(PRESETS)


def expected_size(source_w, source_h, side):
    """Short side capped at ``side`` and rounded down to even, the long side
    following the aspect ratio, rounded to even."""
    landscape = source_w >= source_h
    short, long_ = (source_h, source_w) if landscape else (source_w, source_h)
    new_short = min(side, short // 2 * 2)
    new_long = 2 * math.floor(new_short * long_ / short / 2 + 0.5)
    return (new_long, new_short) if landscape else (new_short, new_long)


@pytest.fixture(scope="module", params=sorted(CLIPS))
def encoded(request, make_clip, ffmpeg_exe, probe_media, tmp_path_factory):
    """Every built-in preset made from one clip in one ffmpeg run."""
    size, rate, pattern = CLIPS[request.param]
    source = make_clip(f"{request.param}.mkv", size=size, seconds=SECONDS, rate=rate, pattern=pattern,
                       video_args=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"))
    work = tmp_path_factory.mktemp(f"presets-{request.param}")
    outputs = [{"destination": "unused", "preset": name} for name in sorted(PRESETS)]
    outputs[sorted(PRESETS).index("thumbnails-jpeg")]["interval"] = INTERVAL
    probe = probe_media(source)
    plans, targets = plan_job(ffmpeg_exe, source, probe, outputs, work)
    assert len(plans) == 1 and len(plans[0].commands) == 1  # one run, one decode
    run_plan(plans[0], probe["duration"])
    width, height = (int(x) for x in size.split("x"))
    return {"source": (width, height), "probe": probe,
            "paths": {o["preset"]: t.path for o, t in zip(outputs, targets)}}


def streams(info, kind):
    return [s for s in info["streams"] if s["type"] == kind]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_output_has_its_codecs_size_and_duration(encoded, probe_output, name):
    video_codec, audio_codec, side = EXPECTED[name]
    path = encoded["paths"][name]
    source_w, source_h = encoded["source"]
    duration = encoded["probe"]["duration"]
    if name == "thumbnails-jpeg":
        files = sorted(os.listdir(path))
        # One at 0 s, then every INTERVAL while the picture lasts.
        assert files == [f"thumb-{n:05d}.jpg" for n in range(1, math.ceil(SECONDS / INTERVAL) + 1)]
        path = os.path.join(path, files[-1])
    elif name in ("hls-h264-ladder", "cmaf-h264-ladder"):
        path = os.path.join(path, MASTER)
    elif name == "dash-h264-ladder":
        path = os.path.join(path, MPD)
    info = probe_output(path)
    videos, audios = streams(info, "video"), streams(info, "audio")
    assert [s["codec"] for s in audios[:1]] == ([audio_codec] if audio_codec else [])
    if video_codec is None:
        assert videos == []
    else:
        assert videos and {s["codec"] for s in videos} == {video_codec}
    if side is not None:
        assert (videos[0]["width"], videos[0]["height"]) == expected_size(source_w, source_h, side)
        assert videos[0]["sar"] in (None, "1:1")
    if name not in ("thumbnails-jpeg", "poster-jpeg"):
        assert info["duration"] == pytest.approx(duration, abs=0.1)


def test_ladder_keeps_only_renditions_no_larger_than_the_source(encoded, probe_output):
    folder = encoded["paths"]["hls-h264-ladder"]
    # Both clips are smaller than every rung but the smallest, which stays
    # at the source's own size.
    assert sorted(f for f in os.listdir(folder) if f.endswith(".m3u8")) == ["360p.m3u8", MASTER]
    video = streams(probe_output(os.path.join(folder, MASTER)), "video")
    assert len(video) == 1
    assert (video[0]["width"], video[0]["height"]) == expected_size(*encoded["source"], 360)


def test_ladder_from_a_720p_source_has_three_renditions(make_clip, ffmpeg_exe, probe_media, probe_output,
                                                       tmp_path):
    source = make_clip("hd720.mp4", size="1280x720", seconds=1, rate=10)
    plan = build_commands(ffmpeg_exe, source, tmp_path / "hls", {"preset": "hls-h264-ladder"},
                          tmp_path, probe=probe_media(source))
    run_plan(plan)
    master = (tmp_path / "hls" / MASTER).read_text()
    assert [ln for ln in master.splitlines() if ln.endswith(".m3u8")] == ["720p.m3u8", "480p.m3u8", "360p.m3u8"]
    assert "RESOLUTION=1280x720" in master and "RESOLUTION=640x360" in master
    heights = sorted(s["height"] for s in streams(probe_output(tmp_path / "hls" / MASTER), "video"))
    assert heights == [360, 480, 720]


@pytest.mark.parametrize("preset,height", [("mp4-h264-360p", 360), ("mp4-h264-1080p", 1080)])
def test_preset_scales_a_larger_source_down_keeping_aspect(
    ffmpeg_exe, make_clip, probe_media, tmp_path, preset, height
):
    source = make_clip("hd.mp4", size="1920x1080", seconds=1, rate=10)
    run_plan(build_commands(ffmpeg_exe, source, tmp_path / "out.mp4", {"preset": preset}, tmp_path))
    v = streams(probe_media(tmp_path / "out.mp4"), "video")[0]
    assert (v["width"], v["height"]) == (height * 16 // 9, height)


def test_anamorphic_source_comes_out_with_square_pixels(ffmpeg_exe, make_clip, probe_media, tmp_path):
    # 720x480 shown 16:9 wide (as DVDs are): the displayed size is 853.3x480.
    source = make_clip("anamorphic.mp4", size="720x480", seconds=0.5, rate=10,
                       video_args=("-vf", "setsar=32/27", "-c:v", "libx264", "-preset", "ultrafast"))
    assert streams(probe_media(source), "video")[0]["sar"] == "32:27"
    run_plan(build_commands(ffmpeg_exe, source, tmp_path / "o.mp4", {"preset": "mp4-h264-360p"}, tmp_path))
    v = streams(probe_media(tmp_path / "o.mp4"), "video")[0]
    assert (v["width"], v["height"], v["sar"]) == (640, 360, "1:1")


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
    assert err.value.code == "NO_VIDEO_STREAM"
    PRESETS["m4a-aac"].check_source(audio_only)  # audio presets are content


def test_audio_preset_refuses_silent_source():
    with pytest.raises(JobFailed) as err:
        PRESETS["ogg-opus"].check_source({"streams": [{"index": 0, "type": "video", "codec": "h264"}]})
    assert err.value.code == "NO_AUDIO_STREAM"


def test_check_source_passes_a_clip_with_video(probe_media, sample_clip):
    from nommer.core.ffmpeg import check_source

    check_source({"preset": "mp4-h264-360p"}, probe_media(sample_clip))
    with pytest.raises(JobFailed):
        check_source({"preset": "mp4-h264-360p"}, {"streams": []})


def test_every_preset_describes_itself():
    for preset in PRESETS.values():
        about = preset.describe()
        assert about["kind"] in ("file", "hls", "cmaf", "dash", "images")
        assert about["description"] and about["extension"]
        assert about["origin"] == "built-in"


def test_docs_presets_table_is_current():
    import pathlib

    from nommer.core.ffmpeg.presets import presets_markdown

    text = (pathlib.Path(__file__).parents[3] / "docs" / "presets.md").read_text()
    assert presets_markdown() in text, "docs/presets.md is out of date: paste presets_markdown() into it"


@pytest.mark.parametrize("name", ["cmaf-h264-ladder", "dash-h264-ladder"])
def test_dash_renditions_are_named_by_their_short_side(encoded, ffmpeg_exe, name):
    from nommer.core.model import results
    from nommer.core.ffmpeg import Target, validate_output

    path = encoded["paths"][name]
    facts = results.describe(ffmpeg_exe, Target(0, path, validate_output({"preset": name})))
    video = [r for r in facts["renditions"] if r["content"] == "video"]
    width, height = expected_size(*encoded["source"], 360)
    assert [(r["name"], r["width"], r["height"]) for r in video] == [(f"{min(width, height)}p", width, height)]
