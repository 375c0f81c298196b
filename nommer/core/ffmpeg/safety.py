"""What an ffmpeg option that came through the API may not do.

ffmpeg options can read and write any file, open network connections and load
code. media-nommer passed its users' options straight to ffmpeg; nommer only
lets through options that act on the one source and the one output it gives
ffmpeg itself. Everything refused is refused with the reason, naming the place.
"""

import re

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import endless
from nommer.core.ffmpeg.codec_params import PARAM_LISTS, REFUSED_LISTS, check_param_list
from nommer.core.ffmpeg.filtergraph import split_filters
from nommer.core.ffmpeg.tokens import filter_options
from nommer.core.ffmpeg.valueless import GROUP_SEPARATORS, NEGATABLE, takes_no_value

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
    "format_whitelist": "nommer chooses which formats ffmpeg may read",
    "safe": "it lets the concat demuxer open any file; nommer reads no concat lists",
    "allowed_extensions": "it lets the HLS demuxer open other files; nommer reads no playlists",
    "allowed_segment_extensions": "it lets the HLS demuxer open other files; nommer reads no playlists",
    "extension_picky": "it lets the HLS demuxer open other files; nommer reads no playlists",
    "follow": "it makes ffmpeg wait forever for the source to grow",
    "enable_drefs": "it lets the MOV demuxer open other files the source names",
    "use_absolute_path": "it lets the MOV demuxer open other files the source names",
    "stdin": "ffmpeg has nothing to read on its standard input",
    **{sep: "it starts a new group of options, so options before it would miss the source"
       for sep in GROUP_SEPARATORS - {"i"}},
    **{flag: "it writes a line for every packet or frame to ffmpeg's log, which nommer reads"
       for flag in ("dump", "hex", "debug_ts", "benchmark_all", "print_graphs")},
    **{name: f"it holds a key=value list that {reason}" for name, reason in REFUSED_LISTS.items()},
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

# The options that take no value are those of valueless.py, found by asking
# the bundled ffmpeg. ffmpeg reads the argument after any other option as its
# value: a value-taking option given as a bare flag would take the next
# argument nommer places, and a value given to a value-less one would stand
# alone on the command line, where ffmpeg reads it as an output file (even a
# URL such as tcp:host:port) and ends the group of options before it. So a
# null value is for value-less options only, and these take no value. Of
# them, these may be given (and "no" + a boolean one):
FLAG_OPTIONS = frozenset({
    "an", "vn", "sn", "dn", "shortest", "copyts", "start_at_zero", "bitexact",
    "find_stream_info", "accurate_seek", "autorotate", "autoscale", "force_fps", "copyinkf",
    "fix_sub_duration", "fix_sub_duration_heartbeat", "ignore_unknown", "copy_unknown", "re",
    "display_hflip", "display_vflip", "xerror", "auto_conversion_filters", "benchmark",
    "hide_banner", "recast_media",
})
FLAGS = FLAG_OPTIONS | {"no" + name for name in FLAG_OPTIONS & NEGATABLE}

# ffmpeg's protocols (ffmpeg -protocols, and a few that builds may add). A
# value that starts "name:" with one of these would be a URL to ffmpeg
# wherever it ended up being read as a file name.
PROTOCOLS = frozenset({
    "android_content", "async", "bluray", "cache", "concat", "concatf", "crypto", "data",
    "dtls", "fd", "ffrtmpcrypt", "ffrtmphttp", "file", "ftp", "gopher", "gophers", "hls",
    "http", "httpproxy", "https", "icecast", "ipfs", "ipns", "librist", "libsmbclient",
    "libsrt", "libssh", "libzmq", "md5", "mmsh", "mmst", "pipe", "prompeg", "rist", "rtmp",
    "rtmpe", "rtmps", "rtmpt", "rtmpte", "rtmpts", "rtp", "sctp", "sftp", "shared", "smb",
    "srt", "srtp", "subfile", "tcp", "tee", "tls", "udp", "udplite", "unix", "whip", "zmq",
})
_PROTOCOL_PREFIX = re.compile(r"^\s*([A-Za-z0-9+.\-]+)\s*[:,]")
# A value that starts with "-" reads as an option; "-1" or "-.5" is a number.
_LOOKS_LIKE_OPTION = re.compile(r"^\s*-(?![\d.])")

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
    base = check_name(name, place)
    if takes_no_value(base):
        if value is not None:
            raise InvalidInput(
                place,
                f"option -{name} takes no value; give null (ffmpeg would read {value!r} as an output "
                "file and end the options before it)",
            )
        if base not in FLAGS:
            raise InvalidInput(
                place,
                f"option -{name} is not allowed; the flags nommer lets through: {', '.join(sorted(FLAG_OPTIONS))}",
            )
        return
    if value is None:
        raise InvalidInput(
            place,
            f"option -{name} needs a value; null is only for options that take none "
            f"({', '.join(sorted(FLAG_OPTIONS))}), because ffmpeg would take the "
            "next argument as the value of -" + name,
        )
    check_value(name, value, place)
    if base == "f" and value not in ALLOWED_FORMATS:
        raise InvalidInput(
            place,
            f"format {value!r} is not allowed; allowed formats: {', '.join(sorted(ALLOWED_FORMATS))}",
        )
    if base in PARAM_LISTS:
        check_param_list(name, base, value, place)
    endless.check_option(name, base, value, place)
    if base in FILTER_OPTIONS:
        check_filtergraph(name, value, place)


def check_name(name, place):
    """Raise InvalidInput unless ``name`` is an option name nommer allows;
    returns its base (without a stream specifier)."""
    if not OPTION_NAME.match(name):
        raise InvalidInput(place, f"{name!r} is not an ffmpeg option name")
    base = name.split(":", 1)[0]
    if base in REFUSED_OPTIONS:
        raise InvalidInput(place, f"option -{name} is not allowed: {REFUSED_OPTIONS[base]}")
    return base


def check_value(name, value, place):
    if value == "":
        raise InvalidInput(place, f"option -{name} has an empty value; use null for a bare flag")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(place, f"the value of -{name} is longer than {MAX_VALUE_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(place, f"the value of -{name} contains control characters")
    if "://" in value:
        raise InvalidInput(place, f"the value of -{name} names a URL; ffmpeg may only use the job's own files")
    protocol = _PROTOCOL_PREFIX.match(value)
    if protocol and protocol.group(1).split("+")[0].lower() in PROTOCOLS:
        raise InvalidInput(
            place,
            f"the value of -{name} starts with the ffmpeg protocol {protocol.group(1)!r}; "
            "ffmpeg may only use the job's own files",
        )
    if _LOOKS_LIKE_OPTION.match(value):
        raise InvalidInput(place, f"the value of -{name} starts with '-', so ffmpeg would read it as an option")
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
        _check_filter_options(name, f, place)
        endless.check_filter(name, f, place)


def _check_filter_options(name, f, place):
    # The filter's options as ffmpeg reads them, after both rounds of
    # unescaping: "scale=\\/w=\\/etc/passwd" is option "/w" read from the
    # file /etc/passwd (which ffmpeg then quotes in its error message).
    for key, value in filter_options(f.args):
        if key is not None and key.startswith("/"):
            raise InvalidInput(
                place,
                f"filter {f.name!r} of -{name} may not take option {key[1:]!r} from a file "
                "(a name starting with '/' reads the value from that file)",
            )
        if any(pattern.search(value) for pattern in _PATHS):
            raise InvalidInput(
                place,
                f"a value of filter {f.name!r} of -{name} looks like a file path; "
                "ffmpeg may only use the job's own files",
            )
