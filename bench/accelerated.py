"""Accelerated encoding: one source's video cut into segments, encoded in
parallel, stitched (nommer/core/ffmpeg/segments.py, stitch.py, verify.py;
docs/accelerated.md).

A 2-minute 1280x720 25 fps H.264 source (a key frame every 2 s) made with
the bundled ffmpeg, encoded to ``mp4-h264-720p``, every ffmpeg run through
the project's runner, the pieces run directly (not yet through the farm):

(a) CPU of the accelerated encode (scan, segments, audio, stitch) against
    the normal encode of the same output;
(b) wall time of the accelerated encode with two workers pinned to one
    core each (taskset) against the normal encode pinned to one core;
(c) the wall time of a 60-minute source on 10, 20 and 50 encoders,
    projected from the measured per-segment cost and the measured scan,
    stitch and check overheads (the model is printed with the figures).

    python bench/accelerated.py   # prints the section of docs/benchmarks.md
"""

import heapq
import math
import os
import pathlib
import resource
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

from nommer.core.config import load  # noqa: E402
from nommer.core.ffmpeg import probe, runner, segments, stitch, verify  # noqa: E402
from nommer.core.ffmpeg.command import GLOBAL_ARGS  # noqa: E402

PRESET = "mp4-h264-720p"
SECONDS = 120
SEGMENT_SECONDS = 10.0
PROJECTED_SECONDS = 3600
ENCODERS = (10, 20, 50)


def cpu_now():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(step):
    """(result, wall s, CPU s of the child processes) of ``step()``."""
    cpu, started = cpu_now(), time.monotonic()
    result = step()
    return result, time.monotonic() - started, cpu_now() - cpu


def pinned(argv, core):
    return ["taskset", "-c", str(core), *argv] if core is not None else argv


def make_source(ffmpeg, path):
    runner.FfmpegRun([ffmpeg, *GLOBAL_ARGS, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SECONDS),
                      "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "50", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", "-b:a", "128k", str(path)]).run()


def accelerated(ffmpeg, source, probed, work, workers=None):
    """Scan, plan, segments (on ``workers``: a list of cores, one worker
    each, or None for one unpinned worker), audio, stitch, check. Returns
    the timings."""
    work.mkdir(parents=True, exist_ok=True)
    times = {}
    scan, times["scan_wall"], _ = timed(lambda: segments.scan(ffmpeg, source, work, probed))
    plan = segments.plan(scan, SEGMENT_SECONDS)
    target = work / "out.mp4"
    made = stitch.pieces(ffmpeg, source, probed, {"destination": "x", "preset": PRESET}, plan, scan,
                         str(target), work / "pieces")
    # The longest piece first (the audio: the whole source's), then the segments.
    jobs = [("audio", made.audio, None)] + [("segment", argv, s) for argv, s in zip(made.segments, plan.segments)]
    walls = {"segment": [], "audio": [], "segment_check": []}
    check_cpu = []
    lock = threading.Lock()

    def worker(core):
        while True:
            with lock:
                if not jobs:
                    return
                kind, argv, segment = jobs.pop(0)
            started = time.monotonic()
            stitch.run(pinned(argv, core), work / "pieces")
            encoded, cpu = time.monotonic(), cpu_now()
            if segment is not None:
                # Checked where it was made (decoded whole), on the same core.
                if core is None:
                    verify.check_segment(ffmpeg, argv[-1], segment, work / "pieces")
                else:
                    _pinned_check(ffmpeg, argv[-1], segment, work / "pieces", core)
            with lock:
                walls[kind].append(encoded - started)
                if segment is not None:
                    walls["segment_check"].append(time.monotonic() - encoded)
                    # The check's CPU alone when one worker runs (else it is shared).
                    check_cpu.append(cpu_now() - cpu)

    def encode_all():
        threads = [threading.Thread(target=worker, args=(core,)) for core in (workers or [None])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, times["pieces_wall"], _ = timed(encode_all)
    stitch.write_list(made)
    core = workers[0] if workers else None
    _, times["stitch_wall"], _ = timed(lambda: stitch.run(pinned(made.stitch, core), work / "pieces"))
    # The stitch's own check: packets and audio (the video was decoded segment by segment).
    _, times["check_wall"], stitch_check_cpu = timed(
        lambda: verify.check(ffmpeg, target, scan, work, decode_video=False))
    times["checks_cpu"] = sum(check_cpu) + stitch_check_cpu
    times["segments"] = len(plan.segments)
    times["segment_walls"] = walls["segment"]
    times["audio_wall"] = walls["audio"][0]
    times["segment_check_walls"] = walls["segment_check"]
    times["lead_in"] = plan.lead_in
    return times, made


def _pinned_check(ffmpeg, path, segment, workdir, core):
    """verify.check_segment with its ffmpeg on one core: the check takes the
    program's path first, so a tiny script stands in for the pinned ffmpeg."""
    script = pathlib.Path(workdir) / f"ffmpeg-on-{core}"
    if not script.exists():
        script.write_text(f"#!/bin/sh\nexec taskset -c {core} {ffmpeg} \"$@\"\n")
        script.chmod(0o755)
    return verify.check_segment(str(script), path, segment, workdir)


def main():
    ffmpeg = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as folder:
        folder = pathlib.Path(folder)
        source = folder / "source.mp4"
        make_source(ffmpeg, source)
        probed = probe(ffmpeg, str(source))
        # (a) CPU, unpinned, one at a time.
        acc, acc_wall, acc_cpu = timed(lambda: accelerated(ffmpeg, source, probed, folder / "a"))
        times, made = acc
        normal_argv = made.normal
        _, normal_wall, normal_cpu = timed(lambda: stitch.run(normal_argv, folder / "a"))
        check_cpu = timed(lambda: verify.measure(ffmpeg, normal_argv[-1], folder / "a", "n"))[2]
        # (b) one core: the normal encode; two workers on one core each.
        _, one_core_wall, _ = timed(lambda: stitch.run(pinned(normal_argv, 0), folder / "a"))
        two, two_wall, _ = timed(lambda: accelerated(ffmpeg, source, probed, folder / "b", workers=[0, 1]))
        # Per-segment cost on one core, from (b)'s two pinned workers.
        segment_wall = sum(two[0]["segment_walls"]) / len(two[0]["segment_walls"])
        segment_check_wall = sum(two[0]["segment_check_walls"]) / len(two[0]["segment_check_walls"])
    result = {
        "load": os.getloadavg()[0],
        "segments": times["segments"], "lead_in": times["lead_in"],
        "normal_cpu": normal_cpu, "normal_wall": normal_wall, "accelerated_cpu": acc_cpu,
        "accelerated_wall": acc_wall, "cpu_ratio": acc_cpu / normal_cpu, "check_cpu": check_cpu,
        "checks_cpu": times["checks_cpu"], "cpu_ratio_without_checks": (acc_cpu - times["checks_cpu"]) / normal_cpu,
        "one_core_wall": one_core_wall, "two_workers_wall": two_wall, "speedup_2": one_core_wall / two_wall,
        "speedup_2_without_check": one_core_wall / (two_wall - two[0]["check_wall"]),
        "scan_wall": two[0]["scan_wall"], "stitch_wall": two[0]["stitch_wall"], "check_wall": two[0]["check_wall"],
        "audio_wall": two[0]["audio_wall"], "segment_wall": segment_wall,
        "segment_check_wall": segment_check_wall,
    }
    result["projection"] = project(result)
    return result


def project(r):
    """The model of (c): a source of PROJECTED_SECONDS on N encoders of one
    core each. The scan, the stitch and the stitch's check scale with the
    duration and run on one encoder, before and after the pieces. The
    pieces (the audio, the measured one-core wall of the audio piece scaled
    to the duration; the segments, each the measured one-core wall of a
    segment and of its check) go to the N encoders longest first, each
    encoder taking the next piece as soon as it is free (list scheduling).
    Queue and transfer delays are left out (milliseconds per piece on one
    machine; on a real farm, the upload of each segment to scratch storage)."""
    scale = PROJECTED_SECONDS / SECONDS
    count = math.ceil(PROJECTED_SECONDS / SEGMENT_SECONDS)
    serial = r["one_core_wall"] * scale
    segment = r["segment_wall"] + r["segment_check_wall"]
    rows = []
    for n in ENCODERS:
        free = [0.0] * n
        for piece in [r["audio_wall"] * scale] + [segment] * count:
            heapq.heappush(free, heapq.heappop(free) + piece)
        pieces = max(free)
        fixed = (r["scan_wall"] + r["stitch_wall"] + r["check_wall"]) * scale
        total = fixed + pieces
        rows.append({"encoders": n, "wall": total, "speedup": serial / total, "pieces": pieces,
                     "goal": 0.8 * n})
    return {"serial": serial, "segments": count, "segment": segment, "rows": rows}


def section(r, today, machine):
    p = r["projection"]
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    rows = "".join(
        f"| {row['encoders']} | {row['pieces']:.0f} | {row['wall']:.0f} | **{row['speedup']:.1f}×** "
        f"| {row['goal']:.0f}× |\n" for row in p["rows"])
    at20 = next(row for row in p["rows"] if row["encoders"] == 20)
    return f"""## Accelerated encoding (bench/accelerated.py)

Measured on {today}, on {machine} (load average {r['load']:.1f} at the end: the
machine was shared, so every figure is of a loaded machine).
A {SECONDS} s 1280x720 25 fps H.264 source (a key frame every 2 s) made into
`{PRESET}`, once normally and once accelerated: the packets scanned, {r['segments']}
segments of about {SEGMENT_SECONDS:g} s cut on key frames (lead-in {r['lead_in']:.1f} s), each
encoded by its own ffmpeg and then decoded whole to check it, the audio once,
the stitch (concat, `-c copy`, fast start) and the stitch's check (packets,
frame times, audio decoded). Every ffmpeg ran through the project's runner;
the pieces ran directly, not yet through the farm.

| | measured | goal | |
|---|---|---|---|
| (a) CPU, accelerated (checks included) / normal (no check) | {r['accelerated_cpu']:.1f} s / {r['normal_cpu']:.1f} s = **{r['cpu_ratio']:.3f}** | ≤ 1.05 | {met(r['cpu_ratio'] <= 1.05)} |
| (b) wall, normal encode on one core / accelerated on two workers of one core each | {r['one_core_wall']:.1f} s / {r['two_workers_wall']:.1f} s = **{r['speedup_2']:.2f}×** | ≥ 1.8× | {met(r['speedup_2'] >= 1.8)} |
| (c) projected speed-up of a 60-minute source on 20 encoders | **{at20['speedup']:.1f}×** | ≥ 16× (0.8 N) | {met(at20['speedup'] >= 16)} |

The checks (each segment decoded, the stitch's packets and audio) took
{r['checks_cpu']:.1f} s of that CPU; without them the ratio is
**{r['cpu_ratio_without_checks']:.3f}**. For scale: decoding the whole output
once (the check a single encoder would make) took {r['check_cpu']:.1f} s of CPU.

(c) The model: a 60-minute source is {p['segments']} segments. On one
encoder of one core the normal encode takes {p['serial']:.0f} s (measured
one-core wall × {PROJECTED_SECONDS // SECONDS}). On N encoders of one core each: the scan
({r['scan_wall']:.2f} s here), the stitch ({r['stitch_wall']:.2f} s) and the stitch's check
({r['check_wall']:.2f} s) scale with the duration and run on one encoder; the
pieces go to the N encoders longest first, each encoder taking the next as
soon as it is free: the audio ({r['audio_wall']:.2f} s here, × {PROJECTED_SECONDS // SECONDS}), then
the segments, {p['segment']:.2f} s each (encode {r['segment_wall']:.2f} s and check
{r['segment_check_wall']:.2f} s on one core, the means of (b)'s). Queue and transfer
delays are left out.

| encoders | pieces, s | projected wall, s | speed-up | goal (0.8 N) |
|---|---|---|---|---|
{rows}
What bounds it: at 20 encoders each encoder's share of the segments is
{p['segments'] * p['segment'] / 20:.0f} s, while the audio piece, one AAC encode of the whole hour on one
core, takes {r['audio_wall'] * PROJECTED_SECONDS / SECONDS:.0f} s; beyond that, the segments' own checks add
{r['segment_check_wall'] / r['segment_wall']:.0%} to each segment, and the scan, stitch and
stitch check {(r['scan_wall'] + r['stitch_wall'] + r['check_wall']) * PROJECTED_SECONDS / SECONDS:.0f} s. A segment costs
{r['segment_wall'] * SECONDS / SEGMENT_SECONDS / r['one_core_wall']:.2f}× its share of the normal encode on one core.
"""


if __name__ == "__main__":
    import datetime

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import common

    print(section(main(), datetime.date.today().isoformat(), common.machine()))
