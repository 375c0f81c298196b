"""Arguments of the still-image presets: thumbnails every N seconds and a poster frame."""

import os

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.sizing import fit_filter

THUMBNAIL_SIDE = 360
POSTER_SIDE = 1080
DEFAULT_INTERVAL = 10.0
MAX_INTERVAL = 86400.0
# The poster comes from a tenth of the way in: the first frame is often black.
POSTER_AT = 0.1


def thumbnail_args(folder, probe, output):
    """One JPEG every ``interval`` seconds (the output's option), from the start."""
    interval = float(output.get("interval") or DEFAULT_INTERVAL)
    return [
        "-map", "0:V:0",
        "-vf", f"fps=1/{interval:g},{fit_filter(THUMBNAIL_SIDE)}",
        "-c:v", "mjpeg", "-q:v", "3",
        # image2 numbers the files itself; nommer chose the folder.
        "-f", "image2", "-start_number", "1",
        os.path.join(folder, "thumb-%05d.jpg"),
    ]


def poster_args(target, probe, output):
    """One JPEG from a tenth of the way into the source."""
    duration = (probe or {}).get("duration") or 0.0
    at = round(duration * POSTER_AT, 3)
    return [
        "-map", "0:V:0",
        # As an output option -ss decodes and drops frames up to the time,
        # so it costs other outputs of the same run nothing.
        "-ss", f"{at:g}",
        "-vf", fit_filter(POSTER_SIDE),
        "-frames:v", "1",
        "-c:v", "mjpeg", "-q:v", "2",
        "-f", "image2", "-update", "1",
        target,
    ]


def check_interval(value, field):
    """``value`` as seconds between thumbnails; InvalidInput naming ``field`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(field, "must be a number of seconds between thumbnails")
    if not 0.04 <= value <= MAX_INTERVAL:
        raise InvalidInput(field, f"must be between 0.04 and {MAX_INTERVAL:g} seconds, not {value:g}")
    return float(value)
