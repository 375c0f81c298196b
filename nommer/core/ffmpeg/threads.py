"""How many threads each video encoder of a shared ffmpeg run gets.

Left to themselves, x264 and its peers each start about 1.5 threads per core,
so a run of four renditions on two cores starts a dozen encoding threads that
fight for the cores, and frame threading costs work of its own. When a run
holds several video encodes, they share the cores instead, each in
proportion to the pixels it encodes (at least one): on two cores a
1080p-to-360p ladder runs every encoder on one thread, all four at once,
and spends about a fifth less CPU time.
"""

import math
import os

from nommer.core.ffmpeg.ladder import rungs_for, video_stream
from nommer.core.ffmpeg.preset import LADDER_KINDS
from nommer.core.ffmpeg.sizing import fitted_size


def video_pixels(target, probe):
    """Pixels per frame of each video encode of a preset target, in stream order."""
    preset = target.requested.preset
    stream = video_stream(probe)
    if preset is None or stream is None or not preset.needs_video or preset.still:
        return []
    if preset.kind in LADDER_KINDS:
        sides = [r.side for r in rungs_for(probe)]
    else:
        sides = [preset.side or 1_000_000]  # unknown: the source's own size
    sizes = [fitted_size(stream, side) for side in sides]
    return [w * h for w, h in sizes if w and h]


def allot(targets, probe, cores=None):
    """{target index: [threads per video stream]} for a shared run; empty
    when it has fewer than two video encodes (ffmpeg's own choice is best)."""
    cores = cores or os.cpu_count() or 1
    pixels = {t.index: video_pixels(t, probe) for t in targets}
    total = sum(sum(p) for p in pixels.values())
    if sum(len(p) for p in pixels.values()) < 2 or not total:
        return {}
    return {
        index: [max(1, math.floor(cores * p / total + 0.5)) for p in streams]
        for index, streams in pixels.items() if streams
    }


def thread_args(threads):
    """The output options that give each video stream of one output its threads."""
    if len(threads) == 1:
        return ["-threads:v", str(threads[0])]
    args = []
    for i, n in enumerate(threads):
        args += [f"-threads:v:{i}", str(n)]
    return args
