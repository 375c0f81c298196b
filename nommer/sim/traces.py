"""Traces of jobs for the simulator: built-in synthetic ones, or a CSV.

A trace is a list of :class:`Submission`, by submit time. Each generator is
deterministic for a given seed.
"""

import csv
import dataclasses
import math
import random

from nommer.core.feeder.costs import CALIBRATED


@dataclasses.dataclass(frozen=True)
class Submission:
    at: float  # seconds from the start of the trace
    duration: float  # seconds of source
    preset: str


def _poisson(rng, rate_at, hours, step=60.0):
    """Arrival times of a Poisson process whose rate (jobs per hour) may vary,
    by thinning: ``rate_at(t)`` is bounded by its maximum over the trace."""
    end = hours * 3600.0
    peak = max(rate_at(t) for t in range(0, int(end) + 1, int(step)))
    times, t = [], 0.0
    while peak > 0:
        t += rng.expovariate(peak / 3600.0)
        if t >= end:
            break
        if rng.random() * peak <= rate_at(t):
            times.append(t)
    return times


def _clip(rng):
    return round(min(600.0, rng.lognormvariate(math.log(60.0), 0.8)), 1)


def _film(rng):
    return round(rng.uniform(1800.0, 7200.0), 1)


def steady(seed=0, hours=6.0, rate=30.0):
    """Poisson arrivals at ``rate`` jobs an hour, clips of about a minute,
    H.264 720p."""
    rng = random.Random(seed)
    return [Submission(t, _clip(rng), "mp4-h264-720p") for t in _poisson(rng, lambda t: rate, hours)]


def daily(seed=0, hours=24.0, rate=40.0):
    """A day: arrivals follow a sine from almost none at night to 1.9 ×
    ``rate`` at midday; clips, mixed presets."""
    rng = random.Random(seed)
    presets = ["mp4-h264-720p", "mp4-h264-1080p", "mp4-h264-480p", "hls-h264-ladder"]

    def rate_at(t):
        return rate * (1.0 - 0.9 * math.cos(2 * math.pi * t / 86400.0))

    return [Submission(t, _clip(rng), rng.choice(presets)) for t in _poisson(rng, rate_at, hours)]


def bursts(seed=0, hours=6.0, rate=6.0, every=7200.0, size=60):
    """A trickle of ``rate`` jobs an hour, and every ``every`` seconds a
    burst of ``size`` short clips submitted within a minute."""
    rng = random.Random(seed)
    out = [Submission(t, _clip(rng), "mp4-h264-720p") for t in _poisson(rng, lambda t: rate, hours)]
    start = every / 2
    while start < hours * 3600.0:
        out += [Submission(start + rng.uniform(0, 60.0), round(rng.uniform(10.0, 120.0), 1),
                           "mp4-h264-720p") for _ in range(size)]
        start += every
    return sorted(out, key=lambda s: s.at)


def longtail(seed=0, hours=24.0, rate=20.0, films=0.1):
    """Clips of about a minute and, one job in ten, films of 30 minutes to
    2 hours made into an HLS ladder: a long-tailed mix of durations."""
    rng = random.Random(seed)
    out = []
    for t in _poisson(rng, lambda t: rate, hours):
        if rng.random() < films:
            out.append(Submission(t, _film(rng), "hls-h264-ladder"))
        else:
            out.append(Submission(t, _clip(rng), "mp4-h264-720p"))
    return out


BUILT_IN = {"steady": steady, "daily": daily, "bursts": bursts, "longtail": longtail}


class TraceError(ValueError):
    """A CSV trace that cannot be read; the message names the line and column."""


def load_csv(path):
    """A trace from a CSV with the columns ``submit`` (seconds from the
    start), ``duration`` (seconds of source) and ``preset``."""
    out = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"submit", "duration", "preset"} - set(reader.fieldnames or ())
        if missing:
            raise TraceError(f"{path}: missing column(s) {', '.join(sorted(missing))} "
                             "(the header must name submit, duration, preset)")
        for line, row in enumerate(reader, start=2):
            try:
                at, duration = float(row["submit"]), float(row["duration"])
            except (TypeError, ValueError):
                raise TraceError(f"{path} line {line}: submit and duration must be numbers") from None
            if not (math.isfinite(at) and at >= 0):
                raise TraceError(f"{path} line {line}: submit must be 0 or more seconds")
            if not (math.isfinite(duration) and duration > 0):
                raise TraceError(f"{path} line {line}: duration must be more than 0 seconds")
            preset = (row["preset"] or "").strip()
            if not preset:
                raise TraceError(f"{path} line {line}: preset is empty")
            out.append(Submission(at, duration, preset))
    return sorted(out, key=lambda s: s.at)


def known_preset(name):
    return name in CALIBRATED
