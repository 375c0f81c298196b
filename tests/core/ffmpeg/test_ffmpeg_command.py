import os
import struct

import pytest

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import build_commands, run_plan, validate_output

FF = "/opt/ffmpeg"


def top_level_boxes(path):
    """Names of the top-level boxes of an MP4 file, in file order."""
    names = []
    with open(path, "rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            names.append(name.decode("latin-1"))
            if size == 0:  # the box runs to the end of the file
                break
            if size == 1:  # a 64-bit size follows the name
                size = struct.unpack(">Q", f.read(8))[0] - 8
            f.seek(size - 8, os.SEEK_CUR)
    return names


@pytest.mark.parametrize("output,field,words", [
    ("mp4-h264-360p", "outputs[2]", "must be an object"),
    ({}, "outputs[2]", "needs 'preset'"),
    ({"destination": "file:///x.mp4"}, "outputs[2]", "mp4-h264-720p"),
    ({"preset": "mp4-h264-360p", "options": [{}]}, "outputs[2]", "not both"),
    ({"preset": "nope"}, "outputs[2].preset", "unknown preset 'nope'"),
    ({"preset": 360}, "outputs[2].preset", "known presets"),
    ({"options": [{"outfile_options": [["i", "x"]]}]}, "outputs[2].options[0].outfile_options[0]", "-i"),
])
def test_validate_output_names_the_field(output, field, words):
    with pytest.raises(InvalidInput) as err:
        validate_output(output, "outputs[2]")
    assert err.value.field == field
    assert words in str(err.value)


def test_preset_command_guards_the_input_and_ends_with_the_output(tmp_path):
    plan = build_commands(FF, "src.mov", tmp_path / "out.mp4", {"preset": "mp4-h264-360p"}, tmp_path)
    (argv,) = plan.commands
    assert argv[:7] == [FF, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"]
    assert argv[7:9] == ["-protocol_whitelist", "file"]
    assert argv[9] == "-format_whitelist" and "mov" in argv[10].split(",")
    assert argv[11:13] == ["-i", os.path.abspath("src.mov")]
    assert argv[-1] == str(tmp_path / "out.mp4")
    assert plan.notes == [] and plan.workdir == str(tmp_path)


def test_two_passes_share_a_log_in_the_workdir_and_only_the_last_writes(tmp_path):
    output = {"options": [{"infile_options": [["ss", "1"]], "outfile_options": [["c:v", "libx264"]]},
                          {"outfile_options": [["c:v", "libx264"], ["movflags", "frag_keyframe"]],
                           "move_atom_to_front": True}]}
    first, second = build_commands(FF, "in.mp4", "out.mp4", output, tmp_path).commands
    log = str(tmp_path / "passlog")
    assert first[first.index("-ss") + 1] == "1" and first.index("-ss") < first.index("-i")
    assert first[-8:] == ["-pass", "1", "-passlogfile", log, "-an", "-f", "null", os.devnull]
    assert second[second.index("-pass"):] == ["-pass", "2", "-passlogfile", log, os.path.abspath("out.mp4")]
    assert second[second.index("-movflags") + 1] == "frag_keyframe+faststart"


def test_legacy_two_pass_encode_is_playable_with_moov_first(ffmpeg_exe, sample_clip, probe_media, tmp_path):
    passes = [
        {"outfile_options": [["vcodec", "libx264"], ["preset", "veryfast"], ["vprofile", "baseline"],
                             ["b", "300k"], ["vf", "yadif,scale=-1:180"], ["pass", "1"], ["f", "mp4"],
                             ["an", None]]},
        {"outfile_options": [["vcodec", "libx264"], ["preset", "veryfast"], ["vprofile", "baseline"],
                             ["b", "300k"], ["vf", "yadif,scale=-1:180"], ["pass", "2"],
                             ["acodec", "libfaac"], ["ab", "96k"], ["ar", "48000"], ["async", "480"],
                             ["ac", "2"], ["f", "mp4"]],
         "move_atom_to_front": True},
    ]
    out = tmp_path / "legacy.mp4"
    plan = build_commands(ffmpeg_exe, sample_clip, out, {"options": passes}, tmp_path / "work")
    run_plan(plan, duration=2.0)

    info = probe_media(out)
    video, audio = info["streams"]
    assert (video["codec"], video["height"], video["width"] % 2) == ("h264", 180, 0)
    assert (audio["codec"], audio["sample_rate"], audio["channels"]) == ("aac", 48000, 2)
    assert abs(info["duration"] - 2.0) <= 0.1
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    for note in ("option -vcodec is now -c:v", "option -acodec is now -c:a",
                 "encoder libfaac is gone from ffmpeg; using aac", "option -vprofile is now -profile:v",
                 "option -b is now -b:v", "option -ab is now -b:a"):
        assert note in plan.notes


@pytest.mark.parametrize("vpre, profiles", [
    ("baseline", {"Constrained Baseline", "Baseline"}),
    ("main", {"Main"}),
])
def test_a_vpre_profile_job_makes_that_profile(vpre, profiles, ffmpeg_exe, make_clip, probe_media, tmp_path):
    # A High-profile source: the profile of the output is the one asked for.
    source = make_clip("high.mp4", size="160x120", seconds=1,
                       video_args=("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p"))
    assert probe_media(source)["streams"][0]["profile"] == "High"
    passes = [{"outfile_options": [["vcodec", "libx264"], ["vpre", "veryfast"], ["vpre", vpre],
                                   ["deinterlace", None], ["an", None]]}]
    out = tmp_path / f"{vpre}.mp4"

    run_plan(build_commands(ffmpeg_exe, source, out, {"options": passes}, tmp_path / "work"), duration=1.0)

    video = probe_media(out)["streams"][0]
    assert video["codec"] == "h264"
    assert video["profile"] in profiles
