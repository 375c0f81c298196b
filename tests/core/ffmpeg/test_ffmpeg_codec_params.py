"""Codec parameter lists are read as ffmpeg and the encoder read them, and only
allowlisted keys pass: a key that names a file is refused however it is
escaped or quoted, and what passes means to x264 exactly what nommer read."""

import re
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import parse_passes
from nommer.core.ffmpeg.codec_params import PARAM_LISTS, REFUSED_LISTS
from nommer.core.ffmpeg.safety import REFUSED_OPTIONS
from nommer.core.ffmpeg.tokens import Malformed, parse_dict

F = "outputs[0].options"
X264 = [["c:v", "libx264"], ["pix_fmt", "yuv420p"]]


def refused(*pairs):
    with pytest.raises(InvalidInput) as err:
        parse_passes([{"outfile_options": [*X264, *[list(p) for p in pairs]]}], F)
    return err.value


@pytest.mark.parametrize("option, value, key", [
    # The attacks found: ffmpeg unescapes "\/" to "/" before x264 reads it.
    ("x264-params", r"qp=0:dump_yuv=\/abs/site-packages/zz.pth", "dump_yuv"),
    ("x264-params", r"pass=1:stats=\/abs/path", "pass"),
    ("x264-params", r"stats=\/abs/path", "stats"),
    ("x265-params", r"csv=\/abs/path", "csv"),
    # The same keys hidden by quoting, escaping, blanks, spelling.
    ("x264-params", r"'dump_yuv'=zz.pth", "dump_yuv"),
    ("x264-params", r"dump\_yuv=zz.pth", "dump_yuv"),
    ("x264-params", r"keyint=2: dump-yuv =zz.pth", "dump-yuv"),
    ("x264-params", r"keyint=2\:x:no-dump-yuv=1", "no-dump-yuv"),
    ("x264-params", "qpfile=q.txt", "qpfile"),
    ("x264-params", "cqmfile=c.cfg", "cqmfile"),
    ("x264opts", "keyint=2:dump_yuv=zz.pth", "dump_yuv"),
    ("x264opts", r"keyint=2:dump_yuv=\/abs", None),
    ("x265-params", "keyint=5:--csv=x.csv", "--csv"),
    ("x265-params", "analysis-save=a.dat", "analysis-save"),
    ("x265-params", "analysis_load=a.dat", "analysis_load"),
    ("x265-params", "recon=r.yuv", "recon"),
    ("x265-params", "csv-log-level=2", "csv-log-level"),
    ("svtav1-params", "fgs-table=t.tbl", "fgs-table"),
    ("aom-params", "film-grain-table=t.tbl", "film-grain-table"),
    ("aom-params", "vmaf-model-path=m.json", "vmaf-model-path"),
    ("kvazaar-params", "qp=20,cqmfile=c.txt", "cqmfile"),
    ("kvazaar-params", "debug=recon.yuv", "debug"),
    ("rav1e-params", "unknown_key=1", "unknown_key"),
    ("x264-params", "made-up=1", "made-up"),  # unknown keys too: an allowlist
    ("x264-params:v", "dump_yuv=zz.pth", "dump_yuv"),
])
def test_a_key_outside_the_allowlist_is_refused_naming_the_option_and_the_key(option, value, key):
    error = refused((option, value))
    assert error.field == f"{F}[0].outfile_options[2]"
    assert f"-{option}" in str(error)
    if key:
        assert repr(key) in str(error)


@pytest.mark.parametrize("option, value", [
    ("x264-params", "keyint"),
    ("x264-params", "keyint="),
    ("x264-params", "=5"),
    ("x264opts", "keyint='5'"),
])
def test_a_list_ffmpeg_could_not_split_is_refused(option, value):
    assert "cannot be read" in str(refused((option, value)))


@pytest.mark.parametrize("option, value", [
    ("x264-params", "keyint=60:min-keyint=60:scenecut=0"),
    ("x264-params", "no-cabac=1:bframes=0:ref=1:aq-mode=2"),
    ("x264-params", "zones=0,100,q=20/101,200,b=0.5"),
    ("x264opts", "keyint=60:no-scenecut:bframes=2"),
    ("x265-params", "keyint=60:no-open-gop=1:log-level=error"),
    ("svtav1-params", "tune=0:film-grain=8:enable-overlays=1"),
    ("aom-params", "enable-tpl-model=1:tune=ssim"),
    ("kvazaar-params", "qp=20,period=32"),
    ("ts-parameters", "ts_number_layers=2:ts_target_bitrate=250,500"),
])
def test_ordinary_parameter_lists_pass(option, value):
    parse_passes([{"outfile_options": [*X264, [option, value]]}], F)


def test_every_key_value_list_of_the_bundled_ffmpeg_is_checked_or_refused(ffmpeg_exe):
    # A dictionary option nommer has not read would be a list of keys nobody
    # checked; an ffmpeg upgrade that adds one fails here.
    text = subprocess.run([ffmpeg_exe, "-hide_banner", "-h", "full"], capture_output=True,
                          text=True, timeout=60).stdout
    dicts = set(re.findall(r"^\s+-([\w-]+)\s+<dictionary>", text, re.M))
    assert "x264-params" in dicts
    unread = {d for d in dicts if d not in PARAM_LISTS and d not in REFUSED_OPTIONS}
    assert unread == set()
    assert set(REFUSED_LISTS) <= set(REFUSED_OPTIONS)


def test_the_attack_really_wrote_outside_and_is_now_refused(ffmpeg_exe, sample_clip, tmp_path):
    outside = tmp_path / "outside" / "zz.pth"
    outside.parent.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    value = "qp=0:dump_yuv=\\" + str(outside)
    subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-i", str(sample_clip), "-frames:v", "1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-x264-params", value, "-f", "mp4",
                    str(work / "o.mp4")], capture_output=True, timeout=60, cwd=work)
    assert outside.stat().st_size > 0  # what the old check let through

    error = refused(("x264-params", value))
    assert "'dump_yuv'" in str(error) and "-x264-params" in str(error)


# --- ffmpeg's splitting, checked against x264 itself -----------------------

# Keys whose values x264 writes back, unchanged, into the "options:" text of
# its SEI: what x264 really read. (SEI name, lowest, highest)
ORACLE = {"ref": ("ref", 1, 16), "bframes": ("bframes", 0, 16), "keyint": ("keyint", 10, 250),
          "scenecut": ("scenecut", 0, 100), "qpmin": ("qpmin", 0, 20), "qpmax": ("qpmax", 40, 69),
          "qpstep": ("qpstep", 1, 10), "nr": ("nr", 0, 1000), "subme": ("subme", 1, 10)}


@st.composite
def written(draw, text):
    """``text`` as a user might write it for av_get_token: each character
    plain, escaped or inside quotes, with blanks around."""
    out = [draw(st.sampled_from(["", " ", "  "]))]
    i = len(text) if draw(st.booleans()) else 0  # often as it is
    out.append(text[:i])
    while i < len(text):
        how = draw(st.sampled_from(["plain", "plain", "escape", "quote"]))
        if how == "escape":
            out.append("\\" + text[i])
            i += 1
        elif how == "quote":
            n = draw(st.integers(1, len(text) - i))
            out.append("'" + text[i:i + n] + "'")
            i += n
        else:
            out.append(text[i])
            i += 1
    out.append(draw(st.sampled_from(["", " "])))
    return "".join(out)


@st.composite
def param_lists(draw):
    keys = draw(st.lists(st.sampled_from(sorted(ORACLE)), min_size=1, max_size=5))
    chosen = {}
    parts = []
    for key in keys:
        _, low, high = ORACLE[key]
        value = str(draw(st.integers(low, high)))
        chosen[key] = value  # a repeated key: the last one counts
        parts.append(draw(written(key)) + "=" + draw(written(value)))
    return ":".join(parts), chosen


def _sei_options(path):
    data = path.read_bytes()
    text = data[data.index(b"options: "):].split(b"\x00", 1)[0].decode("ascii", "replace")
    return dict(re.findall(r"(\w+)=(\S+)", text))


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lists=st.lists(param_lists(), min_size=6, max_size=6))
def test_x264_reads_the_keys_and_values_nommer_read(lists, ffmpeg_exe, make_clip, tmp_path):
    clip = make_clip("tiny.mp4", size="64x64", seconds=0.2)
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(clip)]
    for n, (text, _) in enumerate(lists):
        # Accepted by nommer, and split into exactly the keys and values chosen.
        parse_passes([{"outfile_options": [*X264, ["x264-params", text]]}], F)
        assert {k: v for k, v in parse_dict(text)} == lists[n][1]
        argv += ["-map", "0:v", "-frames:v", "1", "-c:v", "libx264", "-x264-params", text,
                 "-f", "h264", str(tmp_path / f"o{n}.h264")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for n, (text, chosen) in enumerate(lists):
        seen = _sei_options(tmp_path / f"o{n}.h264")
        for key, value in chosen.items():
            assert seen[ORACLE[key][0]] == value, (text, key)


def _x265_keys(ffmpeg_exe, clip, text):
    """The keys ffmpeg hands libx265 for ``-x265-params text``, or None when
    ffmpeg refuses to split it. libx265 names every key it does not know
    ("Unknown option: KEY.") and goes on, so keys no encoder knows show
    exactly how ffmpeg split the text."""
    done = subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-loglevel", "warning", "-i", str(clip),
                           "-frames:v", "1", "-c:v", "libx265", "-x265-params", text, "-f", "null", "-"],
                          capture_output=True, text=True, timeout=60)
    if "Error setting option x265-params" in done.stderr:
        return None
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"\] Unknown option: (.*)\.$", done.stderr, re.M))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(alphabet=["x", "z", "1", "=", ":", "\\", "'", '"', " "], min_size=1, max_size=14))
# Forms that readers of this syntax get wrong: an escape inside quotes,
# double quotes, an escaped separator, an unterminated quote, blanks.
@example(text=r"x'\':z=1")
@example(text=r"x=1'\':z=1")
@example(text='"x=1:z"=2')
@example(text=r"x=1\:z=2")
@example(text="x='1:z=2")
@example(text=" x = 1 : z\\ =2")
def test_the_keys_nommer_reads_are_the_keys_ffmpeg_hands_the_encoder(text, ffmpeg_exe, make_clip):
    # Keys spelled from x and z are unknown to x265, so it names each one.
    try:
        ours = {key for key, _ in parse_dict(text)}
    except Malformed:
        ours = None
    assert _x265_keys(ffmpeg_exe, make_clip("tiny.mp4", size="64x64", seconds=0.2), text) == ours, text


@st.composite
def tricky(draw):
    """Lists whose values try to hide a file key behind escapes and quotes
    (``keyint=5\\:dump_yuv=pwn.yuv``), with separators escaped or not."""
    pairs = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(["keyint", "ref", "no-cabac", "bframes", "dump_yuv", "stats", "qpfile"]))
        value = draw(st.sampled_from(["5", "2", "1", ":dump_yuv=pwn.yuv", "5:dump_yuv=pwn.yuv", "'",
                                      "pwn.yuv", "5\\:stats=pwn.yuv", '"5:dump_yuv=pwn.yuv"']))
        pairs.append(draw(written(key)) + "=" + draw(written(value)))
    return draw(st.sampled_from([":", ": ", "\\:", "':'"])).join(pairs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=tricky())
def test_an_accepted_list_has_only_allowed_keys_as_ffmpeg_splits_it(text):
    try:
        parse_passes([{"outfile_options": [*X264, ["x264-params", text]]}], F)
    except InvalidInput as e:
        assert e.field == f"{F}[0].outfile_options[2]"
        return
    # The reading checked against ffmpeg above, then x264's own key spelling.
    for key, _ in parse_dict(text):
        plain = key.replace("_", "-")
        assert not any(bad in plain for bad in ("dump", "stats", "qpfile")), text
