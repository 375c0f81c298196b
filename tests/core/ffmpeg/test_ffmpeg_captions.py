"""Subtitles of the source carried through, from a source with two subtitle
languages: mov_text streams in MP4, WebVTT sidecars listed by the HLS master
playlist and the DASH manifest of the HLS, CMAF and DASH ladders."""

import pathlib
import subprocess
import xml.etree.ElementTree as ET

import pytest

from nommer.core.model import results
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
    # HLS over MPEG-TS: cue time 0 is the first frame's time in the segments.
    maps = [t.splitlines()[1] for t in texts.values()]
    if name == "hls-h264-ladder":
        ticks = {int(m.split("MPEGTS:")[1].split(",")[0]) for m in maps}
        assert len(ticks) == 1 and 1.3 * 90000 <= ticks.pop() <= 1.6 * 90000, maps
        assert all(m.endswith(",LOCAL:00:00:00.000") for m in maps)
    else:
        assert not any(m.startswith("X-TIMESTAMP-MAP") for m in maps)
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


# -- the captions option: caption files from URIs ------------------------------------

VTT_DE = "\ufeffWEBVTT\n\n00:00.000 --> 00:00.800\nGuten Tag\n\n00:01.000 --> 00:01.800\nAuf Wiedersehen\n"
SRT_EN = "1\n00:00:00,000 --> 00:00:00,800\nGood day\n\n2\n00:00:01,000 --> 00:00:01,800\nFarewell\n"


@pytest.fixture(scope="module")
def with_files(make_clip, ffmpeg_exe, probe_media, tmp_path_factory):
    """An MP4 and a DASH ladder from a clip without subtitles, each given an
    .srt (en) and a .vtt (de) caption file."""
    work = tmp_path_factory.mktemp("caption-files")
    srt, vtt = work / "en.txt", work / "de.txt"
    srt.write_text(SRT_EN, encoding="utf-8")
    vtt.write_text(VTT_DE, encoding="utf-8")
    files = [(str(srt), captions.caption_format(srt), "en"), (str(vtt), captions.caption_format(vtt), "de")]
    source = make_clip("captions.mp4", seconds=2)
    probe = probe_media(source)
    names = ("mp4-h264-360p", "dash-h264-ladder")
    outputs = [{"destination": "unused", "preset": n} for n in names]
    plans, targets = plan_job(ffmpeg_exe, source, probe, outputs, work, captions={0: files, 1: files})
    run_plan(plans[0], probe["duration"])
    facts = {n: results.describe(ffmpeg_exe, t) for n, t in zip(names, targets)}
    return {"paths": {n: pathlib.Path(t.path) for n, t in zip(names, targets)}, "facts": facts,
            "argv": plans[0].commands[0]}


def test_caption_files_are_read_by_their_own_demuxer_only(with_files):
    argv = with_files["argv"]
    inputs = [i for i, a in enumerate(argv) if a == "-i"]
    assert len(inputs) == 5  # the source, and two caption files for each of two outputs
    for i in inputs[1:]:
        assert argv[i - 6:i - 1] == ["-protocol_whitelist", "file", "-format_whitelist", "srt,webvtt", "-f"]
        assert argv[i - 1] in ("srt", "webvtt")


def test_caption_files_become_mov_text_streams_of_an_mp4(with_files, probe_output, ffmpeg_exe, tmp_path):
    path = with_files["paths"]["mp4-h264-360p"]
    subs = [s for s in probe_output(path)["streams"] if s["type"] == "subtitle"]
    assert [s["codec"] for s in subs] == ["mov_text", "mov_text"]
    out = tmp_path / "de.srt"
    subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(path), "-map", "0:s:1", str(out)], check=True, timeout=30)
    assert "Guten Tag" in out.read_text() and "Auf Wiedersehen" in out.read_text()


def test_caption_files_become_sidecars_in_the_mpd(with_files):
    folder = with_files["paths"]["dash-h264-ladder"]
    assert list(sidecar_texts(folder)) == ["subs-0-en.vtt", "subs-1-de.vtt"]
    assert "Farewell" in (folder / "subs-0-en.vtt").read_text()
    root = ET.parse(folder / dash.MPD).getroot()
    text = [s for s in root.find("d:Period", NS).findall("d:AdaptationSet", NS) if s.get("contentType") == "text"]
    assert [(s.get("lang"), s.find("d:Representation/d:BaseURL", NS).text) for s in text] == [
        ("en", "subs-0-en.vtt"), ("de", "subs-1-de.vtt")]


@pytest.mark.parametrize("value,field,words", [
    ("en.srt", "outputs[0].captions", "non-empty list"),
    ([], "outputs[0].captions", "non-empty list"),
    ([{"uri": "file:///a.srt", "language": "en"}] * 17, "outputs[0].captions", "at most 16"),
    (["file:///a.srt"], "outputs[0].captions[0]", "object"),
    ([{"uri": "file:///a.srt"}], "outputs[0].captions[0].language", "language tag"),
    ([{"uri": "file:///a.srt", "language": "EN"}], "outputs[0].captions[0].language", "language tag"),
    ([{"uri": "file:///a.srt", "language": "english"}], "outputs[0].captions[0].language", "language tag"),
    ([{"uri": "file:///a.srt", "language": "en_US"}], "outputs[0].captions[0].language", "language tag"),
    ([{"uri": "", "language": "en"}], "outputs[0].captions[0].uri", ".srt or .vtt"),
    ([{"uri": "file:///a.srt", "language": "en", "kind": "sdh"}], "outputs[0].captions[0].kind", "not a field"),
])
def test_bad_captions_options_are_refused_naming_the_field(value, field, words):
    from nommer.core.errors import InvalidInput
    from nommer.core.ffmpeg import validate_output

    with pytest.raises(InvalidInput) as err:
        validate_output({"destination": "file:///o.mp4", "preset": "mp4-h264-360p", "captions": value})
    assert err.value.field == field and words in str(err.value)


def test_captions_are_refused_on_presets_that_cannot_carry_them():
    from nommer.core.errors import InvalidInput
    from nommer.core.ffmpeg import validate_output

    with pytest.raises(InvalidInput) as err:
        validate_output({"destination": "file:///o.webm", "preset": "webm-vp9-720p",
                         "captions": [{"uri": "file:///a.srt", "language": "en"}]})
    assert err.value.field == "outputs[0].captions" and "mp4-h264-360p" in str(err.value)


@pytest.mark.parametrize("content,why", [
    (b"\x00\x00\x00\x18ftypmp42", "not text"),
    ("[Script Info]\nTitle: x\n".encode(), "neither SubRip"),
    (b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", "neither SubRip"),
    ("1\n00:00:00,000 --> 00:00:01,000\nCaf\xe9\n".encode("latin-1"), "not UTF-8"),
    (b"WEBVTTX\n", "neither SubRip"),
    (b"1\n00:00:00,000 --> 00:00:01,000\nnul \x00 inside\n", "not text"),
])
def test_a_caption_file_that_is_not_subtitle_text_is_refused(tmp_path, content, why):
    from nommer.core.errors import JobFailed

    path = tmp_path / "caption"
    path.write_bytes(content)
    with pytest.raises(JobFailed) as err:
        captions.caption_format(path)
    assert err.value.code == "CAPTION_INVALID" and why in str(err.value)


def test_subrip_and_webvtt_are_recognised(tmp_path):
    (tmp_path / "a").write_text(SRT_EN, encoding="utf-8")
    (tmp_path / "b").write_text(VTT_DE, encoding="utf-8")
    (tmp_path / "c").write_text("\r\n" + SRT_EN.replace("\n", "\r\n"), encoding="utf-8")
    assert [captions.caption_format(tmp_path / n) for n in "abc"] == ["srt", "webvtt", "srt"]


def test_mp4_caption_streams_get_three_letter_languages(with_files, probe_output):
    subs = [s for s in probe_output(with_files["paths"]["mp4-h264-360p"])["streams"] if s["type"] == "subtitle"]
    assert [s["language"] for s in subs] == ["eng", "ger"]
    assert [captions.mp4_language(t) for t in ("pt-BR", "fil", "xx", "zh-Hant")] == ["por", "fil", "und", "chi"]


def test_the_caption_guard_admits_only_subrip_and_webvtt(ffmpeg_exe, tmp_path):
    from nommer.core.ffmpeg import sources

    assert sources.CAPTION_FORMATS == ("srt", "webvtt")
    (tmp_path / "seg.ts").write_bytes(b"")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nseg.ts\n#EXT-X-ENDLIST\n")
    for forced in ("hls", "concat"):
        done = subprocess.run([ffmpeg_exe, "-hide_banner", *sources.CAPTION_GUARD, "-f", forced,
                               "-i", str(playlist)], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0 and "not on whitelist" in done.stderr, done.stderr[-500:]
    with pytest.raises(ValueError):
        captions.caption_input(playlist, "hls")
    srt = tmp_path / "a.srt"
    srt.write_text(SRT_EN, encoding="utf-8")
    done = subprocess.run([ffmpeg_exe, "-hide_banner", *captions.caption_input(srt, "srt"), "-f", "webvtt", "-"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Farewell" in done.stdout, done.stderr[-500:]
