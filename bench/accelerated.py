"""Accelerated encoding: one source's video cut into segments, encoded in
parallel, stitched (nommer/core/ffmpeg/segments.py, stitch.py, verify.py;
docs/accelerated.md).

A 2-minute 1280x720 25 fps H.264 source (a key frame every 2 s) made with
the bundled ffmpeg, encoded to ``mp4-h264-720p``, every ffmpeg run through
the project's runner, the pieces run directly (not yet through the farm):

(a) CPU of the accelerated encode (scan, segments, audio, stitch, and
    every check) against the normal encode of the same output; beside it,
    each check as it is now against the way it was before (each segment
    decoded with ffmpeg's default decoder settings; the audio decoded by
    the scan and by the stitch's check), measured in the same run;
(b) wall time of the accelerated encode with two workers pinned to one
    core each (taskset) against the normal encode pinned to one core;
(c) the wall time of a 60-minute source on 10, 20 and 50 encoders,
    projected from the measured per-segment cost and the measured scan,
    stitch and check overheads (the model is printed with the figures).

(d) with ``--farm``: the same job through real encoder processes (the
    embedded backends): normal on one encoder, accelerated on one and on
    two, each encoder pinned to its own core.

    python bench/accelerated.py          # prints the section of docs/benchmarks.md
    python bench/accelerated.py --farm   # prints its "through the farm" part
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
REPEATS = 3  # of each way of a check, in before_and_now
ROUNDS = 2  # of (b)'s two runs, alternating


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


def make_source(ffmpeg, path, seconds=SECONDS):
    """A 1280x720 25 fps H.264 source with a tone, a key frame every 2 s."""
    runner.FfmpegRun([ffmpeg, *GLOBAL_ARGS, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                      "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "50", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", "-b:a", "128k", str(path)]).run()


def accelerated(ffmpeg, source, probed, work, workers=None):
    """Scan, plan, segments (on ``workers``: a list of cores, one worker
    each, or None for one unpinned worker), audio, stitch, check, as the
    farm runs them. Returns the timings and the runs."""
    work.mkdir(parents=True, exist_ok=True)
    times = {}
    scan, times["scan_wall"], times["scan_cpu"] = timed(
        lambda: segments.scan(ffmpeg, source, work, probed, audio=False))
    plan = segments.plan(scan, SEGMENT_SECONDS)
    target = work / "out.mp4"
    made = stitch.pieces(ffmpeg, source, probed, {"destination": "x", "preset": PRESET}, plan, scan,
                         str(target), work / "pieces")
    # The longest piece first (the audio: the whole source's), then the segments.
    jobs = [("audio", made.audio, None)] + [("segment", argv, s) for argv, s in zip(made.segments, plan.segments)]
    walls = {"segment": [], "audio": [], "segment_check": [], "audio_check": []}
    cpus = {kind: [] for kind in walls}  # each piece's own when one worker runs (else they are shared)
    check_cpu, audio_checks = [], []
    lock = threading.Lock()

    def worker(core):
        while True:
            with lock:
                if not jobs:
                    return
                kind, argv, segment = jobs.pop(0)
            started, before = time.monotonic(), cpu_now()
            stitch.run(pinned(argv, core), work / "pieces")
            encoded, cpu = time.monotonic(), cpu_now()
            # Checked where it was made, on the same core.
            program = ffmpeg if core is None else _pinned_ffmpeg(ffmpeg, work / "pieces", core)
            if segment is not None:
                verify.check_segment(program, argv[-1], segment, work / "pieces")
            else:
                audio_checks.append(verify.check_audio(program, made.audio_path, work / "pieces",
                                                       work / "pieces" / "check"))
            with lock:
                walls[kind].append(encoded - started)
                walls[f"{kind}_check"].append(time.monotonic() - encoded)
                check_cpu.append(cpu_now() - cpu)
                cpus[kind].append(cpu - before)
                cpus[f"{kind}_check"].append(cpu_now() - cpu)

    def encode_all():
        threads = [threading.Thread(target=worker, args=(core,)) for core in (workers or [None])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, times["pieces_wall"], _ = timed(encode_all)
    stitch.write_list(made)
    core = workers[0] if workers else None
    checked = audio_checks[0]
    argv = stitch.stitch_argv(made.normal, made.lists[0][0], made.audio_path, scan, str(target), checked.offset)
    _, times["stitch_wall"], times["stitch_cpu"] = timed(lambda: stitch.run(pinned(argv, core), work / "pieces"))
    # The stitch's own check: packets only (the pieces' decoding was checked where they were made).
    _, times["check_wall"], stitch_check_cpu = timed(
        lambda: verify.check(ffmpeg, target, scan, work, decode_video=False, audio=checked))
    times["checks_cpu"] = sum(check_cpu) + stitch_check_cpu
    times["check_cpu"] = stitch_check_cpu
    times["cpus"] = cpus
    times["segments"] = len(plan.segments)
    times["segment_walls"] = walls["segment"]
    times["audio_wall"] = walls["audio"][0]
    times["audio_check_wall"] = walls["audio_check"][0]
    times["segment_check_walls"] = walls["segment_check"]
    times["lead_in"] = plan.lead_in
    return times, made, plan, scan


def _pinned_ffmpeg(ffmpeg, workdir, core):
    """A tiny script that runs ffmpeg on one core: the checks take the
    program's path first."""
    script = pathlib.Path(workdir) / f"ffmpeg-on-{core}"
    if not script.exists():
        script.write_text(f"#!/bin/sh\nexec taskset -c {core} {ffmpeg} \"$@\"\n")
        script.chmod(0o755)
    return str(script)


def before_and_now(ffmpeg, source, probed, work, made, plan):
    """CPU seconds of each check, the way it is now and the way it was
    before, on the files of one accelerated encode (unpinned, one after
    the other, alternating, ``REPEATS`` times each; the least of each)."""
    target = work / "out.mp4"
    pieces_dir = work / "pieces"
    full = segments.scan(ffmpeg, source, work / "before", probed)
    now_scan = segments.scan(ffmpeg, source, work / "now", probed, audio=False)
    checked = verify.check_audio(ffmpeg, made.audio_path, pieces_dir, pieces_dir / "check")
    audio_only = stitch.audio_argv(made.normal, made.audio_path)  # without the source's listing
    ways = {
        "segment checks": (
            lambda: [verify.check_segment(ffmpeg, argv[-1], s, pieces_dir, decode=())
                     for argv, s in zip(made.segments, plan.segments)],
            lambda: [verify.check_segment(ffmpeg, argv[-1], s, pieces_dir)
                     for argv, s in zip(made.segments, plan.segments)]),
        "scan": (lambda: segments.scan(ffmpeg, source, work / "before", probed),
                 lambda: segments.scan(ffmpeg, source, work / "now", probed, audio=False)),
        "audio piece (encode, and now its check)": (
            lambda: stitch.run(audio_only, pieces_dir),
            lambda: (stitch.run(made.audio, pieces_dir),
                     verify.check_audio(ffmpeg, made.audio_path, pieces_dir, pieces_dir / "check"))),
        "stitch check": (lambda: verify.check(ffmpeg, target, full, work, decode_video=False),
                         lambda: verify.check(ffmpeg, target, now_scan, work, decode_video=False, audio=checked)),
    }
    out = {}
    for name, (before, now) in ways.items():
        b, n = [], []
        for _ in range(REPEATS):
            b.append(timed(before)[2])
            n.append(timed(now)[2])
        out[name] = (min(b), min(n))
    return out


def main():
    ffmpeg = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as folder:
        folder = pathlib.Path(folder)
        source = folder / "source.mp4"
        make_source(ffmpeg, source)
        probed = probe(ffmpeg, str(source))
        # (a) CPU, unpinned, one at a time.
        acc, acc_wall, acc_cpu = timed(lambda: accelerated(ffmpeg, source, probed, folder / "a"))
        times, made, plan, _ = acc
        compared = before_and_now(ffmpeg, source, probed, folder / "a", made, plan)
        normal_argv = made.normal
        _, normal_wall, normal_cpu = timed(lambda: stitch.run(normal_argv, folder / "a"))
        check_cpu = timed(lambda: verify.measure(ffmpeg, normal_argv[-1], folder / "a", "n"))[2]
        # (b) one core: the normal encode; two workers on one core each.
        # Alternating, ROUNDS times each; the least of each (a shared machine's load comes and goes).
        ones, twos = [], []
        for n in range(ROUNDS):
            ones.append(timed(lambda: stitch.run(pinned(normal_argv, 0), folder / "a"))[1])
            two, wall, _ = timed(lambda: accelerated(ffmpeg, source, probed, folder / f"b{n}", workers=[0, 1]))
            twos.append((wall, two))
        one_core_wall = min(ones)
        two_wall, two = min(twos, key=lambda t: t[0])
        # Per-segment cost on one core, from (b)'s two pinned workers.
        segment_wall = sum(two[0]["segment_walls"]) / len(two[0]["segment_walls"])
        segment_check_wall = sum(two[0]["segment_check_walls"]) / len(two[0]["segment_check_walls"])
    result = {
        "compared": compared,
        "load": os.getloadavg()[0],
        "segments": times["segments"], "lead_in": times["lead_in"],
        "normal_cpu": normal_cpu, "normal_wall": normal_wall, "accelerated_cpu": acc_cpu,
        "accelerated_wall": acc_wall, "cpu_ratio": acc_cpu / normal_cpu, "check_cpu": check_cpu,
        "checks_cpu": times["checks_cpu"], "cpu_ratio_without_checks": (acc_cpu - times["checks_cpu"]) / normal_cpu,
        "one_core_wall": one_core_wall, "two_workers_wall": two_wall, "speedup_2": one_core_wall / two_wall,
        "speedup_2_without_check": one_core_wall / (two_wall - two[0]["check_wall"]),
        "scan_wall": two[0]["scan_wall"], "stitch_wall": two[0]["stitch_wall"], "check_wall": two[0]["check_wall"],
        "audio_wall": two[0]["audio_wall"], "audio_check_wall": two[0]["audio_check_wall"],
        "segment_wall": segment_wall,
        "segment_check_wall": segment_check_wall,
        # (c)'s model: the CPU seconds of (a)'s pieces, one after another.
        "model": {"serial": normal_cpu, "scan": times["scan_cpu"], "stitch": times["stitch_cpu"],
                  "check": times["check_cpu"], "audio": times["cpus"]["audio"][0],
                  "audio_check": times["cpus"]["audio_check"][0],
                  "segment": sum(times["cpus"]["segment"]) / len(times["cpus"]["segment"]),
                  "segment_check": sum(times["cpus"]["segment_check"]) / len(times["cpus"]["segment_check"])},
    }
    result["projection"] = project(result)
    return result


def project(r):
    """The model of (c): a source of PROJECTED_SECONDS on N encoders of one
    core each, each piece taking on its core the CPU seconds it took in (a)
    (one piece at a time; on a shared machine the walls of (b) swing with
    other people's load, CPU seconds much less). The normal encode takes
    its CPU seconds of (a), scaled to the duration, on one core. The scan,
    the stitch and the stitch's check scale with the duration and run on
    one encoder, before and after the pieces. The pieces (the audio piece
    and its check, scaled to the duration; the segments, each a segment's
    mean and its check's) go to the N encoders longest first, each encoder
    taking the next piece as soon as it is free (list scheduling). Queue
    and transfer delays are left out (milliseconds per piece on one
    machine; on a real farm, the upload of each segment to scratch storage)."""
    m = r["model"]
    scale = PROJECTED_SECONDS / SECONDS
    count = math.ceil(PROJECTED_SECONDS / SEGMENT_SECONDS)
    serial = m["serial"] * scale
    segment = m["segment"] + m["segment_check"]
    audio = (m["audio"] + m["audio_check"]) * scale
    fixed = (m["scan"] + m["stitch"] + m["check"]) * scale
    rows = []
    for n in ENCODERS:
        free = [0.0] * n
        for piece in [audio] + [segment] * count:
            heapq.heappush(free, heapq.heappop(free) + piece)
        pieces = max(free)
        total = fixed + pieces
        rows.append({"encoders": n, "wall": total, "speedup": serial / total, "pieces": pieces,
                     "goal": 0.8 * n})
    return {"serial": serial, "segments": count, "segment": segment, "audio": audio, "fixed": fixed, "rows": rows}


def section(r, today, machine):
    p = r["projection"]
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    rows = "".join(
        f"| {row['encoders']} | {row['pieces']:.0f} | {row['wall']:.0f} | **{row['speedup']:.1f}×** "
        f"| {row['goal']:.0f}× |\n" for row in p["rows"])
    compared = "".join(f"| {name} | {before:.2f} | {now:.2f} | {now / before:.2f} |\n"
                       for name, (before, now) in r["compared"].items())
    at20 = next(row for row in p["rows"] if row["encoders"] == 20)
    scale = PROJECTED_SECONDS // SECONDS
    m = r["model"]
    audio, fixed = p["audio"] / scale, p["fixed"] / scale
    share = p["segments"] * p["segment"] / 20
    bound = ("the audio piece, one AAC encode of the whole hour on one core and its check, takes "
             f"{audio * scale:.0f} s, more than each encoder's share of the segments ({share:.0f} s)"
             if audio * scale > share else
             f"each encoder's share of the segments is {share:.0f} s (the audio piece, one AAC encode of the "
             f"whole hour on one core and its check, takes {audio * scale:.0f} s)")
    return f"""## Accelerated encoding (bench/accelerated.py)

Measured on {today}, on {machine} (load average {r['load']:.1f} at the end: the
machine was shared, so every figure is of a loaded machine).
A {SECONDS} s 1280x720 25 fps H.264 source (a key frame every 2 s) made into
`{PRESET}`, once normally and once accelerated as the farm does it: the
video's packets scanned, {r['segments']} segments of about {SEGMENT_SECONDS:g} s cut on key frames
(lead-in {r['lead_in']:.1f} s), each encoded by its own ffmpeg and then decoded whole to
check it (one thread, no deblocking), the audio once (its run also decodes
the source's audio for its check; the piece is then decoded and checked
against it), the stitch (concat, `-c copy`, fast start) and the stitch's
check (packets only: frames, their times, the audio's packets). Every
ffmpeg ran through the project's runner; the pieces ran directly, not
through the farm.

| | measured | goal | |
|---|---|---|---|
| (a) CPU, accelerated (checks included) / normal (no check) | {r['accelerated_cpu']:.1f} s / {r['normal_cpu']:.1f} s = **{r['cpu_ratio']:.3f}** | ≤ 1.05 | {met(r['cpu_ratio'] <= 1.05)} |
| (b) wall, normal encode on one core / accelerated on two workers of one core each (the least of {ROUNDS} runs each, alternating) | {r['one_core_wall']:.1f} s / {r['two_workers_wall']:.1f} s = **{r['speedup_2']:.2f}×** | ≥ 1.8× | {met(r['speedup_2'] >= 1.8)} |
| (c) projected speed-up of a 60-minute source on 20 encoders | **{at20['speedup']:.1f}×** | ≥ 16× (0.8 N) | {met(at20['speedup'] >= 16)} |

The checks (each segment decoded, the audio piece's, the stitch's packets)
took {r['checks_cpu']:.1f} s of that CPU; without them the ratio is
**{r['cpu_ratio_without_checks']:.3f}**. For scale: decoding the whole output
once (the check a single encoder would make) took {r['check_cpu']:.1f} s of CPU.

Each check now and the way it was before, on the same files in the same
run (CPU seconds, the least of {REPEATS} runs each, alternating):

| | before | now | now / before |
|---|---|---|---|
{compared}
Before: each segment decoded with ffmpeg's default settings (frame
threads, deblocking); the scan decoded the source's audio; the audio piece
was not checked; the stitch's check decoded the output's audio. Now: one
thread and no deblocking (`verify.SEGMENT_DECODE`); the scan lists video
packets only; the audio piece's run also decodes the source's audio, and
the piece is decoded and checked against it; the stitch's check reads the
audio's packets and uses what the audio piece's check found.

(c) The model: a 60-minute source is {p['segments']} segments, on N encoders of one core
each, every piece taking there the CPU seconds it took in (a), where the
pieces ran one at a time (on this shared machine the walls of (b) swing
with other people's load, up to twice within one run; CPU seconds much
less). On one encoder the normal encode takes {p['serial']:.0f} s (its CPU in (a) × {scale}).
The scan ({m['scan']:.2f} s here), the stitch ({m['stitch']:.2f} s) and the stitch's check
({m['check']:.2f} s) scale with the duration and run on one encoder; the
pieces go to the N encoders longest first, each encoder taking the next as
soon as it is free: the audio ({m['audio']:.2f} s here and its check {m['audio_check']:.2f} s,
× {scale}), then the segments, {p['segment']:.2f} s each (encode {m['segment']:.2f} s and check
{m['segment_check']:.2f} s, the means of (a)'s). Queue and transfer delays are left out.

| encoders | pieces, s | projected wall, s | speed-up | goal (0.8 N) |
|---|---|---|---|---|
{rows}
What bounds it at 20 encoders: {bound}; the segments' own checks add
{m['segment_check'] / m['segment']:.0%} to each segment, and the scan, stitch and
stitch check {fixed * scale:.0f} s. A segment's encode costs
{m['segment'] * SECONDS / SEGMENT_SECONDS / m['serial']:.2f}× its share of the normal encode's CPU.
"""


def farm_job(ffmpeg, source, folder, acceleration, cores):
    """Wall time and final record of one job made by real encoder processes
    (the embedded backends, one slot each), encoder ``n`` pinned to core
    ``cores[n]``; timed from the job's message to its end, the encoders
    already running."""
    import subprocess

    from nommer.core import backends
    from nommer.core.model.jobs import Job
    from nommer.core.model.messages import message_body

    root = folder / f"farm-{acceleration.lower()}-{len(cores)}"
    media = root / "media"
    media.mkdir(parents=True)
    src = media / "source.mp4"
    os.link(source, src)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env.update({"NOMMER_DATA_DIR": str(root / "data"), "NOMMER_FILE_ROOTS": str(media),
                "NOMMER_JOBS_PER_ENCODER": "1", "NOMMER_POLL_WAIT": "0.2", "NOMMER_HEARTBEAT_INTERVAL": "1",
                "NOMMER_PROGRESS_INTERVAL": "1", "NOMMER_MAX_INACTIVITY": "600",
                "NOMMER_SEGMENT_SECONDS": str(SEGMENT_SECONDS), "NOMMER_ACCELERATE_MIN_SECONDS": "0",
                "NOMMER_LOG_FILE": str(root / "encoders.log")})
    parts = backends.build(load(environ={k: v for k, v in env.items() if k.startswith("NOMMER_")}))
    procs = [subprocess.Popen(pinned([sys.executable, "-m", "nommer.encoder", "--instance-id", f"bench-{n}"], core),
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for n, core in enumerate(cores)]
    try:
        while len(parts.store.encoders()) < len(cores):
            time.sleep(0.1)
        job = parts.store.create(Job.new(f"file://{src}", [{"destination": f"file://{media}/out.mp4",
                                                           "preset": PRESET}], acceleration=acceleration))
        started = time.monotonic()
        parts.new_jobs.send(message_body(job.id))
        while not (job := parts.store.get(job.id)).is_final:
            time.sleep(0.2)
        wall = time.monotonic() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        parts.close()
    if job.state.value != "FINISHED":
        raise SystemExit(f"the {acceleration} job ended {job.state}: {job.details}")
    return wall, job


def farm():
    """(d): the normal encode and the accelerated one, each through the farm."""
    ffmpeg = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as folder:
        folder = pathlib.Path(folder)
        source = folder / "source.mp4"
        make_source(ffmpeg, source)
        normal_wall, _ = farm_job(ffmpeg, source, folder, "DISABLED", [0])
        one_wall, one = farm_job(ffmpeg, source, folder, "ENABLED", [0])
        two_wall, two = farm_job(ffmpeg, source, folder, "ENABLED", [0, 1])
    takers = sorted({p["encoder_id"] for p in two.pieces})
    return {"load": os.getloadavg()[0], "normal_wall": normal_wall, "one_wall": one_wall, "two_wall": two_wall,
            "pieces": len(two.pieces), "takers": takers, "speedup": normal_wall / two_wall,
            "overhead": one_wall / normal_wall}


def farm_section(r, today, machine):
    return f"""### Through the farm (bench/accelerated.py --farm)

Measured on {today}, on {machine} (load average {r['load']:.1f} at the end).
The same {SECONDS} s source and preset, each job made by real encoder
processes on the embedded backends (SQLite store and queue), one slot
each, every encoder pinned to its own core; timed from the job's message
to its end (the planner's probe and scan, every piece claimed through the
queue, the stitch, the check and the output stored):

| job | encoders | wall, s |
|---|---|---|
| normal (`DISABLED`) | 1 | {r['normal_wall']:.1f} |
| accelerated (`ENABLED`) | 1 | {r['one_wall']:.1f} |
| accelerated (`ENABLED`) | 2 | {r['two_wall']:.1f} |

The accelerated job on one encoder costs **{r['overhead']:.2f}×** the normal one
(scan, stitch, checks and the farm's queueing of {r['pieces']} pieces); on two
encoders ({', '.join(r['takers'])} both took pieces) it finishes in
**{1 / r['speedup']:.2f}×** the normal job's time, a speed-up of **{r['speedup']:.2f}×**.
"""


if __name__ == "__main__":
    import datetime

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import common

    if "--farm" in sys.argv[1:]:
        print(farm_section(farm(), datetime.date.today().isoformat(), common.machine()))
    else:
        print(section(main(), datetime.date.today().isoformat(), common.machine()))
