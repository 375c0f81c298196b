"""One chain of scalers for all the renditions of a shared run.

Each video preset fits the source to its own size. When a run makes several
sizes, scaling each from the full source costs a full-size scale per output;
scaling the largest from the source, the next from the largest, and so on,
costs one full-size scale in all (a 1080p ladder from a 1080p source spends
about a third less time scaling). Equal sizes share one scaler through a
split. Every step is the same fit (scaling.fit_filter) applied to a picture
that is already square-pixelled and even-sized, so the sizes are those each
preset makes alone.

Only presets that declare their size and use the standard fit take part;
the others keep their own filters.
"""

import dataclasses

from nommer.core.ffmpeg.ladder import rungs_for
from nommer.core.ffmpeg.preset import LADDER_KINDS
from nommer.core.ffmpeg.sizing import fit_filter


@dataclasses.dataclass(frozen=True)
class Sink:
    """One video stream of one output that wants the source fitted to ``side``."""

    index: int  # of the job output
    stream: int  # video stream within that output
    side: int


def sinks_of(targets, probe):
    """The video streams of ``targets`` that can take part."""
    sinks = []
    for t in targets:
        preset = t.requested.preset
        if preset is None:
            continue
        if preset.kind in LADDER_KINDS and preset.make_args is not None and getattr(preset.make_args, "cascades", False):
            sinks += [Sink(t.index, i, r.side) for i, r in enumerate(rungs_for(probe))]
        elif preset.kind == "file" and preset.side and fits_alone(preset):
            sinks.append(Sink(t.index, 0, preset.side))
    return sinks


def fits_alone(preset):
    """Whether the preset's video is the first video stream fitted by -vf, nothing else."""
    args = list(preset.output_args)
    try:
        return (args[args.index("-vf") + 1] == fit_filter(preset.side)
                and args[args.index("-map") + 1] == "0:V:0" and args.count("-vf") == 1)
    except (ValueError, IndexError):
        return False


def graph(sinks):
    """(filter_complex text, {(index, stream): label}); ("", {}) when there
    are fewer than two sizes to make, where a chain saves nothing."""
    sides = sorted({s.side for s in sinks}, reverse=True)
    if len(sinks) < 2 or len(sides) < 2:
        return "", {}
    labels = {}
    parts = []
    source = "[0:V:0]"
    for n, side in enumerate(sides):
        users = [s for s in sinks if s.side == side]
        outs = [f"nv{n}_{k}" for k in range(len(users))]
        for sink, label in zip(users, outs):
            labels[(sink.index, sink.stream)] = label
        last = n == len(sides) - 1
        branches = outs + ([] if last else [f"nvnext{n}"])
        chain = f"{source}{fit_filter(side)}"
        if len(branches) > 1:
            chain += f",split={len(branches)}"
        parts.append(chain + "".join(f"[{b}]" for b in branches))
        source = f"[nvnext{n}]"
    return ";".join(parts), labels


def rewrite_file_args(args, label):
    """A fitting file preset's arguments reading the chain's ``label``
    instead of fitting the source itself."""
    args = list(args)
    args[args.index("-map") + 1] = f"[{label}]"
    i = args.index("-vf")
    del args[i:i + 2]
    return args
