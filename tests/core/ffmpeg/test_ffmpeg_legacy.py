import json

import pytest
from hypothesis import given, settings, strategies as st

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import parse_passes

F = "outputs[0].options"


def outfile(*pairs, **extra):
    return [{"outfile_options": [list(p) for p in pairs], **extra}]


@pytest.mark.parametrize("passes,field", [
    ({"outfile_options": []}, F),
    ([], F),
    ([{}, {}, {}], F),
    ("vcodec libx264", F),
    ([["vcodec", "libx264"]], f"{F}[0]"),
    ([{}, None], f"{F}[1]"),
    ([{"outfile_options": [], "nommer": "x"}], f"{F}[0].nommer"),
    ([{"move_atom_to_front": "yes"}], f"{F}[0].move_atom_to_front"),
    ([{"move_atom_to_front": 1}], f"{F}[0].move_atom_to_front"),
    ([{"infile_options": {"ss": "1"}}], f"{F}[0].infile_options"),
    ([{"outfile_options": "-an"}], f"{F}[0].outfile_options"),
    ([{}, {"outfile_options": [["an", None], "ac 2"]}], f"{F}[1].outfile_options[1]"),
    (outfile(("an",)), f"{F}[0].outfile_options[0]"),
    (outfile(("ac", "2", "x")), f"{F}[0].outfile_options[0]"),
    (outfile(("an", None), (2, "x")), f"{F}[0].outfile_options[1]"),
    (outfile(("ac", True)), f"{F}[0].outfile_options[0]"),
    (outfile(("ac", [2])), f"{F}[0].outfile_options[0]"),
    (outfile(("ac", {"n": 2})), f"{F}[0].outfile_options[0]"),
    (outfile(("ac", float("nan"))), f"{F}[0].outfile_options[0]"),
    (outfile(("ac", "")), f"{F}[0].outfile_options[0]"),
    (outfile(("", "1")), f"{F}[0].outfile_options[0]"),
    (outfile(("--ac", "1")), f"{F}[0].outfile_options[0]"),
    (outfile(("c v", "libx264")), f"{F}[0].outfile_options[0]"),
    (outfile(("an", None), ("async", "fast")), f"{F}[0].outfile_options[1]"),
    (outfile(("metadata", "title=a\x00b")), f"{F}[0].outfile_options[0]"),
    (outfile(("metadata", "x" * 3000)), f"{F}[0].outfile_options[0]"),
    ([{"outfile_options": [["an", None]] * 101}], f"{F}[0].outfile_options"),
])
def test_malformed_passes_name_the_place(passes, field):
    with pytest.raises(InvalidInput) as err:
        parse_passes(passes, F)
    assert err.value.field == field


@pytest.mark.parametrize("side", ["infile_options", "outfile_options"])
@pytest.mark.parametrize("key,value", [
    ("i", "other.mp4"), ("-i", "x"), ("y", None), ("n", None),
    ("passlogfile", "log"), ("vstats_file", "v.log"), ("dump_attachment:t", "font.ttf"),
    ("attach", "a.ttf"), ("filter_script", "f.txt"), ("filter_complex_script", "f.txt"),
    ("/filter", "f.txt"), ("/vf", "f.txt"), ("progress", "pipe:2"), ("protocol_whitelist", "file,http"),
    ("sdp_file", "x.sdp"), ("report", None), ("stats_enc_pre", "s.log"), ("stats", "x264.log"),
    ("print_graphs_file", "g.json"), ("version", None), ("sources", "pulse"),
    ("f", "image2"), ("f", "tee"), ("f", "segment"), ("f", "hls"), ("f", "concat"), ("f", "lavfi"),
    ("metadata", "/etc/passwd"), ("metadata", "~/x"), ("metadata", "../x"), ("metadata", "a/../../x"),
    ("metadata", "http://example.com/"), ("x264-params", "stats=/tmp/x"),
    ("vf", "movie=/etc/passwd"), ("vf", "amovie=a.wav"), ("af", "sendcmd=c=x"),
    ("vf", "drawtext=textfile=secret"), ("vf", "removelogo=filename=logo.png"),
    ("vf", "subtitles=subs.srt"), ("filter_complex", "[0:v]zmq[out]"), ("vf", "scale=320:-2,"),
    ("filter:v", "lut3d=cube.cube"),
    ("vf", "scale='a\\',subtitles=subs.srt'"),  # the quote ends after the backslash
    ("vf", "scale=320:240[a];[a]mov\\ie=x"),
])
def test_refused_options_name_the_place(side, key, value):
    passes = [{}, {side: [["an", None], [key, value]]}]
    with pytest.raises(InvalidInput) as err:
        parse_passes(passes, F)
    assert err.value.field == f"{F}[1].{side}[1]"


def test_media_nommer_spellings_are_translated_with_notes():
    spec = parse_passes([
        {"outfile_options": [["vcodec", "libx264"], ["b", "300k"], ["pass", "1"], ["an", None],
                             ["vf", "yadif,scale=-1:480"]]},
        {"outfile_options": [["vcodec", "libx264"], ["vprofile", "baseline"], ["acodec", "libfaac"],
                             ["ab", 96000], ["ar", 48000], ["ac", 2], ["async", "480"],
                             ["vpre", "veryfast"], ["isync", None], ["strict", "experimental"],
                             ["vf", "yadif,scale='640:trunc(ow/a/2)*2'"]],
         "move_atom_to_front": True},
    ])
    (in1, out1), (in2, out2) = spec.passes
    assert in1 == in2 == []
    assert out1 == ["-c:v", "libx264", "-b:v", "300k", "-an", "-vf", "yadif,scale=-2:480"]
    assert out2 == ["-c:v", "libx264", "-profile:v", "baseline", "-c:a", "aac", "-b:a", "96000",
                    "-ar", "48000", "-ac", "2", "-af", "aresample=async=480", "-preset", "veryfast",
                    "-strict", "experimental",
                    "-vf", "yadif,scale='640:trunc(ow/a/2)*2'"]
    assert spec.faststart is True
    assert spec.notes == [
        "option -vcodec is now -c:v",
        "option -b is now -b:v",
        "dropped -pass (nommer numbers the passes itself)",
        "scale size -1 is now -2 so the dimensions stay even",
        "option -vprofile is now -profile:v",
        "option -acodec is now -c:a",
        "encoder libfaac is gone from ffmpeg; using aac",
        "option -ab is now -b:a",
        "option -vpre veryfast is now -preset veryfast",
        "dropped -isync (it did nothing already in 2011's ffmpeg)",
        "option -async 480 is now -af aresample=async=480",
    ]


@pytest.mark.parametrize("pairs,expected", [
    ([["af", "volume=2"], ["async", 1]], ["-af", "volume=2,aresample=async=1"]),
    ([["async", 1], ["af", "volume=2"]], ["-af", "volume=2,aresample=async=1"]),
    ([["-an", None], ["ss", 1.5]], ["-an", "-ss", "1.5"]),
    ([["vf", "scale=w=-1:h=360"]], ["-vf", "scale=w=-2:h=360"]),
    ([["vf", "scale=640:-1"]], ["-vf", "scale=640:-2"]),
    ([["vf", "scale=640:360,fps=-1"]], ["-vf", "scale=640:360,fps=-1"]),
    ([["vsync", "1"]], ["-fps_mode", "cfr"]),
    ([["b:v", "1M"], ["b:a", "64k"], ["c:a", "aac"]], ["-b:v", "1M", "-b:a", "64k", "-c:a", "aac"]),
    ([["c:a", "libvorbis"]], ["-c:a", "libvorbis"]),
    ([["f", "mp4"], ["movflags", "frag_keyframe"]], ["-f", "mp4", "-movflags", "frag_keyframe"]),
])
def test_single_translations(pairs, expected):
    assert parse_passes([{"outfile_options": pairs}]).passes == [([], expected)]


def test_missing_lists_mean_no_options():
    spec = parse_passes([{}])
    assert spec.passes == [([], [])] and spec.faststart is False and spec.notes == []


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["vcodec", "i", "f", "vf", "-an", "async", "infile_options",
                       "outfile_options", "move_atom_to_front", "movie=x", "/x", "..", "pass"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["infile_options", "outfile_options", "move_atom_to_front", "x"]),
                      inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_gives_a_spec_or_invalid_input(data):
    try:
        spec = parse_passes(data)
    except InvalidInput as e:
        assert e.field.startswith("options")
    else:
        json.dumps(spec.passes)  # plain lists of text
        assert all(isinstance(a, str) for pair in spec.passes for args in pair for a in args)


# -vpre NAME: 2011's libx264-NAME.ffpreset files, in today's options.

@pytest.mark.parametrize("value, expected", [
    ("baseline", ["-profile:v", "baseline"]),
    ("main", ["-profile:v", "main"]),
    ("high", ["-profile:v", "high"]),
    ("libx264-baseline", ["-profile:v", "baseline"]),
    ("veryfast", ["-preset", "veryfast"]),
    ("ultrafast", ["-preset", "ultrafast"]),
    ("placebo", ["-preset", "placebo"]),
    ("libx264-slow", ["-preset", "slow"]),
    ("medium_firstpass", ["-preset", "medium"]),
    ("libx264-veryslow_firstpass", ["-preset", "veryslow"]),
    ("lossless_fast", ["-preset", "fast", "-qp", "0"]),
    ("ipod640", ["-profile:v", "baseline", "-level", "3.0", "-maxrate", "10M", "-bufsize", "10M"]),
])
def test_vpre_becomes_preset_or_profile(value, expected):
    spec = parse_passes([{"outfile_options": [["vcodec", "libx264"], ["vpre", value]]}])

    assert spec.passes == [([], ["-c:v", "libx264", *expected])]
    assert f"option -vpre {value} is now {' '.join(expected)}" in spec.notes


def test_two_vpre_files_as_old_presets_gave_them_make_speed_and_profile():
    spec = parse_passes([{"outfile_options": [["vpre", "slow"], ["vpre", "baseline"]]}])

    assert spec.passes == [([], ["-preset", "slow", "-profile:v", "baseline"])]


def test_vpre_among_the_input_options_still_acts_on_the_output():
    spec = parse_passes([{"infile_options": [["ss", "1"], ["vpre", "baseline"]],
                          "outfile_options": [["vcodec", "libx264"]]}])

    assert spec.passes == [(["-ss", "1"], ["-profile:v", "baseline", "-c:v", "libx264"])]


@pytest.mark.parametrize("pair, words", [
    (["vpre", "normal"], "'normal' names no libx264 preset file"),
    (["vpre", "libvpx-720p"], "'libvpx-720p' names no libx264 preset file"),
    (["vpre", None], "needs the name of a libx264 preset file"),
    (["vpre:v", "fast"], "-vpre takes no stream specifier"),
    (["apre", "x"], "-apre no longer exists"),
    (["fpre", "my.ffpreset"], "-fpre named a preset file"),
    (["sameq", None], "-sameq no longer exists in ffmpeg and has no equivalent"),
    (["same_quant", None], "-same_quant no longer exists"),
    (["flags2", "+dct8x8"], "-flags2 no longer exists"),
    (["croptop", "8"], "use the crop filter"),
    (["padleft", "8"], "use the pad filter"),
    (["padcolor", "000000"], "pad filter"),
    (["vhook", "x"], "-vhook no longer exists"),
    (["newaudio", None], "-map"),
    (["deinterlace", "1"], "-deinterlace takes no value"),
])
def test_an_old_option_that_would_change_the_output_is_refused_by_name(pair, words):
    with pytest.raises(InvalidInput) as err:
        parse_passes([{}, {"outfile_options": [["an", None], pair]}], F)

    assert err.value.field == f"{F}[1].outfile_options[1]"
    assert words in str(err.value)


@pytest.mark.parametrize("pairs, expected", [
    ([["deinterlace", None]], ["-vf", "yadif"]),
    ([["deinterlace", None], ["vf", "scale=640:-1"]], ["-vf", "yadif,scale=640:-2"]),
    ([["vf", "scale=640:360"], ["deinterlace", None]], ["-vf", "yadif,scale=640:360"]),
    ([["filter:v", "fps=25"], ["deinterlace", None]], ["-filter:v", "yadif,fps=25"]),
    ([["vf", "crop=100:100"], ["vf", "scale=320:240"], ["deinterlace", None]],
     ["-vf", "crop=100:100", "-vf", "yadif,scale=320:240"]),
    ([["deinterlace", None], ["vf", "yadif,scale=640:360"]], ["-vf", "yadif,scale=640:360"]),
    ([["deinterlace", None], ["deinterlace", None]], ["-vf", "yadif"]),
])
def test_deinterlace_becomes_yadif_first_in_the_video_filters(pairs, expected):
    assert parse_passes([{"outfile_options": pairs}]).passes == [([], expected)]


def test_deinterlace_among_the_input_options_deinterlaces_the_output():
    spec = parse_passes([{"infile_options": [["deinterlace", None]],
                          "outfile_options": [["vf", "scale=320:240"]]}])

    assert spec.passes == [([], ["-vf", "yadif,scale=320:240"])]
    assert "option -deinterlace is now the yadif filter, first in -vf" in spec.notes


def test_deinterlace_with_a_complex_filtergraph_is_refused():
    with pytest.raises(InvalidInput) as err:
        parse_passes([{"outfile_options": [["deinterlace", None], ["filter_complex", "[0:v]scale=320:240"]]}], F)

    assert err.value.field == f"{F}[0].outfile_options[0]"
    assert "put yadif in the filter graph" in str(err.value)


@pytest.mark.parametrize("pair, expected", [
    (["intra", None], ["-g", "1"]),
    (["directpred", "3"], ["-direct-pred", "3"]),
])
def test_other_renamed_x264_options(pair, expected):
    assert parse_passes([{"outfile_options": [pair]}]).passes == [([], expected)]

