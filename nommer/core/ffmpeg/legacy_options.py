"""media-nommer's pass format, checked strictly and brought up to today's ffmpeg.

A job's ``options`` is a list of one or two passes (two mean a two-pass
encode)::

    {"infile_options": [[key, value], ...],
     "outfile_options": [[key, value], ...],
     "move_atom_to_front": true}

Each pair becomes ``-key value`` (a null value is a bare flag). media-nommer's
published presets spelled options the way ffmpeg did in 2011; those spellings
are translated and every change is told back to the user as a note. An old
option is dropped only when dropping it leaves the output as asked (``-pass``,
``-isync``); one that would change the output and has no translation is
refused, naming it, so a job never finishes with an output other than the one
asked for. Anything unsafe is refused (see ``safety``).
"""

import dataclasses
import math
import re

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.filtergraph import split_filters
from nommer.core.ffmpeg.safety import FILTER_OPTIONS, check_name, check_option

PASS_KEYS = ("infile_options", "outfile_options", "move_atom_to_front")
MAX_OPTIONS = 100

RENAMED = {
    "vcodec": "c:v",
    "acodec": "c:a",
    "scodec": "c:s",
    "vprofile": "profile:v",
    "b": "b:v",  # plain -b meant the video bitrate; today it hits audio too
    "ab": "b:a",
    "qscale": "q:v",
    "vframes": "frames:v",
    "aframes": "frames:a",
    "vtag": "tag:v",
    "atag": "tag:a",
    "vsync": "fps_mode",
}
_FPS_MODES = {"-1": "auto", "0": "passthrough", "1": "cfr", "2": "vfr"}

# Encoders that are gone from ffmpeg builds; the native AAC encoder replaced them.
RENAMED_ENCODERS = {"libfaac": "aac", "libvo_aacenc": "aac", "libaacplus": "aac"}
_CODEC_OPTIONS = {"c", "codec"}

# Old options whose absence leaves the output as asked.
DROPPED = {
    "pass": "nommer numbers the passes itself",
    "isync": "it did nothing already in 2011's ffmpeg",
}

# Old options that would change the output and that nommer cannot translate.
_GONE = "no longer exists in ffmpeg"
REFUSED_OLD = {
    "apre": _GONE + " (nor do its audio preset files); give the encoder's options",
    "spre": _GONE + " (nor do its subtitle preset files); give the encoder's options",
    "fpre": "named a preset file, which nommer does not read; give its options, or -vpre with "
            "one of libx264's preset names",
    "pre": _GONE + "; give the encoder's options",
    "sameq": _GONE + " and has no equivalent; give a quality (-crf, -q:v) or a bitrate (-b:v)",
    "same_quant": _GONE + " and has no equivalent; give a quality (-crf, -q:v) or a bitrate (-b:v)",
    "flags2": _GONE + "; give libx264's own options (-8x8dct, -weightb, -mixed-refs, "
              "-fast-pskip, -mbtree) or -x264-params",
    "vhook": _GONE + "; use a filter in -vf",
    "newvideo": _GONE + "; choose the streams with -map",
    "newaudio": _GONE + "; choose the streams with -map",
    "newsubtitle": _GONE + "; choose the streams with -map",
    **{f"{kind}{side}": _GONE + f"; use the {kind} filter in -vf"
       for kind in ("crop", "pad") for side in ("top", "bottom", "left", "right")},
    "padcolor": _GONE + "; use the pad filter's color in -vf",
}

# Renamed options whose translation is more than a new name.
# (checked by name only: their values never reach ffmpeg as given)
TRANSLATED = {"vpre", "deinterlace", "intra"}

# -vpre NAME read libx264-NAME.ffpreset, a file of x264 settings shipped with
# 2011's ffmpeg. Today libx264 takes the same speed names through -preset and
# the profiles through -profile:v. The _firstpass files were the fast first
# pass of a two-pass encode, which libx264 now makes by itself in pass 1.
X264_SPEEDS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
               "slow", "slower", "veryslow", "placebo")
X264_PROFILES = ("baseline", "main", "high")
X264_PRESET_FILES = {
    **{speed: [("preset", speed)] for speed in X264_SPEEDS},
    **{f"{speed}_firstpass": [("preset", speed)] for speed in X264_SPEEDS},
    **{profile: [("profile:v", profile)] for profile in X264_PROFILES},
    # lossless_*: constant quantizer 0 at that speed (lossless_max was the slowest).
    **{f"lossless_{speed}": [("preset", speed), ("qp", "0")]
       for speed in ("ultrafast", "fast", "medium", "slow", "slower")},
    "lossless_max": [("preset", "placebo"), ("qp", "0")],
    # The iPod files: baseline at a level, with the iPod's rate limits.
    "ipod320": [("profile:v", "baseline"), ("level", "1.3"), ("maxrate", "768k"), ("bufsize", "3000k")],
    "ipod640": [("profile:v", "baseline"), ("level", "3.0"), ("maxrate", "10M"), ("bufsize", "10M")],
}
_DEINTERLACERS = frozenset({"yadif", "bwdif", "w3fdif"})
_VIDEO_FILTERS = ("vf", "filter:v")


@dataclasses.dataclass
class EncodeSpec:
    """What to run: per pass (input args, output args), without paths."""

    passes: list  # of (list[str], list[str])
    faststart: bool = False
    notes: list = dataclasses.field(default_factory=list)


def parse_passes(passes, field="options"):
    """Check media-nommer passes and translate them into an :class:`EncodeSpec`.

    Raises InvalidInput whose field names the exact place of the first problem,
    e.g. ``options[1].outfile_options[2]`` (``field`` is the prefix).
    """
    if not isinstance(passes, list) or not 1 <= len(passes) <= 2:
        raise InvalidInput(field, "must be a list of 1 or 2 passes (2 means a two-pass encode)")
    notes = _Notes()
    spec = EncodeSpec(passes=[])
    for n, one in enumerate(passes):
        place = f"{field}[{n}]"
        if not isinstance(one, dict):
            raise InvalidInput(place, "a pass must be an object with " + ", ".join(PASS_KEYS))
        for key in one:
            if key not in PASS_KEYS:
                raise InvalidInput(f"{place}.{key}", "unknown key; a pass has " + ", ".join(PASS_KEYS))
        atom = one.get("move_atom_to_front", False)
        if not isinstance(atom, bool):
            raise InvalidInput(f"{place}.move_atom_to_front", "must be true or false")
        spec.faststart |= atom
        infile, carried = _options(one.get("infile_options"), f"{place}.infile_options", notes, False)
        outfile, own = _options(one.get("outfile_options"), f"{place}.outfile_options", notes, True)
        # -vpre and -deinterlace act on the output wherever they were given.
        outfile = carried.output + outfile
        deinterlace = own.deinterlace or carried.deinterlace
        if deinterlace:
            _merge_deinterlace(outfile, deinterlace, notes)
        spec.passes.append((_args(infile), _args(outfile)))
    spec.notes = notes.items
    return spec


class _Notes:
    """Notes in first-seen order; a translation made in both passes is told once."""

    def __init__(self):
        self.items = []

    def add(self, text):
        if text not in self.items:
            self.items.append(text)


@dataclasses.dataclass
class _Carried:
    """What one side's options ask of the output beyond its own pairs."""

    output: list = dataclasses.field(default_factory=list)  # pairs for the output side
    deinterlace: str | None = None  # the place of a -deinterlace


def _args(pairs):
    args = []
    for name, value in pairs:
        args.append("-" + name)
        if value is not None:
            args.append(value)
    return args


def _options(pairs, place, notes, output_side):
    """The translated (name, value) pairs of one side, and what it carries
    to the output side."""
    carried = _Carried()
    if pairs is None:
        return [], carried
    if not isinstance(pairs, list):
        raise InvalidInput(place, "must be a list of [option, value] pairs")
    if len(pairs) > MAX_OPTIONS:
        raise InvalidInput(place, f"has more than {MAX_OPTIONS} options")
    translated = []
    audio_async = None
    for i, pair in enumerate(pairs):
        name, value = _pair(pair, f"{place}[{i}]")
        base = name.split(":", 1)[0]
        if base in REFUSED_OLD:
            raise InvalidInput(f"{place}[{i}]", f"option -{name} {REFUSED_OLD[base]}")
        if base in DROPPED or base in TRANSLATED:
            check_name(name, f"{place}[{i}]")  # never reaches ffmpeg as it is
        else:
            check_option(name, value, f"{place}[{i}]")
        if base in ("deinterlace", "intra") and value is not None:
            raise InvalidInput(f"{place}[{i}]", f"option -{name} takes no value; give null")
        if base == "deinterlace":
            carried.deinterlace = carried.deinterlace or f"{place}[{i}]"
            continue
        if base == "vpre":
            found = _x264_preset_file(name, value, f"{place}[{i}]", notes)
            if output_side:
                translated.extend(found)
            else:
                carried.output.extend(found)
            continue
        if name == "async":
            # The value ends up inside a filtergraph: a number and nothing else.
            if value is None or not re.fullmatch(r"\d+(\.\d+)?", value):
                raise InvalidInput(f"{place}[{i}]", "the value of -async must be a number of samples")
            audio_async = (len(translated), value)
            continue
        translated.extend(_translate(name, value, notes))
    if audio_async is not None:
        _merge_async(translated, *audio_async, notes)
    return translated, carried


def _x264_preset_file(name, value, place, notes):
    """Today's options for ``-vpre value`` (one of 2011's libx264 preset files)."""
    if name != "vpre":
        raise InvalidInput(place, f"option -{name}: -vpre takes no stream specifier")
    if value is None:
        raise InvalidInput(place, "option -vpre needs the name of a libx264 preset file, e.g. medium or baseline")
    known = value.removeprefix("libx264-").removesuffix(".ffpreset")
    if known not in X264_PRESET_FILES:
        raise InvalidInput(
            place,
            f"option -vpre {value!r} names no libx264 preset file nommer knows; it translates "
            f"{', '.join(X264_PRESET_FILES)} (also as libx264-NAME)",
        )
    pairs = X264_PRESET_FILES[known]
    notes.add(f"option -vpre {value} is now " + " ".join(f"-{n} {v}" for n, v in pairs))
    return list(pairs)


def _merge_deinterlace(pairs, place, notes):
    """-deinterlace as the yadif filter: old ffmpeg deinterlaced before its
    filters ran, so yadif goes first in the (last, the one ffmpeg uses) -vf."""
    if any(name.split(":", 1)[0] in ("filter_complex", "lavfi") for name, _ in pairs):
        raise InvalidInput(place, "option -deinterlace cannot be combined with -filter_complex; "
                                  "put yadif in the filter graph instead")
    for i in reversed(range(len(pairs))):
        name, graph = pairs[i]
        if name in _VIDEO_FILTERS:
            if any(f.name in _DEINTERLACERS for f in split_filters(graph)):
                notes.add(f"dropped -deinterlace: -{name} deinterlaces already")
                return
            pairs[i] = (name, "yadif," + graph)
            notes.add(f"option -deinterlace is now the yadif filter, first in -{name}")
            return
    pairs.append(("vf", "yadif"))
    notes.add("option -deinterlace is now -vf yadif")


def _pair(pair, place):
    """(name without dash, value as text or None) of one [key, value] pair."""
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise InvalidInput(place, "must be a pair [option, value]; a null value means a bare flag")
    name, value = pair
    if not isinstance(name, str):
        raise InvalidInput(place, "the option name must be text")
    if name.startswith("-"):
        name = name[1:]
    if isinstance(value, bool) or not (value is None or isinstance(value, (str, int, float))):
        raise InvalidInput(place, f"the value of -{name} must be text, a number or null")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(place, f"the value of -{name} must be a finite number")
        value = repr(value)
    elif isinstance(value, int):
        value = str(value)
    return name, value


def _translate(name, value, notes):
    """The (name, value) pairs today's ffmpeg needs for one old option."""
    base = name.split(":", 1)[0]
    if base in DROPPED:
        notes.add(f"dropped -{name} ({DROPPED[base]})")
        return []
    if base == "intra":
        notes.add("option -intra is now -g 1 (every frame a key frame)")
        return [("g", "1")]
    if base == "directpred":
        notes.add("option -directpred is now -direct-pred")
        return [("direct-pred", value)]
    # With a stream specifier (-b:v) the spelling is already today's.
    if name in RENAMED:
        new = RENAMED[name]
        notes.add(f"option -{name} is now -{new}")
        name, base = new, new.split(":", 1)[0]
        if base == "fps_mode" and value in _FPS_MODES:
            value = _FPS_MODES[value]
    if base in _CODEC_OPTIONS and value in RENAMED_ENCODERS:
        notes.add(f"encoder {value} is gone from ffmpeg; using {RENAMED_ENCODERS[value]}")
        value = RENAMED_ENCODERS[value]
    if base in FILTER_OPTIONS and value is not None:
        value = _even_scale(value, notes)
    return [(name, value)]


def _merge_async(translated, at, value, notes):
    resample = f"aresample=async={value}"
    notes.add(f"option -async {value} is now -af {resample}")
    for i, (name, graph) in enumerate(translated):
        if name in ("af", "filter:a"):
            translated[i] = (name, f"{graph},{resample}")
            return
    translated.insert(at, ("af", resample))


# A -1 size in scale keeps the aspect ratio but may give an odd number, which
# 4:2:0 encoders refuse; -2 rounds to even. Positional or w=/h= forms.
_MINUS_ONE = re.compile(r"(^|[:']|\b(?:w|h|width|height)=)-1(?=$|[:'])")


def _even_scale(graph, notes):
    for f in reversed(split_filters(graph)):
        if f.name != "scale":
            continue
        args = _MINUS_ONE.sub(r"\g<1>-2", f.args)
        if args != f.args:
            notes.add("scale size -1 is now -2 so the dimensions stay even")
            graph = graph[: f.args_start] + args + graph[f.end:]
    return graph
