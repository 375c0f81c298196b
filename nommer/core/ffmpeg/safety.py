"""What an ffmpeg option that came through the API may not do.

ffmpeg options can read and write any file, open network connections and load
code. media-nommer passed its users' options straight to ffmpeg; nommer only
lets through options that act on the one source and the one output it gives
ffmpeg itself. Everything refused is refused with the reason, naming the place.
"""

import re

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.filtergraph import split_filters

OPTION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_:.\-]*$")

_NAMES_A_FILE = "it names a file or device, and nommer chooses every file ffmpeg touches"
REFUSED_OPTIONS = {
    "i": "the source is the job's source; nommer gives it to ffmpeg",
    "y": "nommer decides about overwriting its own work files",
    "n": "nommer decides about overwriting its own work files",
    "progress": "nommer reads ffmpeg's progress itself",
    "protocol_whitelist": "nommer only lets ffmpeg read local files",
    "protocol_blacklist": "nommer only lets ffmpeg read local files",
    "passlogfile": _NAMES_A_FILE,
    "vstats": _NAMES_A_FILE,
    "vstats_file": _NAMES_A_FILE,
    "dump_attachment": _NAMES_A_FILE,
    "attach": _NAMES_A_FILE,
    "filter_script": _NAMES_A_FILE,
    "filter_complex_script": _NAMES_A_FILE,
    "sdp_file": _NAMES_A_FILE,
    "report": _NAMES_A_FILE,
    "stats_enc_pre": _NAMES_A_FILE,
    "stats_enc_post": _NAMES_A_FILE,
    "stats_mux_pre": _NAMES_A_FILE,
    "init_hw_device": _NAMES_A_FILE,
    "filter_hw_device": _NAMES_A_FILE,
    "hwaccel_device": _NAMES_A_FILE,
    "qsv_device": _NAMES_A_FILE,
    "vaapi_device": _NAMES_A_FILE,
    "print_graphs_file": _NAMES_A_FILE,
    "stats": _NAMES_A_FILE,  # libx264's two-pass stats file
    "x265-stats": _NAMES_A_FILE,
    **{info: "it makes ffmpeg print information and stop without encoding" for info in (
        "h", "help", "version", "buildconf", "formats", "muxers", "demuxers", "devices",
        "codecs", "decoders", "encoders", "bsfs", "protocols", "filters", "pix_fmts",
        "layouts", "sample_fmts", "dispositions", "colors", "sources", "sinks", "hwaccels", "L",
    )},
}

# Plain containers only: image sequences, segmenters, playlists, tee and
# network muxers write or read files and URLs of their own choosing.
ALLOWED_FORMATS = frozenset({
    "3g2", "3gp", "ac3", "adts", "aiff", "avi", "flac", "flv", "ipod", "m4a",
    "matroska", "mov", "mp2", "mp3", "mp4", "mpeg", "mpegts", "oga", "ogg",
    "ogv", "opus", "wav", "webm",
})

FILTER_OPTIONS = frozenset({"vf", "af", "filter", "filter_complex", "lavfi"})

# Filters that only transform the frames they are given. Source filters
# (movie, amovie), sendcmd, zmq and filters with file arguments (subtitles,
# drawtext, lut3d...) are left out on purpose.
ALLOWED_FILTERS = frozenset({
    # video
    "bwdif", "crop", "deblock", "eq", "fade", "fieldorder", "format", "fps",
    "framerate", "hflip", "hqdn3d", "null", "pad", "rotate", "scale",
    "select", "setdar", "setpts", "setsar", "split", "tpad", "transpose",
    "trim", "unsharp", "vflip", "w3fdif", "yadif",
    # audio
    "acompressor", "afade", "aformat", "amix", "anull", "apad", "aresample",
    "asetpts", "asplit", "atempo", "atrim", "dynaudnorm", "highpass",
    "loudnorm", "lowpass", "pan", "volume",
})
_FILTER_WORDS_REFUSED = ("movie=", "sendcmd", "file=", "filename=")

MAX_VALUE_LENGTH = 2000

# ffmpeg runs in the job's work folder; these are ways out of it. A path can
# also hide inside key=value or a:b lists (x264-params stats=/tmp/x).
_PATHS = (
    re.compile(r"^\s*(/|~|\.\.)"),  # starts absolute, at home or one folder up
    re.compile(r"[=:,'\"]\s*(/|~)"),  # an absolute path after a separator
    re.compile(r"(^|[/\\])\.\.([/\\]|$)"),  # a ".." anywhere
)


def check_option(name, value, place):
    """Raise InvalidInput naming ``place`` if option ``-name value`` is refused.

    ``name`` has no leading dash; ``value`` is text or None (a bare flag).
    """
    if not OPTION_NAME.match(name):
        raise InvalidInput(place, f"{name!r} is not an ffmpeg option name")
    base = name.split(":", 1)[0]
    if base in REFUSED_OPTIONS:
        raise InvalidInput(place, f"option -{name} is not allowed: {REFUSED_OPTIONS[base]}")
    if value is None:
        return
    check_value(name, value, place)
    if base == "f" and value not in ALLOWED_FORMATS:
        raise InvalidInput(
            place,
            f"format {value!r} is not allowed; allowed formats: {', '.join(sorted(ALLOWED_FORMATS))}",
        )
    if base in FILTER_OPTIONS:
        check_filtergraph(name, value, place)


def check_value(name, value, place):
    if value == "":
        raise InvalidInput(place, f"option -{name} has an empty value; use null for a bare flag")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(place, f"the value of -{name} is longer than {MAX_VALUE_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(place, f"the value of -{name} contains control characters")
    if "://" in value:
        raise InvalidInput(place, f"the value of -{name} names a URL; ffmpeg may only use the job's own files")
    if any(pattern.search(value) for pattern in _PATHS):
        raise InvalidInput(
            place, f"the value of -{name} looks like a file path; ffmpeg may only use the job's own files"
        )


def check_filtergraph(name, value, place):
    lowered = value.lower()
    for word in _FILTER_WORDS_REFUSED:
        if word in lowered:
            raise InvalidInput(place, f"the filters of -{name} may not use {word!r}: it reads or writes files")
    for f in split_filters(value):
        if not f.name:
            raise InvalidInput(place, f"the filters of -{name} contain an empty filter")
        if f.name not in ALLOWED_FILTERS:
            raise InvalidInput(
                place,
                f"filter {f.name!r} is not allowed; allowed filters: {', '.join(sorted(ALLOWED_FILTERS))}",
            )
