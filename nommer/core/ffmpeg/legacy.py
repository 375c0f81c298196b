"""media-nommer's pass format, checked strictly and brought up to today's ffmpeg.

A job's ``options`` is a list of one or two passes (two mean a two-pass
encode)::

    {"infile_options": [[key, value], ...],
     "outfile_options": [[key, value], ...],
     "move_atom_to_front": true}

Each pair becomes ``-key value`` (a null value is a bare flag). media-nommer's
published presets spelled options the way ffmpeg did in 2011; those spellings
are translated, options that no longer exist are dropped, and every change is
told back to the user as a note. Anything unsafe is refused (see ``safety``).
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

_GONE = "no longer exists in ffmpeg"
DROPPED = {
    "pass": "nommer numbers the passes itself",
    "vpre": _GONE, "apre": _GONE, "spre": _GONE, "fpre": _GONE, "pre": _GONE,
    "sameq": _GONE, "same_quant": _GONE,
    "directpred": _GONE, "flags2": _GONE, "vhook": _GONE, "isync": _GONE,
    "intra": _GONE, "newvideo": _GONE, "newaudio": _GONE, "newsubtitle": _GONE,
    "deinterlace": _GONE + "; add yadif to -vf instead",
    **{f"{kind}{side}": _GONE + "; use the crop or pad filter instead"
       for kind in ("crop", "pad") for side in ("top", "bottom", "left", "right")},
    "padcolor": _GONE + "; use the pad filter instead",
}


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
        spec.passes.append(tuple(
            _options(one.get(side), f"{place}.{side}", notes)
            for side in ("infile_options", "outfile_options")
        ))
    spec.notes = notes.items
    return spec


class _Notes:
    """Notes in first-seen order; a translation made in both passes is told once."""

    def __init__(self):
        self.items = []

    def add(self, text):
        if text not in self.items:
            self.items.append(text)


def _options(pairs, place, notes):
    if pairs is None:
        return []
    if not isinstance(pairs, list):
        raise InvalidInput(place, "must be a list of [option, value] pairs")
    if len(pairs) > MAX_OPTIONS:
        raise InvalidInput(place, f"has more than {MAX_OPTIONS} options")
    translated = []
    audio_async = None
    for i, pair in enumerate(pairs):
        name, value = _pair(pair, f"{place}[{i}]")
        if name.split(":", 1)[0] in DROPPED:
            check_name(name, f"{place}[{i}]")  # never reaches ffmpeg, whatever its value
        else:
            check_option(name, value, f"{place}[{i}]")
        if name == "async":
            # The value ends up inside a filtergraph: a number and nothing else.
            if value is None or not re.fullmatch(r"\d+(\.\d+)?", value):
                raise InvalidInput(f"{place}[{i}]", "the value of -async must be a number of samples")
            audio_async = (len(translated), value)
            continue
        translated.extend(_translate(name, value, notes))
    if audio_async is not None:
        _merge_async(translated, *audio_async, notes)
    args = []
    for name, value in translated:
        args.append("-" + name)
        if value is not None:
            args.append(value)
    return args


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
