"""An accelerated HLS ladder made segment by segment (every rendition of a
segment in one run) against rendition by rendition (each rendition of each
segment a piece of its own; docs/accelerated.md).

A 60 s 1280x720 25 fps H.264 source with sound (a key frame every 2 s),
made into ``hls-h264-ladder`` (720p, 480p, 360p), cut into segments of two
HLS segments (12 s). Every run goes through the project's runner pinned to
one core (taskset), one at a time, and its CPU time is measured (on a
shared machine the wall time says more of the others' work than of the
piece's; on an encoder of one core a piece takes about its CPU time); each
piece is then checked where it is made (``verify.check_segment``: a
whole-ladder segment's check decodes its first video stream, a rendition's
its one). Both ways are stitched and the rendition-by-rendition one checked.

From the pieces' CPU: their sum, the longest piece (the wall time with as
many encoders as pieces, leaving out the scan, the audio and the stitch),
and the wall time of the pieces on N encoders of one core, each taking the
next piece, longest first, as soon as it is free.

    python bench/accelerated_ladder.py   # prints the section of docs/benchmarks.md
"""

import heapq
import os
import pathlib
import resource
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

import accelerated  # noqa: E402
import common  # noqa: E402

from nommer.core.config import load  # noqa: E402
from nommer.core.ffmpeg import probe, segments, stitch, verify  # noqa: E402

SECONDS = 60
SEGMENT_SECONDS = 12.0
ENCODERS = (2, 5, 15)
CORE = 0


def pinned(argv):
    return ["taskset", "-c", str(CORE), *argv]


def pinned_ffmpeg(ffmpeg, folder):
    """A tiny script standing in for ffmpeg on one core (the check takes the program's path)."""
    script = pathlib.Path(folder) / "ffmpeg-pinned"
    script.write_text(f"#!/bin/sh\nexec taskset -c {CORE} {ffmpeg} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def cpu_now():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def cpu(step):
    """CPU seconds of the child processes of ``step()`` (run unconfined: children of this one)."""
    started = cpu_now()
    step()
    return cpu_now() - started


def make_pieces(ffmpeg, runs, work):
    """[(CPU of the encode, CPU of its check)] of every argv of ``runs``: (argv, segment)."""
    checker = pinned_ffmpeg(ffmpeg, work)
    out = []
    for argv, segment in runs:
        encode = cpu(lambda: stitch.run(pinned(argv), work))
        check = cpu(lambda: verify.check_segment(checker, argv[-1], segment, work))
        out.append((encode, check))
    return out


def schedule(walls, encoders):
    """The wall time of pieces of ``walls`` on ``encoders`` encoders, longest first."""
    free = [0.0] * encoders
    for w in sorted(walls, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + w)
    return max(free)


def main():
    ffmpeg = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as folder:
        folder = pathlib.Path(folder)
        source = folder / "source.mp4"
        accelerated.make_source(ffmpeg, source, SECONDS)
        probed = probe(ffmpeg, str(source))
        scan = segments.scan(ffmpeg, source, folder / "scan", probed)
        plan = segments.plan(scan, SEGMENT_SECONDS, hls=True)
        output = {"destination": "x", "preset": "hls-h264-ladder"}
        # Rendition by rendition, as the farm now makes a ladder.
        apart = folder / "apart"
        made = stitch.pieces(ffmpeg, source, probed, output, plan, scan, str(apart / "out"), apart)
        count = len(plan.segments)
        renditions = stitch.renditions(made.normal)
        apart_cpu = make_pieces(ffmpeg, [(argv, plan.segments[n % count]) for n, argv in enumerate(made.segments)],
                                  apart)
        stitch.run(made.audio, apart)
        stitch.write_list(made)
        apart_stitch = cpu(lambda: stitch.run(pinned(made.stitch), apart))
        for name in ("720p", "480p", "360p")[:renditions]:
            verify.check(ffmpeg, apart / "out" / f"{name}.m3u8", scan, apart, tag=name, decode_video=False)
        # Segment by segment, every rendition in one run (as before).
        together = folder / "together"
        together.mkdir()
        names = [f"segment-{s.index:05d}.mp4" for s in plan.segments]
        runs = [(stitch.segment_argv(made.normal, s, str(together / n), last=s.index == count - 1), s)
                for s, n in zip(plan.segments, names)]
        together_cpu = make_pieces(ffmpeg, runs, together)
        list_path = together / "segments.ffconcat"
        list_path.write_text(stitch.concat_list(plan, names))
        (together / "out").mkdir()
        argv = stitch.stitch_argv(made.normal, str(list_path), made.audio_path, scan, str(together / "out"))
        together_stitch = cpu(lambda: stitch.run(pinned(argv), together))
        # The normal encode of the whole ladder, on one core.
        normal_cpu = cpu(lambda: stitch.run(pinned(made.normal), folder / "normal"))
    result = {"load": os.getloadavg()[0], "segments": count, "renditions": renditions, "normal_cpu": normal_cpu,
              "by_rendition": [sum(e for (e, _), r in zip(apart_cpu, made.renditions) if r == n) / count
                               for n in range(renditions)]}
    for name, pieces_cpu, stitched in (("together", together_cpu, together_stitch),
                                  ("apart", apart_cpu, apart_stitch)):
        total = [e + c for e, c in pieces_cpu]
        result[name] = {
            "pieces": len(pieces_cpu), "encode": sum(e for e, _ in pieces_cpu), "check": sum(c for _, c in pieces_cpu),
            "longest": max(total), "stitch": stitched, "mean": sum(total) / len(total),
            "on": {n: schedule(total, n) for n in ENCODERS},
        }
    return result


def section(r, today, machine):
    t, a = r["together"], r["apart"]
    rows = "".join(
        f"| {n} | {t['on'][n]:.1f} | {a['on'][n]:.1f} | **{t['on'][n] / a['on'][n]:.2f}×** |\n" for n in ENCODERS)
    return f"""## An accelerated ladder, rendition by rendition (bench/accelerated_ladder.py)

Measured on {today}, on {machine} (load average {r['load']:.1f} at the end:
a shared machine: CPU seconds are given, which the load changes little). A
{SECONDS} s 1280x720 25 fps H.264 source with sound made into `hls-h264-ladder`
({r['renditions']} renditions: 720p, 480p, 360p), cut into {r['segments']} segments of {SEGMENT_SECONDS:g} s (two HLS
segments). Each piece ran alone, pinned to one core, through the project's
runner, and was checked where it was made (decoded whole). *Together*: a
segment's renditions in one run (one piece per segment, as before);
*apart*: each rendition of each segment a piece of its own (how the farm
now makes a ladder). The normal encode of the whole ladder took
{r['normal_cpu']:.1f} s of CPU on one core.

| | pieces | encodes, CPU s | checks, CPU s | mean piece, s | longest piece, s | stitch, CPU s |
|---|---|---|---|---|---|---|
| together | {t['pieces']} | {t['encode']:.1f} | {t['check']:.1f} | {t['mean']:.2f} | {t['longest']:.2f} | {t['stitch']:.2f} |
| apart | {a['pieces']} | {a['encode']:.1f} | {a['check']:.1f} | {a['mean']:.2f} | {a['longest']:.2f} | {a['stitch']:.2f} |

A segment's renditions apart cost, each, {" s, ".join(f"{x:.2f}" for x in r['by_rendition'])} s of CPU (720p to
360p) against {t['encode'] / t['pieces']:.2f} s together. Apart, the encodes cost **{a['encode'] / t['encode']:.2f}×** the CPU
of together: every rendition's piece decodes the source again and scales
it down the chain of scalers to its size; and each rendition is checked,
not only the first video stream ({a['check'] / max(t['check'], 1e-9):.2f}× the checks). What it buys: the
longest piece, which bounds the wall time however many encoders there
are, is **{t['longest'] / a['longest']:.2f}×** shorter (the largest rendition is most of a segment's
work), and the work spreads over {a['pieces'] // t['pieces']}× as many encoders. The pieces' wall
time on N encoders of one core (each taking the next piece, longest first;
the scan, the audio and the stitch left out):

| encoders | together, s | apart, s | together / apart |
|---|---|---|---|
{rows}
So rendition pieces pay when a job has fewer segments than there are
encoders free (a short source, or many encoders), and cost more than they
save when every encoder has several segments to make anyway.
"""


if __name__ == "__main__":
    import datetime

    print(section(main(), datetime.date.today().isoformat(), common.machine()))
