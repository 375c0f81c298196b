"""ffmpeg's ``-progress`` output: blocks of ``key=value`` lines.

Each block ends with ``progress=continue``, the last one with ``progress=end``.
The position comes as ``out_time_us`` (microseconds), ``out_time_ms`` (also
microseconds, despite its name: an old ffmpeg mistake kept for compatibility)
or ``out_time`` (``HH:MM:SS.micro``); early blocks may say ``N/A``.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Progress:
    seconds: float | None  # of output written so far; None when ffmpeg does not know yet
    done: bool  # ffmpeg said progress=end


class ProgressParser:
    """Feed it ``-progress`` lines; it hands back a Progress at each block's end."""

    def __init__(self):
        self._block = {}

    def feed(self, line):
        """The Progress of the block ``line`` ends, or None mid-block."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._block[key] = value.strip()
            return None
        block, self._block = self._block, {}
        return Progress(seconds=_position(block), done=value.strip() == "end")


def _position(block):
    for key in ("out_time_us", "out_time_ms"):
        try:
            micro = int(block[key])
        except (KeyError, ValueError):
            continue
        return micro / 1_000_000 if micro >= 0 else None
    return parse_clock(block.get("out_time", ""))


def parse_clock(text):
    """Seconds of ``[-]HH:MM:SS[.frac]``; None when it is not such a time."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    if hours < 0 or parts[0].startswith("-"):
        return None
    return hours * 3600 + minutes * 60 + seconds


def percent(seconds, duration):
    """Whole percent of ``duration`` done, 0..100; 0 when either is unknown.

    Rounded down, so 100 means the end was really reached.
    """
    if seconds is None or not duration or duration <= 0:
        return 0
    return max(0, min(100, int(seconds * 100 / duration)))
