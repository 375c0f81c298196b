"""Options and filters that would make an encode endless, refused at submit.

A 1-second clip with ``-af apad`` and no length writes silence until the disk
is full; ``-stream_loop -1`` and ``tpad=stop=-1`` run until the encode
timeout. Such a job is refused when it is submitted, naming the option or
filter:

- ``-stream_loop`` takes a whole number from 0 to :data:`MAX_STREAM_LOOP`;
- the ``apad`` filter (and the ``-apad`` option, which adds one) needs
  ``pad_len``, ``whole_len``, ``pad_dur`` or ``whole_dur``, at most
  :data:`MAX_PAD_SECONDS` (or as many samples at 384 kHz);
- the ``tpad`` filter's ``stop`` and ``start`` are whole numbers up to
  :data:`MAX_PAD_FRAMES` (so never -1, "forever"), its durations at most
  :data:`MAX_PAD_SECONDS`;
- ``-readrate`` and ``-readrate_catchup`` below 1 would slow the reading
  of the source without end in sight; they must be 1 or more (or 0, no limit).

``loop``, ``aloop`` and every source filter are not in the filter allowlist
(safety.ALLOWED_FILTERS) and ``lavfi`` is not an allowed format, so they are
refused already. Numbers are plain decimals: ffmpeg would evaluate an
expression such as ``-1+0`` to -1.
"""

import re

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.tokens import filter_options

MAX_STREAM_LOOP = 10
MAX_PAD_SECONDS = 3600
MAX_PAD_FRAMES = MAX_PAD_SECONDS * 120
MAX_PAD_SAMPLES = MAX_PAD_SECONDS * 384000

_WHOLE = re.compile(r"^\d{1,12}$")
_SECONDS = re.compile(r"^(\d{1,7})(\.\d{1,6})?(s|ms|us)?$")
_CLOCK = re.compile(r"^(\d{1,4}):([0-5]?\d):([0-5]?\d)(\.\d{1,6})?$")
_RATE = re.compile(r"^\d{1,6}(\.\d{1,6})?$")

# Positional order of each filter's options (ffmpeg -h filter=NAME).
APAD = ("packet_size", "pad_len", "whole_len", "pad_dur", "whole_dur")
TPAD = ("start", "stop", "start_mode", "stop_mode", "start_duration", "stop_duration", "color")


def check_option(name, base, value, place):
    """Raise InvalidInput when ``-name value`` would make the encode endless."""
    if base == "stream_loop":
        if not _WHOLE.match(value) or int(value) > MAX_STREAM_LOOP:
            raise InvalidInput(
                place,
                f"-{name} must be a whole number of extra plays from 0 to {MAX_STREAM_LOOP} "
                "(-1, forever, would run until the encode timeout)",
            )
    elif base in ("readrate", "readrate_catchup"):
        if not _RATE.match(value) or 0 < float(value) < 1:
            raise InvalidInput(place, f"-{name} must be 0 (no limit) or a speed of 1 or more")
    elif base == "apad":
        check_apad(f"-{name}", value, place)


def check_filter(option, f, place):
    """Raise InvalidInput when filter ``f`` (filtergraph.Filter) of ``-option``
    would never end."""
    if f.name == "apad":
        check_apad(f"the apad filter of -{option}", f.args, place)
    elif f.name == "tpad":
        _check_tpad(f"the tpad filter of -{option}", f.args, place)


def check_apad(what, args, place):
    bounded = False
    for key, value in _named(what, args, APAD, place):
        if key in ("pad_len", "whole_len"):
            _count(what, key, value, MAX_PAD_SAMPLES, place)
            bounded = True
        elif key in ("pad_dur", "whole_dur"):
            _duration(what, key, value, place)
            bounded = True
    if not bounded:
        raise InvalidInput(
            place,
            f"{what} pads without end; give pad_len, whole_len, pad_dur or whole_dur "
            f"(at most {MAX_PAD_SECONDS} s)",
        )


def _check_tpad(what, args, place):
    for key, value in _named(what, args, TPAD, place):
        if key in ("start", "stop"):
            _count(what, key, value, MAX_PAD_FRAMES, place)
        elif key in ("start_duration", "stop_duration"):
            _duration(what, key, value, place)


def _named(what, args, order, place):
    """The filter's options as (name, value), positional ones named by
    ``order``; every one is checked, not only the last of a name."""
    named = []
    positional = list(order)
    for key, value in filter_options(args):
        if key is None:
            if not positional:
                raise InvalidInput(place, f"{what} has more values than it has options")
            key = positional.pop(0)
        else:
            positional = []  # ffmpeg takes no positional value after a named one
        named.append((key, value))
    return named


def _count(what, key, value, most, place):
    if not _WHOLE.match(value) or int(value) > most:
        raise InvalidInput(
            place, f"{what}: {key} must be a whole number from 0 to {most} (-1 would never end)"
        )


def _duration(what, key, value, place):
    seconds = _seconds(value)
    if seconds is None or seconds > MAX_PAD_SECONDS:
        raise InvalidInput(
            place,
            f"{what}: {key} must be a duration from 0 to {MAX_PAD_SECONDS} s "
            "(seconds such as 2.5 or 2500ms, or HH:MM:SS)",
        )


def _seconds(value):
    m = _SECONDS.match(value)
    if m:
        number = float(m.group(1) + (m.group(2) or ""))
        return number / {"ms": 1000, "us": 1000000}.get(m.group(3), 1)
    m = _CLOCK.match(value)
    if m:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3) + (m.group(4) or ""))
    return None
