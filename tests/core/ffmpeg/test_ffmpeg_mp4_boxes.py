"""An MP4 that ffmpeg made is described from its boxes exactly as a probe
of it would describe it, for every built-in preset that makes one; any
other file is left to the probe."""

import os

import pytest

from nommer.core.ffmpeg import BUILT_IN_CATALOGUE, mp4_boxes, plan_job, run_plan
from nommer.core.ffmpeg.probe import probe
from nommer.core.model import results

MP4_PRESETS = [n for n in BUILT_IN_CATALOGUE.names()
               if BUILT_IN_CATALOGUE.get(n).kind == "file"
               and BUILT_IN_CATALOGUE.get(n).extension in results.MP4_EXTENSIONS]


def media_facts(info, size):
    return results._media(info, size)


@pytest.mark.parametrize("source_args", [
    # size, seconds, rate: a plain clip; an odd length and rate; an anamorphic picture
    ("320x240", 2, 25, ()),
    ("352x288", 1.37, 29.97, ()),
    ("320x240", 1, 25, ("-vf", "setsar=4/3")),
])
def test_every_mp4_preset_is_described_as_the_probe_describes_it(ffmpeg_exe, make_clip, tmp_path, source_args):
    size, seconds, rate, extra = source_args
    video = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra)
    source = make_clip(f"boxes-{size}-{seconds}-{rate}-{len(extra)}.mp4", size=size, seconds=seconds, rate=rate,
                       video_args=video)
    probed = probe(ffmpeg_exe, source)
    outputs = [{"destination": "unused", "preset": p} for p in MP4_PRESETS]
    plans, targets = plan_job(ffmpeg_exe, source, probed, outputs, tmp_path)
    for plan in plans:
        run_plan(plan, probed["duration"])
    assert targets
    for target in targets:
        read = mp4_boxes.describe(target.path)
        assert read is not None, target.requested.preset.name
        size_bytes = os.path.getsize(target.path)
        by_probe = probe(ffmpeg_exe, target.path, own=True)
        assert media_facts(read, size_bytes) == media_facts(by_probe, size_bytes), target.requested.preset.name
        assert results.describe(ffmpeg_exe, target)["duration"] == media_facts(by_probe, size_bytes)["duration"]


def test_other_files_are_left_to_the_probe(ffmpeg_exe, make_clip, tmp_path):
    webm = tmp_path / "a.webm"
    webm.write_bytes(b"\x1aE\xdf\xa3" + b"\0" * 100)
    assert mp4_boxes.describe(webm) is None
    broken = tmp_path / "broken.mp4"
    source = make_clip("boxes-plain.mp4")
    broken.write_bytes(source.read_bytes()[:200])  # cut before its moov
    assert mp4_boxes.describe(broken) is None
    lying = tmp_path / "lying.mp4"
    lying.write_bytes(b"\xff\xff\xff\xffmoov" + b"\0" * 32)  # a box longer than the file
    assert mp4_boxes.describe(lying) is None
    assert mp4_boxes.describe(tmp_path / "missing.mp4") is None


def test_a_fragmented_mp4_is_left_to_the_probe(ffmpeg_exe, make_clip, tmp_path):
    import subprocess

    out = tmp_path / "frag.mp4"
    subprocess.run([ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-i", str(make_clip("boxes-plain.mp4")),
                    "-c", "copy", "-movflags", "frag_keyframe+empty_moov", str(out)], check=True)
    assert mp4_boxes.describe(out) is None


def test_a_source_is_guessed_as_the_probe_will_describe_it(ffmpeg_exe, make_clip, tmp_path):
    source = make_clip("boxes-guess.mp4", size="352x288", seconds=1.37, rate=29.97)
    guessed, probed = mp4_boxes.guess(source), probe(ffmpeg_exe, source)
    assert set(guessed) == set(probed) and guessed["container"] == probed["container"]
    assert guessed["duration"] == probed["duration"]
    assert [set(s) for s in guessed["streams"]] == [set(s) for s in probed["streams"]]
    assert [(s["type"], s.get("width"), s.get("height")) for s in guessed["streams"]] == [
        (s["type"], s.get("width"), s.get("height")) for s in probed["streams"]]


def test_a_source_with_other_tracks_or_another_container_is_not_guessed(ffmpeg_exe, make_clip, tmp_path):
    import subprocess

    clip = make_clip("boxes-guess-2.mp4")
    texts = tmp_path / "texts.mp4"
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n\n", encoding="utf-8")
    subprocess.run([ffmpeg_exe, "-v", "error", "-y", "-i", str(clip), "-i", str(srt), "-map", "0", "-map", "1",
                    "-c", "copy", "-c:s", "mov_text", str(texts)], check=True)
    assert any(s["type"] == "subtitle" for s in probe(ffmpeg_exe, texts)["streams"])
    assert mp4_boxes.guess(texts) is None
    assert mp4_boxes.guess(make_clip("boxes-guess.mkv")) is None
    assert mp4_boxes.guess(tmp_path / "missing.mp4") is None
