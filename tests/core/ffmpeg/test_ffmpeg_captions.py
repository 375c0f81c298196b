"""Subtitles of the source carried through, from a source with two subtitle
languages: mov_text streams in MP4, WebVTT sidecars listed by the HLS master
playlist and the DASH manifest of the HLS, CMAF and DASH ladders."""

import pathlib
import subprocess
import xml.etree.ElementTree as ET

import pytest

from nommer.core import results
from nommer.core.ffmpeg import captions, dash, plan_job, run_plan
from nommer.core.ffmpeg.ladder import MASTER
from nommer.testing.media import CUES, add_subtitles

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
PRESETS = ("mp4-h264-360p", "hls-h264-ladder", "cmaf-h264-ladder", "dash-h264-ladder")
LANGUAGES = ["eng", "ger"]


@pytest.fixture(scope="module")
def subtitled(make_clip, ffmpeg_exe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("subtitled")
    return add_subtitles(ffmpeg_exe, make_clip("captions.mp4", seconds=2), folder / "subtitled.mkv")


@pytest.fixture(scope="module")
def made(subtitled, ffmpeg_exe, probe_media, tmp_path_factory):
    work = tmp_path_factory.mktemp("captions")
    probe = probe_media(subtitled)
    outputs = [{"destination": "unused", "preset": name} for name in PRESETS]
    plans, targets = plan_job(ffmpeg_exe, subtitled, probe, outputs, work)
    run_plan(plans[0], probe["duration"])
    facts = {name: results.describe(ffmpeg_exe, t) for name, t in zip(PRESETS, targets)}
    return {"paths": {name: pathlib.Path(t.path) for name, t in zip(PRESETS, targets)}, "facts": facts}


def test_the_probe_tells_each_subtitle_streams_language(subtitled, probe_media):
    subs = [s for s in probe_media(subtitled)["streams"] if s["type"] == "subtitle"]
    assert [(s["codec"], s["language"]) for s in subs] == [("subrip", "eng"), ("subrip", "ger")]


def test_mp4_carries_both_languages_as_mov_text(made, probe_output, ffmpeg_exe, tmp_path):
    path = made["paths"]["mp4-h264-360p"]
    subs = [s for s in probe_output(path)["streams"] if s["type"] == "subtitle"]
    assert [(s["codec"], s["language"]) for s in subs] == [("mov_text", "eng"), ("mov_text", "ger")]
    for n, language in enumerate(LANGUAGES):
        out = tmp_path / f"{language}.srt"
        subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(path), "-map", f"0:s:{n}", str(out)],
                       check=True, timeout=30)
        assert [c[2] for c in CUES[language]] == [ln for ln in out.read_text().splitlines()
                                                   if ln in {c[2] for c in CUES[language]}]


def sidecar_texts(folder):
    return {name: (folder / name).read_text() for name in sorted(p.name for p in folder.glob("subs-*.vtt"))}


@pytest.mark.parametrize("name", ["hls-h264-ladder", "cmaf-h264-ladder", "dash-h264-ladder"])
def test_ladders_get_a_webvtt_sidecar_per_language(made, name):
    folder = made["paths"][name]
    texts = sidecar_texts(folder)
    assert list(texts) == ["subs-0-eng.vtt", "subs-1-ger.vtt"]
    for (file, text), language in zip(texts.items(), LANGUAGES):
        assert text.startswith("WEBVTT")
        assert all(cue[2] in text for cue in CUES[language])
    assert made["facts"][name]["subtitles"] == [{"language": "eng", "file": "subs-0-eng.vtt"},
                                               {"language": "ger", "file": "subs-1-ger.vtt"}]


@pytest.mark.parametrize("name", ["hls-h264-ladder", "cmaf-h264-ladder"])
def test_hls_master_lists_the_subtitles_and_every_variant_names_them(made, name, ffmpeg_exe):
    folder = made["paths"][name]
    lines = (folder / MASTER).read_text().splitlines()
    media = [ln for ln in lines if ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert [m.split('LANGUAGE="')[1].split('"')[0] for m in media] == LANGUAGES
    variants = [ln for ln in lines if ln.startswith("#EXT-X-STREAM-INF")]
    assert variants and all('SUBTITLES="subs"' in v for v in variants)
    for m, language in zip(media, LANGUAGES):
        playlist = folder / m.split('URI="')[1].rstrip('"')
        listed = [ln for ln in playlist.read_text().splitlines() if ln and not ln.startswith("#")]
        assert listed == [f"subs-{LANGUAGES.index(language)}-{language}.vtt"]
        assert "#EXT-X-ENDLIST" in playlist.read_text()
    # Still a master ffmpeg plays.
    played = subprocess.run([ffmpeg_exe, "-v", "error", "-protocol_whitelist", "file", "-i", str(folder / MASTER),
                             "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0, played.stderr


@pytest.mark.parametrize("name", ["cmaf-h264-ladder", "dash-h264-ladder"])
def test_mpd_has_a_text_vtt_adaptation_set_per_language(made, name):
    folder = made["paths"][name]
    root = ET.parse(folder / dash.MPD).getroot()
    sets = root.find("d:Period", NS).findall("d:AdaptationSet", NS)
    text = [s for s in sets if s.get("contentType") == "text"]
    assert [(s.get("mimeType"), s.get("lang")) for s in text] == [("text/vtt", "eng"), ("text/vtt", "ger")]
    assert len({s.get("id") for s in sets}) == len(sets)  # ids stay unique
    for s in text:
        base = s.find("d:Representation/d:BaseURL", NS).text
        assert (folder / base).is_file()


def test_manifests_are_completed_once_only(made):
    folder = made["paths"]["cmaf-h264-ladder"]
    before = (folder / MASTER).read_text(), (folder / dash.MPD).read_text()
    captions.add_to_master(str(folder), MASTER, 2.0)
    captions.add_to_mpd(str(folder), dash.MPD)
    assert ((folder / MASTER).read_text(), (folder / dash.MPD).read_text()) == before


def test_picture_subtitles_are_left_out():
    probe = {"streams": [
        {"index": 0, "type": "video", "codec": "h264"},
        {"index": 1, "type": "subtitle", "codec": "dvd_subtitle", "language": "fre"},
        {"index": 2, "type": "subtitle", "codec": "subrip", "language": None},
        {"index": 3, "type": "subtitle", "codec": "hdmv_pgs_subtitle", "language": "eng"},
        {"index": 4, "type": "subtitle", "codec": "ass", "language": "spa"},
    ]}
    assert captions.text_subtitles(probe) == [(1, "und"), (3, "spa")]
    assert captions.mp4_args(probe)[:4] == ["-map", "0:s:1", "-map", "0:s:3"]
    assert captions.mp4_args({"streams": []}) == []


def test_a_source_without_subtitles_gets_no_sidecars(made, make_clip, ffmpeg_exe, probe_media, tmp_path):
    source = make_clip("captions.mp4", seconds=2)
    plans, targets = plan_job(ffmpeg_exe, source, probe_media(source),
                              [{"destination": "unused/", "preset": "dash-h264-ladder"}], tmp_path)
    assert "webvtt" not in plans[0].commands[0] and "mov_text" not in plans[0].commands[0]
