"""Options and filters that make an encode endless are refused at submit,
naming them; bounded padding and looping still pass and really end."""

import subprocess

import pytest

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import parse_passes
from nommer.core.ffmpeg.endless import MAX_PAD_SECONDS, MAX_STREAM_LOOP

F = "outputs[0].options"


@pytest.mark.parametrize("side, pairs, words", [
    # the attacks found
    ("outfile_options", [["af", "apad"], ["vn", None], ["c:a", "pcm_s16le"], ["f", "wav"]], "apad filter"),
    ("infile_options", [["stream_loop", "-1"]], "-stream_loop"),
    ("outfile_options", [["vf", "tpad=stop=-1"]], "tpad filter"),
    # their kin
    ("infile_options", [["stream_loop", str(MAX_STREAM_LOOP + 1)]], "-stream_loop"),
    ("infile_options", [["stream_loop", "1e9"]], "-stream_loop"),
    ("infile_options", [["stream_loop", -1]], "-stream_loop"),
    ("outfile_options", [["af", "volume=1,apad=packet_size=4096"]], "apad filter"),
    ("outfile_options", [["af", "apad=pad_len=-1"]], "pad_len"),
    ("outfile_options", [["af", "apad=pad_dur=2:pad_len=-1"]], "pad_len"),
    ("outfile_options", [["vf", "tpad=stop=-1:stop=2"]], "stop"),
    ("outfile_options", [["af", "apad=pad_len=-1+0"]], "pad_len"),  # ffmpeg would evaluate it
    ("outfile_options", [["af", "apad=4096:-1"]], "pad_len"),  # positional
    ("outfile_options", [["af", "apad=whole_dur=1e9"]], "whole_dur"),
    ("outfile_options", [["af", "apad=pad_dur='99999'"]], "pad_dur"),
    ("outfile_options", [["af", r"apad=pad_dur=\-1"]], "pad_dur"),
    ("outfile_options", [["filter_complex", "[0:a]apad@x[a]"]], "apad filter"),
    ("outfile_options", [["apad", "packet_size=1024"]], "-apad"),
    ("outfile_options", [["vf", "tpad=0:-1"]], "stop"),
    ("outfile_options", [["vf", "tpad=stop_mode=clone:stop_duration=100000"]], "stop_duration"),
    ("outfile_options", [["vf", "tpad=start_duration=-1"]], "start_duration"),
    ("outfile_options", [["vf", "loop=loop=-1:size=1"]], "not allowed"),
    ("outfile_options", [["af", "aloop=loop=-1"]], "not allowed"),
    ("infile_options", [["f", "lavfi"]], "not allowed"),
    ("infile_options", [["readrate", "0.001"]], "-readrate"),
    ("infile_options", [["readrate_catchup", "0.5"]], "-readrate_catchup"),
])
def test_endless_options_are_refused_naming_them(side, pairs, words):
    with pytest.raises(InvalidInput) as e:
        parse_passes([{side: pairs}], F)
    assert e.value.field == f"{F}[0].{side}[{len(pairs) - 1 if side == 'infile_options' else _at(pairs)}]"
    assert words in str(e.value)


def _at(pairs):
    return next(i for i, (name, _) in enumerate(pairs) if name in ("af", "vf", "filter_complex", "apad"))


@pytest.mark.parametrize("side, pairs", [
    ("infile_options", [["stream_loop", "2"]]),
    ("infile_options", [["stream_loop", 0], ["readrate", "1"]]),
    ("outfile_options", [["af", "apad=pad_dur=2"]]),
    ("outfile_options", [["af", r"apad=whole_dur='00\:00\:05'"]]),
    ("outfile_options", [["af", "apad=whole_len=48000"]]),
    ("outfile_options", [["af", "apad=4096:48000"]]),
    ("outfile_options", [["af", "apad=pad_dur=2500ms"]]),
    ("outfile_options", [["apad", "whole_dur=3"], ["shortest", None]]),
    ("outfile_options", [["vf", "tpad=stop=10"]]),
    ("outfile_options", [["vf", "tpad=stop_mode=clone:stop_duration=2"]]),
    ("outfile_options", [["vf", "tpad=2:3"]]),
    ("outfile_options", [["vf", f"tpad=start_duration={MAX_PAD_SECONDS}"]]),
])
def test_bounded_padding_and_looping_pass(side, pairs):
    parse_passes([{side: pairs}], F)


@pytest.mark.parametrize("graph, seconds", [("apad=4096:24000", 1.5), ("apad=whole_dur=2", 2.0)])
def test_what_passes_really_ends_where_nommer_read_it_does(graph, seconds, ffmpeg_exe, tmp_path):
    # nommer's reading of the positional and named options agrees with the
    # filter's: the padded 1 s tone ends where nommer expects.
    parse_passes([{"outfile_options": [["af", graph]]}], F)
    out = tmp_path / "o.wav"
    subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=d=1:sample_rate=48000", "-af", graph, "-c:a", "pcm_s16le", str(out)],
                   check=True, timeout=30)
    samples = (out.stat().st_size - 44) // 2
    assert abs(samples / 48000 - seconds) < 0.1


@pytest.mark.parametrize("graph, frames", [
    ("tpad=0:5", 10), ("tpad=stop=3:stop_mode=clone", 8), (r"tpad=stop_duration='0.4'", 15),
])
def test_tpad_pads_as_many_frames_as_nommer_read(graph, frames, ffmpeg_exe, tmp_path):
    parse_passes([{"outfile_options": [["vf", graph]]}], F)
    out = tmp_path / "o.gray"
    subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=s=16x16:r=25:d=0.2", "-vf", graph, "-pix_fmt", "gray", "-f", "rawvideo", str(out)],
                   check=True, timeout=30)
    assert out.stat().st_size // 256 == frames
