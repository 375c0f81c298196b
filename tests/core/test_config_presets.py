"""Operator presets in the configuration file: checked at start like the
built-in ones, errors naming presets.NAME..., handed to encoders as JSON."""

import pytest

from nommer.core import config
from nommer.core.adapters.local_fleet import settings_environment
from nommer.core.errors import ConfigError
from nommer.core.ffmpeg import build_commands, catalogue, run_plan

GOOD = """
[presets.tiny-vp8]
description = "VP8 and Vorbis for old browsers"
extension = "webm"
args = ["-map", "0:V:0", "-map", "0:a:0?", "-vf", "scale=-2:120", "-c:v", "libvpx", "-b:v", "200k",
        "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libvorbis", "-an"]

[presets.voice]
description = "Speech as mono MP3"
extension = "mp3"
args = ["-vn", "-c:a", "libmp3lame", "-ac", "1", "-b:a", "48k"]
needs_video = false
needs_audio = true
"""


def load_text(tmp_path, text):
    path = tmp_path / "nommer.toml"
    path.write_text(text)
    return config.load(path, environ={})


def test_presets_table_is_read_and_joins_the_catalogue(tmp_path):
    c = load_text(tmp_path, GOOD)
    assert list(c.presets) == ["tiny-vp8", "voice"]
    # No -f given: nommer names the muxer from the extension itself.
    assert c.presets["voice"]["args"][-2:] == ["-f", "mp3"]
    presets = catalogue(c.presets)
    voice = presets.get("voice")
    assert (voice.kind, voice.needs_video, voice.needs_audio, voice.origin) == ("file", False, True, "operator")
    assert "mp4-h264-720p" in presets  # the built-in ones stay


def test_operator_preset_encodes(tmp_path, ffmpeg_exe, sample_clip, probe_media):
    presets = catalogue(load_text(tmp_path, GOOD).presets)
    out = tmp_path / "out.mp3"
    run_plan(build_commands(ffmpeg_exe, sample_clip, out, {"preset": "voice"}, tmp_path, presets=presets))
    info = probe_media(out)
    assert [(s["type"], s["codec"], s["channels"]) for s in info["streams"]] == [("audio", "mp3", 1)]


def test_encoders_get_the_same_presets_through_the_environment(tmp_path):
    c = load_text(tmp_path, GOOD)
    env = settings_environment(c)
    again = config.load(environ={k: v for k, v in env.items() if k.startswith("NOMMER_")})
    assert again.presets == c.presets
    assert again.replace(port=9).presets == c.presets


@pytest.mark.parametrize("table, message", [
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-c:v", "libx264", "-i", "/etc/passwd"]',
     "presets.x.args[2]: option -i is not allowed"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-c:v", "libx264", "-vf", "movie=/etc/x"]',
     "presets.x.args[3]: the value of -vf"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-c:v", "libx264", "out.mp4"]',
     "presets.x.args[2]: 'out.mp4' is not an option"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-c:v", "libx264", "-crf", 23]',
     "presets.x.args[3]: must be text"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-f", "hls"]',
     "presets.x.args[1]: format 'hls' is not allowed"),
    ('[presets.x]\ndescription = "d"\nextension = "m3u8"\nargs = ["-c:v", "libx264"]',
     "presets.x.extension: 'm3u8' does not name a container"),
    ('[presets.x]\ndescription = "d"\nargs = ["-c:v", "libx264"]', "presets.x.extension: is required"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = []', "presets.x.args: must be a non-empty list"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-an"]\ncolour = "red"',
     "presets.x.colour: is not a preset key"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-an"]\nneeds_video = "no"',
     "presets.x.needs_video: must be true or false"),
    ('[presets."Big Name"]\ndescription = "d"\nextension = "mp4"\nargs = ["-an"]', 'presets.Big Name: a preset name'),
    ('[presets.mp4-h264-720p]\ndescription = "d"\nextension = "mp4"\nargs = ["-an"]',
     "presets.mp4-h264-720p: is a built-in preset"),
    ('presets = 3', "setting 'presets'"),
    # An operator's own preset passes the same checks as options from the API.
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\n'
     'args = ["-c:v", "libx264", "-x264-params", "keyint=2:dump_yuv=\\\\/tmp/x"]',
     "presets.x.args[3]: -x264-params key 'dump_yuv' is not allowed"),
    ('[presets.x]\ndescription = "d"\nextension = "mp4"\nargs = ["-c:v", "libx264", "-benchmark", "img%03d.png"]',
     "presets.x.args[3]: option -benchmark takes no value"),
])
def test_bad_operator_presets_stop_the_start_naming_the_place(tmp_path, table, message):
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, table + "\n")
    assert message in str(err.value)
    assert "setting 'presets' (config file" in str(err.value)


def test_presets_from_the_environment_must_be_json():
    with pytest.raises(ConfigError, match=r"'presets' \(environment NOMMER_PRESETS\): must be a JSON object"):
        config.load(environ={"NOMMER_PRESETS": "[presets.x]"})
