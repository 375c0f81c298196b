"""The operator's own presets, from the ``presets`` setting.

In the configuration file each is a table::

    [presets.small-webm]
    description = "VP8 for old browsers"
    extension = "webm"
    args = ["-c:v", "libvpx", "-b:v", "500k", "-c:a", "libvorbis"]

``args`` are the output options, without input or output path; they pass the
same checks as options that come through the API (nommer/core/ffmpeg/safety.py),
and an error names the place, e.g. ``presets.small-webm.args[3]``. Optional:
``needs_video`` (default true) and ``needs_audio`` (default false). An
operator preset makes one file.
"""

import re

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.preset import Preset
from nommer.core.ffmpeg.safety import check_name, check_option

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
EXTENSION = re.compile(r"^[a-z0-9]{1,10}$")
# The muxer an extension stands for when args do not say -f: nommer names it
# itself, so that ffmpeg never picks one from a file name (an "m3u8" or "jpg"
# work file would make it write files of its own choosing).
MUXERS = {
    "mp4": "mp4", "m4v": "mp4", "m4a": "ipod", "mov": "mov", "mkv": "matroska",
    "webm": "webm", "ogg": "ogg", "oga": "oga", "ogv": "ogv", "opus": "opus",
    "mp3": "mp3", "flac": "flac", "wav": "wav", "aac": "adts", "ac3": "ac3",
    "avi": "avi", "flv": "flv", "ts": "mpegts", "mpg": "mpeg", "3gp": "3gp",
}
KEYS = ("description", "extension", "args", "needs_video", "needs_audio")
MAX_ARGS = 200


def check_presets(raw, built_in_names=()):
    """The operator presets of ``raw`` (the setting's value) in a plain,
    checked form; InvalidInput naming ``presets.NAME...`` at the first problem."""
    if not isinstance(raw, dict):
        raise InvalidInput("presets", "must be a table of presets ([presets.NAME] sections)")
    clean = {}
    for name, table in raw.items():
        place = f"presets.{name}"
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidInput(place, "a preset name is 1 to 64 lower-case letters, digits, '.', '_' or '-'")
        if name in built_in_names:
            raise InvalidInput(place, "is a built-in preset; give yours another name")
        clean[name] = _check_one(table, place)
    return clean


def _check_one(table, place):
    if not isinstance(table, dict):
        raise InvalidInput(place, "must be a table with description, extension and args")
    for key in table:
        if key not in KEYS:
            raise InvalidInput(f"{place}.{key}", f"is not a preset key (known: {', '.join(KEYS)})")
    for key in ("description", "extension", "args"):
        if key not in table:
            raise InvalidInput(f"{place}.{key}", "is required")
    description = table["description"]
    if not isinstance(description, str) or not description.strip():
        raise InvalidInput(f"{place}.description", "must be a non-empty text")
    extension = table["extension"]
    if not isinstance(extension, str) or not EXTENSION.match(extension):
        raise InvalidInput(f"{place}.extension", "must be 1 to 10 lower-case letters or digits, without the dot")
    args = _check_args(table["args"], f"{place}.args")
    if "-f" not in args:
        if extension not in MUXERS:
            raise InvalidInput(
                f"{place}.extension",
                f"{extension!r} does not name a container nommer knows; add \"-f\", \"FORMAT\" to args "
                f"or use one of: {', '.join(MUXERS)}",
            )
        args += ["-f", MUXERS[extension]]
    flags = {}
    for key, default in (("needs_video", True), ("needs_audio", False)):
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise InvalidInput(f"{place}.{key}", "must be true or false")
        flags[key] = value
    return {"description": description.strip(), "extension": extension, "args": args, **flags}


def _check_args(args, place):
    if not isinstance(args, list) or not args:
        raise InvalidInput(place, "must be a non-empty list of ffmpeg output options")
    if len(args) > MAX_ARGS:
        raise InvalidInput(place, f"has more than {MAX_ARGS} items")
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            raise InvalidInput(f"{place}[{i}]", f"must be text (write \"{arg}\")")
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("-") or token == "-":
            raise InvalidInput(
                f"{place}[{i}]",
                f"{token!r} is not an option (options start with '-'; nommer adds the input and output itself)",
            )
        name = token[1:]
        check_name(name, f"{place}[{i}]")
        if i + 1 < len(args) and _is_value(args[i + 1]):
            check_option(name, args[i + 1], f"{place}[{i + 1}]")
            i += 2
        else:
            check_option(name, None, f"{place}[{i}]")  # a flag, if it is one
            i += 1
    return list(args)


def _is_value(token):
    # "-an" after "-c:v" would be a flag; "-1" is a value.
    return not token.startswith("-") or bool(re.match(r"^-\d", token))


def build_presets(clean):
    """Preset objects of a checked ``presets`` setting."""
    return [
        Preset(
            name=name,
            description=table["description"],
            extension=table["extension"],
            needs_video=table["needs_video"],
            needs_audio=table["needs_audio"],
            output_args=tuple(table["args"]),
            origin="operator",
        )
        for name, table in clean.items()
    ]
