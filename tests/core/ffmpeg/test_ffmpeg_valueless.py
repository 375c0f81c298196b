"""The options that take no value are exactly those the bundled ffmpeg reads
without one; a value given to one is refused, and no user option can end
the source's group of options early."""

import pytest

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import parse_passes, run_plan
from nommer.core.ffmpeg.command import INPUT_GUARD, Requested, Target, passes_plan
from nommer.core.ffmpeg.legacy_options import EncodeSpec
from nommer.core.ffmpeg.valueless import GROUP_SEPARATORS, NEGATABLE, VALUELESS, derive

F = "outputs[0].options"


def test_the_checked_in_lists_are_what_the_bundled_ffmpeg_reads(ffmpeg_exe):
    valueless, negatable, separators = derive(ffmpeg_exe)
    assert {"an", "benchmark", "dump", "hide_banner", "xerror"} <= valueless  # the probe works
    assert "filter_threads" not in valueless and "seek_timestamp" not in valueless
    assert valueless - VALUELESS == set(), "value-less options missing from valueless.VALUELESS"
    assert VALUELESS - valueless == set(), "options in valueless.VALUELESS that take a value"
    assert negatable == NEGATABLE
    assert separators == GROUP_SEPARATORS


@pytest.mark.parametrize("side", ["infile_options", "outfile_options"])
@pytest.mark.parametrize("name", sorted(VALUELESS) + ["noan", "nobenchmark"])
def test_a_value_given_to_a_valueless_option_is_refused_naming_it(side, name):
    with pytest.raises(InvalidInput) as e:
        parse_passes([{side: [["c:v", "libx264"], [name, "img%03d.png"]]}], F)
    assert e.value.field == f"{F}[0].{side}[1]"
    assert f"-{name}" in str(e.value)


@pytest.mark.parametrize("pairs", [
    [["benchmark", None], ["hide_banner", None], ["recast_media", None]],
    [["noautorotate", None], ["noan", None], ["fix_sub_duration_heartbeat", None]],
])
def test_harmless_flags_pass_bare(pairs):
    parse_passes([{"outfile_options": pairs}], F)


@pytest.mark.parametrize("name, words", [
    ("dump", "every packet"), ("hex", "every packet"), ("debug_ts", "every packet"),
    ("stats", "names a file"), ("report", "names a file"), ("vstats", "names a file"),
    ("y", "overwriting"), ("stdin", "standard input"), ("novstats", "needs a value"), ("nodump", "not allowed"),
])
def test_other_bare_flags_are_refused_with_a_reason(name, words):
    with pytest.raises(InvalidInput) as e:
        parse_passes([{"infile_options": [[name, None]]}], F)
    assert words in str(e.value)


def test_a_group_separator_is_refused():
    with pytest.raises(InvalidInput) as e:
        parse_passes([{"infile_options": [["dec", "0:0"]]}], F)
    assert "-dec" in str(e.value) and "group" in str(e.value)


def _plan(ffmpeg_exe, source, input_args, workdir):
    spec = EncodeSpec(passes=[(input_args, ["-c", "copy", "-f", "mpegts"])])
    target = Target(0, str(workdir / "out-0.ts"), Requested(None, spec))
    return passes_plan(ffmpeg_exe, source, target, workdir)


@pytest.mark.parametrize("input_args", [
    ["-dump", "stray.mkv"],  # a value-less option with a value: a stray output
    ["-dec", "0:0"],  # a loopback decoder group
])
def test_the_input_guard_belongs_to_the_source_even_after_a_stray_group(
        input_args, ffmpeg_exe, make_clip, tmp_path):
    # The checks above keep these from ever reaching ffmpeg; this is the
    # second wall: the guard sits right before "-i", so whatever group the
    # options before it closed, ffmpeg still refuses a playlist source.
    secret = tmp_path / "outside" / "secret.ts"
    secret.parent.mkdir()
    secret.write_bytes(make_clip("guard.ts", video_args=("-c:v", "mpeg2video")).read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    playlist = work / "source.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    plan = _plan(ffmpeg_exe, playlist, input_args, work)
    argv = plan.commands[0]
    source_at = argv.index("-i")
    assert argv[source_at - len(INPUT_GUARD):source_at] == list(INPUT_GUARD)

    with pytest.raises(JobFailed) as e:
        run_plan(plan)

    assert "whitelist" in str(e.value)
    for written in work.iterdir():
        assert written == playlist or written.stat().st_size == 0
