"""The CMAF and DASH ladders, made for real and read back as a player would:
the DASH manifest parsed as XML and the HLS playlists as m3u8, every file
they name present, segment durations adding up, and every representation
decoded by the bundled ffmpeg."""

import os
import pathlib
import subprocess
import xml.etree.ElementTree as ET

import pytest

from nommer.core.model import results
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import dash, plan_job, run_plan
from nommer.core.ffmpeg.ladder import MASTER

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
SECONDS = 7  # two 6 s segments
PRESETS = ("cmaf-h264-ladder", "dash-h264-ladder")


@pytest.fixture(scope="module")
def made(make_clip, ffmpeg_exe, probe_media, tmp_path_factory):
    """Both ladders from a 16:9 854x480 clip (two rungs: 480p and 360p, whose even sizes differ in
    shape by a hair), in one run, then described."""
    source = make_clip("ladder-480.mp4", size="854x480", seconds=SECONDS, rate=10)
    work = tmp_path_factory.mktemp("dash")
    probe = probe_media(source)
    outputs = [{"destination": "unused/", "preset": name} for name in PRESETS]
    plans, targets = plan_job(ffmpeg_exe, source, probe, outputs, work)
    run_plan(plans[0], probe["duration"])
    facts = {name: results.describe(ffmpeg_exe, t) for name, t in zip(PRESETS, targets)}
    return {"folders": {name: t.path for name, t in zip(PRESETS, targets)}, "facts": facts,
            "targets": dict(zip(PRESETS, targets))}


def parse_mpd(path):
    """[(content type, representation id, width, height, [files], [seconds])] from an MPD, parsed
    here from the XML (not with nommer's reader)."""
    root = ET.parse(path).getroot()
    assert root.get("type") == "static"
    reps = []
    for aset in root.find("d:Period", NS).findall("d:AdaptationSet", NS):
        for rep in aset.findall("d:Representation", NS):
            template = rep.find("d:SegmentTemplate", NS)
            scale, number = int(template.get("timescale")), int(template.get("startNumber"))
            rid = rep.get("id")
            files = [template.get("initialization").replace("$RepresentationID$", rid)]
            seconds = []
            for s in template.find("d:SegmentTimeline", NS).findall("d:S", NS):
                for _ in range(int(s.get("r", 0)) + 1):
                    files.append(template.get("media").replace("$RepresentationID$", rid)
                                 .replace("$Number%05d$", f"{number:05d}"))
                    seconds.append(int(s.get("d")) / scale)
                    number += 1
            reps.append((aset.get("contentType"), rid, rep.get("width"), rep.get("height"), files, seconds))
    return root, reps


def duration_of(root):
    text = root.get("mediaPresentationDuration")
    return dash.seconds(text)


def decode(ffmpeg_exe, folder, files, tmp_path, name):
    """Decode init + segments joined as one fragmented MP4; seconds decoded."""
    joined = tmp_path / f"{name}.mp4"
    with open(joined, "wb") as out:
        for f in files:
            out.write((folder / f).read_bytes())
    done = subprocess.run([ffmpeg_exe, "-hide_banner", "-v", "error", "-i", str(joined), "-f", "null", "-"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    return joined


@pytest.mark.parametrize("name", PRESETS)
def test_every_representation_of_the_mpd_is_whole_and_decodes(made, name, ffmpeg_exe, probe_media, tmp_path):
    import pathlib

    folder = pathlib.Path(made["folders"][name])
    root, reps = parse_mpd(folder / dash.MPD)
    total = duration_of(root)
    assert total == pytest.approx(SECONDS, abs=0.1)
    assert sorted((c, w, h) for c, _, w, h, _, _ in reps) == [
        ("audio", None, None), ("video", "640", "360"), ("video", "854", "480")]
    listed = set()
    for content, rid, _, _, files, seconds in reps:
        assert len(seconds) == 2  # 7 s in 6 s segments
        assert sum(seconds) == pytest.approx(total, abs=0.1)
        assert all((folder / f).is_file() for f in files), files
        listed.update(files)
        joined = decode(ffmpeg_exe, folder, files, tmp_path, rid)
        info = probe_media(joined)
        assert [s["type"] for s in info["streams"]] == [content]
        assert info["duration"] == pytest.approx(SECONDS, abs=0.1)
    # Nothing is left unlisted but the manifests.
    left = set(os.listdir(folder)) - listed
    assert left == ({dash.MPD, MASTER, "media_0.m3u8", "media_1.m3u8", "media_2.m3u8"}
                    if name == "cmaf-h264-ladder" else {dash.MPD})


def read_m3u8(path):
    """(tags, uris) of a playlist: [(tag, value)] and [(uri, seconds)] of its media lines."""
    tags, uris, seconds = [], [], None
    lines = path.read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    for line in lines[1:]:
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            tags.append((tag, value))
            if tag == "#EXTINF":
                seconds = float(value.split(",")[0])
        elif line.strip():
            uris.append((line.strip(), seconds))
            seconds = None
    return tags, uris


def test_cmaf_hls_playlists_use_the_same_segments_as_its_mpd(made, ffmpeg_exe):
    import pathlib

    folder = pathlib.Path(made["folders"]["cmaf-h264-ladder"])
    _, reps = parse_mpd(folder / dash.MPD)
    by_init = {files[0]: files[1:] for _, _, _, _, files, _ in reps}
    tags, variants = read_m3u8(folder / MASTER)
    audio = [v for t, v in tags if t == "#EXT-X-MEDIA" and "TYPE=AUDIO" in v]
    assert len(audio) == 1 and len(variants) == 2
    inf = [v for t, v in tags if t == "#EXT-X-STREAM-INF"]
    assert all('AUDIO="' in v and "RESOLUTION=" in v for v in inf)
    playlists = [u for u, _ in variants] + [audio[0].split('URI="')[1].rstrip('"')]
    for playlist in playlists:
        ptags, segments = read_m3u8(folder / playlist)
        init = dict(ptags)["#EXT-X-MAP"].split('URI="')[1].rstrip('"')
        assert [s for s, _ in segments] == by_init[init]  # the very files the MPD names
        assert sum(s for _, s in segments) == pytest.approx(SECONDS, abs=0.1)
        assert ("#EXT-X-ENDLIST", "") in ptags
    played = subprocess.run(
        [ffmpeg_exe, "-v", "error", "-protocol_whitelist", "file", "-i", str(folder / MASTER), "-map", "0",
         "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0 and not played.stderr.strip(), played.stderr


@pytest.mark.parametrize("name", PRESETS)
def test_video_representations_show_one_aspect_ratio(made, name):
    """ffmpeg's dash muxer refuses an AdaptationSet whose renditions differ
    in shape; 854x480 and 640x360 do, by a hair, so 360p is tagged with
    480p's shape (as ffmpeg reduces it)."""
    from fractions import Fraction

    root = ET.parse(pathlib.Path(made["folders"][name]) / dash.MPD).getroot()
    shapes = set()
    for rep in root.iter("{urn:mpeg:dash:schema:mpd:2011}Representation"):
        if rep.get("width"):
            sar = Fraction(*map(int, rep.get("sar", "1:1").split(":")))
            shapes.add(Fraction(int(rep.get("width")), int(rep.get("height"))) * sar)
    assert len(shapes) == 1 and float(shapes.pop()) == pytest.approx(854 / 480, rel=0.002)


def test_dash_ladder_writes_no_hls_playlists(made):
    assert not [f for f in os.listdir(made["folders"]["dash-h264-ladder"]) if f.endswith(".m3u8")]


@pytest.mark.parametrize("name", PRESETS)
def test_result_of_a_ladder_names_its_manifests_renditions_and_durations(made, name):
    facts = made["facts"][name]
    assert facts["playlist"] == dash.MPD
    assert ("hls_playlist" in facts) == (name == "cmaf-h264-ladder")
    assert [(r["content"], r["name"], r["segments"]) for r in facts["renditions"]] == [
        ("video", "480p", 2), ("video", "360p", 2), ("audio", "audio", 2)]
    assert (facts["width"], facts["height"]) == (854, 480)
    assert facts["duration"] == pytest.approx(SECONDS, abs=0.1)
    folder = made["folders"][name]
    assert facts["size"] == sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    segments = {k: v for k, v in facts["durations"].items() if k.startswith("chunk-")}
    assert len(segments) == 6 and sum(segments.values()) == pytest.approx(3 * SECONDS, abs=0.3)
    made_result = results.summary(facts, [(f, 1) for f in sorted(os.listdir(folder))], folder=True)
    assert made_result["playlist"] == dash.MPD and results.result_bytes(made_result) <= results.MAX_RESULT_BYTES
    book = results.manifest(facts, [(f, 1) for f in sorted(os.listdir(folder))])
    types = {f["path"]: f["content_type"] for f in book["files"]}
    assert types[dash.MPD] == "application/dash+xml"
    assert {t for p, t in types.items() if p.endswith(".m4s")} == {"video/iso.segment"}


def test_a_segment_the_mpd_lists_but_that_is_missing_fails_the_output(made, ffmpeg_exe, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(made["folders"]["dash-h264-ladder"], folder)
    (folder / "chunk-1-00002.m4s").unlink()
    target = made["targets"]["dash-h264-ladder"]
    with pytest.raises(JobFailed) as err:
        results.describe(ffmpeg_exe, type(target)(target.index, str(folder), target.requested))
    assert err.value.code == "ENCODE_FAILED" and "chunk-1-00002.m4s" in str(err.value)


@pytest.mark.parametrize("text,seconds", [("PT4.0S", 4.0), ("PT1H2M3.5S", 3723.5), ("P1DT1S", 86401.0),
                                          ("4s", None), ("", None)])
def test_mpd_durations_are_read_as_xs_duration(text, seconds):
    assert dash.seconds(text) == seconds


def test_manifests_are_stored_after_the_segments_they_list(made):
    from nommer.core.ports.storage import folder_files

    order = folder_files(made["folders"]["cmaf-h264-ladder"])
    assert set(order[-2:]) == {dash.MPD, MASTER}
    last_segment = max(i for i, f in enumerate(order) if f.endswith(".m4s"))
    assert all(order.index(p) > last_segment for p in order if p.endswith((".m3u8", ".mpd")))


def test_an_unreadable_mpd_fails_the_output(made, ffmpeg_exe, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(made["folders"]["dash-h264-ladder"], folder)
    (folder / dash.MPD).write_text("<MPD><Period>")
    target = made["targets"]["dash-h264-ladder"]
    with pytest.raises(JobFailed) as err:
        results.describe(ffmpeg_exe, type(target)(target.index, str(folder), target.requested))
    assert err.value.code == "ENCODE_FAILED" and "DASH manifest" in str(err.value)
