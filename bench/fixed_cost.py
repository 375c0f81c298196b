"""Where the fixed cost of a job goes, millisecond by millisecond.

One encoder's steps (claim, fetch, encode, upload: nommer/core/encoder/)
run in this process, one job at a time, over the real SQLite store and
queues, local files and ffmpeg, for jobs of a 1 s 320x180 clip made into
`mp4-h264-360p` (bench/small_jobs.py's). Each part is timed where it is
called: the store's reads and writes, the queues, copying the source in
and the outputs out, every ffmpeg run (the encode apart from the probes),
and the rest of the steps' own Python. The encode is set against the very
same ffmpeg command run directly, so that what the runner adds to it shows.
Wall time is the median over the jobs, CPU time (of this process and of
its children) the mean.

    python bench/fixed_cost.py [JOBS]
"""

import collections
import contextlib
import functools
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core import backends, ffmpeg  # noqa: E402
from nommer.core.config import load  # noqa: E402
try:  # the encoder's steps, one module each
    from nommer.core.encoder.core import EncoderCore  # noqa: E402
    from nommer.core.model.messages import message_body  # noqa: E402
except ImportError:  # before: all in encoding.py
    from nommer.core.encoder.encoding import EncoderCore, message_body  # noqa: E402
from nommer.core.feeder.service import JobService  # noqa: E402
from nommer.core.model import results  # noqa: E402
from nommer.core.ffmpeg import runner  # noqa: E402
try:
    from nommer.core.ffmpeg import launcher as launcher_mod  # noqa: E402
except ImportError:  # before the fork server
    launcher_mod = None
from nommer.testing.media import make_clip  # noqa: E402

PRESET = "mp4-h264-360p"


#: This benchmark on the code before a preset job of an MP4 source was
#: probed by its encode's own run, webhook records were written one a job
#: and unchanged Workloads were left untold (commit 2a5d420, measured on
#: 2026-12-03 in runs alternated with those of the code after it, now in
#: docs/benchmarks.md); run_all.py shows it beside them.
BEFORE = {'calls': {'claim (rest)': 1.0,
           'copy the output out': 1.0,
           'encode (rest)': 1.0,
           'fetch (rest)': 1.0,
           'ffmpeg: probe the source': 1.0,
           'ffmpeg: the encode': 1.0,
           'queue: delete': 1.0,
           'queue: receive': 2.0,
           'queue: state-change reports': 4.0,
           'store: job reads': 2.0,
           'store: job writes': 4.0,
           'upload (rest)': 1.0},
 'children_cpu_ms': 122.3333,
 'commit': '2a5d420',
 'date': '2026-12-03',
 'direct_cpu_ms': 99.4735,
 'direct_ms': 117.5927,
 'jobs': 30,
 'load': 6.96,
 'own_cpu_ms': 11.5387,
 'parts_cpu_ms': {'claim (rest)': 0.6768,
                  'copy the output out': 0.7551,
                  'encode (rest)': 0.9736,
                  'fetch (rest)': 1.3259,
                  'ffmpeg: probe the source': 20.6661,
                  'ffmpeg: the encode': 104.9155,
                  'queue: delete': 0.1944,
                  'queue: receive': 0.5426,
                  'queue: state-change reports': 0.946,
                  'store: job reads': 0.365,
                  'store: job writes': 1.4384,
                  'upload (rest)': 0.8714},
 'parts_ms': {'claim (rest)': 0.6885,
              'copy the output out': 1.5445,
              'encode (rest)': 0.9631,
              'fetch (rest)': 1.3049,
              'ffmpeg: probe the source': 30.851,
              'ffmpeg: the encode': 152.4051,
              'queue: delete': 0.2288,
              'queue: receive': 0.5445,
              'queue: state-change reports': 1.2069,
              'store: job reads': 0.3592,
              'store: job writes': 1.7769,
              'upload (rest)': 0.8867},
 'wall_ms': 201.591}


class Clock:
    """Wall and CPU time (of this process and its children) spent in named
    parts; a part's time leaves out the parts called within it, so that
    each millisecond is counted once."""

    def __init__(self):
        self.spent = collections.Counter()
        self.cpu = collections.Counter()
        self.calls = collections.Counter()
        self.stack = []  # [name, began, cpu then, wall and cpu of the parts within]

    @contextlib.contextmanager
    def part(self, name):
        frame = [name, time.perf_counter(), _cpu(), 0.0, 0.0]
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            took, used = time.perf_counter() - frame[1], _cpu() - frame[2]
            self.spent[name] += took - frame[3]
            self.cpu[name] += used - frame[4]
            self.calls[name] += 1
            if self.stack:
                self.stack[-1][3] += took
                self.stack[-1][4] += used

    def wrap(self, owner, attribute, name):
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with self.part(name):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)


def _children_cpu():
    """CPU seconds of this process's children, with the runs of its
    sandbox fork server (which are the server's children, not its)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = used.ru_utime + used.ru_stime
    server = getattr(launcher_mod, "_launcher", None)
    if server and server[1] and server[1].server_pid:
        try:
            fields = open(f"/proc/{server[1].server_pid}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def _cpu():
    return time.process_time() + _children_cpu()


def _store_parts(clock, parts):
    store, new_jobs, changes = parts.store, parts.new_jobs, parts.state_changes
    clock.wrap(store, "update", "store: job writes")
    clock.wrap(store, "get", "store: job reads")
    clock.wrap(new_jobs, "receive", "queue: receive")
    clock.wrap(new_jobs, "delete", "queue: delete")
    clock.wrap(changes, "send", "queue: state-change reports")
    clock.wrap(parts.storage, "fetch", "copy the source in")
    clock.wrap(parts.storage, "put", "copy the output out")


def main(jobs=20):
    exe = load(environ={}).ffmpeg_exe()
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        media = tmp / "media"
        media.mkdir()
        source = make_clip(exe, media / "source.mp4", seconds=1, size="320x180")
        config = load(environ={"NOMMER_DATA_DIR": str(tmp / "data"), "NOMMER_FILE_ROOTS": str(media),
                               "NOMMER_LOG_LEVEL": "warning"})
        parts = backends.build(config)
        service = JobService(parts.store, parts.storage)
        core = EncoderCore(config, parts, "bench-encoder")
        _store_parts(clock, parts)
        # Every ffmpeg run: the encode's passes, and the probes (of the
        # source, and of each output made).
        clock.wrap(runner.FfmpegRun, "run", "ffmpeg: the encode")
        clock.wrap(ffmpeg, "probe", "ffmpeg: probe the source")
        clock.wrap(results, "probe", "ffmpeg: probe the output")

        direct = []
        per_job = []
        for n in range(jobs + 1):  # the first warms caches and is not counted
            destination = media / f"out-{n}.mp4"
            job = service.create(f"file://{source}", [{"destination": f"file://{destination}",
                                                        "preset": PRESET}])
            parts.new_jobs.send(message_body(job.id))
            # The same command the encode runs, directly, beforehand.
            plan = ffmpeg.build_commands(exe, source, media / f"direct-{n}.mp4", {"preset": PRESET},
                                         tmp / f"direct-{n}")
            began, cpu = time.perf_counter(), _children_cpu()
            for argv in plan.commands:
                subprocess.run(argv, check=True, capture_output=True)
            direct_run = (time.perf_counter() - began, _children_cpu() - cpu)

            clock.spent.clear()
            clock.cpu.clear()
            clock.calls.clear()
            began, own, children = time.perf_counter(), time.process_time(), _children_cpu()
            with clock.part("queue: receive"):
                message = parts.new_jobs.receive(max_messages=1, visibility_timeout=60)[0]
            with clock.part("claim (rest)"):
                task = core.claim(message)
            with clock.part("fetch (rest)"):
                core.fetch(task)
            with clock.part("encode (rest)"):
                core.encode(task)
            with clock.part("upload (rest)"):
                core.upload(task)
            wall = time.perf_counter() - began
            cpu = (time.process_time() - own, _children_cpu() - children)
            assert parts.store.get(job.id).state.value == "FINISHED", parts.store.get(job.id)
            if n:
                direct.append(direct_run)
                per_job.append((wall, cpu, dict(clock.spent), dict(clock.calls), dict(clock.cpu)))
        parts.store.close() if hasattr(parts.store, "close") else None

    names = sorted({name for _, _, spent, _, _ in per_job for name in spent})
    rows = {name: statistics.median(spent.get(name, 0.0) for _, _, spent, _, _ in per_job) * 1000 for name in names}
    # CPU as a mean: the kernel counts the fork server's children in clock
    # ticks (10 ms), which only a mean over the jobs turns into milliseconds.
    cpu_rows = {name: statistics.mean(c.get(name, 0.0) for *_, c in per_job) * 1000 for name in names}
    calls = {name: statistics.median(c.get(name, 0) for _, _, _, c, _ in per_job) for name in names}
    direct_ms = statistics.median(d for d, _ in direct) * 1000
    return {
        "jobs": jobs,
        "wall_ms": statistics.median(w for w, *_ in per_job) * 1000,
        "own_cpu_ms": statistics.mean(c[0] for _, c, *_ in per_job) * 1000,
        "children_cpu_ms": statistics.mean(c[1] for _, c, *_ in per_job) * 1000,
        "direct_ms": direct_ms,
        "direct_cpu_ms": statistics.mean(c for _, c in direct) * 1000,
        "parts_ms": rows,
        "parts_cpu_ms": cpu_rows,
        "calls": calls,
        "load": os.getloadavg()[0],
        "machine": common.machine(),
    }


def show(r):
    lines = [f"{r['jobs']} jobs, one at a time; load average {r['load']:.1f}",
             f"  a job, claim to FINISHED: {r['wall_ms']:.1f} ms wall; CPU {r['own_cpu_ms']:.1f} ms in the "
             f"encoder's Python, {r['children_cpu_ms']:.1f} ms in its children",
             f"  the same ffmpeg command run directly: {r['direct_ms']:.1f} ms wall, "
             f"{r['direct_cpu_ms']:.1f} ms CPU",
             f"  beyond it: {r['wall_ms'] - r['direct_ms']:.1f} ms wall, "
             f"{r['own_cpu_ms'] + r['children_cpu_ms'] - r['direct_cpu_ms']:.1f} ms CPU",
             f"    {'part':32s} {'wall':>8s}  {'CPU':>8s}"]
    for name, ms in sorted(r["parts_ms"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {name:32s} {ms:5.1f} ms  {r['parts_cpu_ms'][name]:5.1f} ms  ({r['calls'][name]:g} calls)")
    return "\n".join(lines)


#: The parts in the order the table shows them.
ORDER = ("ffmpeg: the encode", "ffmpeg: probe the source", "ffmpeg: probe the output", "copy the source in",
         "copy the output out", "store: job writes", "store: job reads", "queue: state-change reports",
         "queue: receive", "queue: delete", "claim (rest)", "fetch (rest)", "encode (rest)", "upload (rest)")


def section(now, before=None, today=None):
    """The section of docs/benchmarks.md on this benchmark: ``now`` and,
    beside it, ``before`` (a result of the same benchmark on older code)."""
    import datetime

    today = today or datetime.date.today().isoformat()
    runs = [r for r in (before, now) if r]

    def cells(r, name):
        if name not in r["parts_ms"]:
            return "— | —"
        return f"{r['parts_ms'][name]:.1f} ({r['calls'][name]:g}) | {r['parts_cpu_ms'][name]:.1f}"

    head = " | ".join(f"{label} wall ms (calls) | {label} CPU ms"
                      for label in (["before", "after"] if before else ["now"]))
    rows = ""
    for name in ORDER:
        if any(name in r["parts_ms"] for r in runs):
            rows += f"| {name} | " + " | ".join(cells(r, name) for r in runs) + " |\n"
    total = " | ".join(f"**{r['wall_ms']:.1f}** | **{r['own_cpu_ms'] + r['children_cpu_ms']:.1f}**" for r in runs)
    direct = " | ".join(f"{r['direct_ms']:.1f} | {r['direct_cpu_ms']:.1f}" for r in runs)
    beyond = " | ".join(f"**{r['wall_ms'] - r['direct_ms']:.1f}** | "
                        f"**{r['own_cpu_ms'] + r['children_cpu_ms'] - r['direct_cpu_ms']:.1f}**" for r in runs)
    when = (f"before: {before['date']}, {before['commit']}, load average {before['load']:.1f}; "
            f"after: {today}, load average {now['load']:.1f}") if before else f"{today}, load average {now['load']:.1f}"
    return f"""## Where the fixed cost of a job goes (bench/fixed_cost.py)

Measured on {now['machine']} ({when}). One encoder's steps (claim, fetch,
encode, upload) run in one process, one job at a time, over the real SQLite
store and queues, local files and ffmpeg, for {now['jobs']} jobs of the small-jobs
clip (1 s, 320x180, `{PRESET}`). Each part is timed where it is called;
a part's time leaves out the parts it calls, so the rows add up to the
job. CPU counts the encoder process and every process it or its sandbox
fork server started. Wall times are medians over the jobs, CPU times means
(the kernel counts the fork server's children in ticks of 10 ms); the same
ffmpeg command is run directly before each job.

| part | {head} |
|---|{"---|---|" * len(runs)}
{rows}| **the job, claim to FINISHED** | {total} |
| the same ffmpeg command, run directly | {direct} |
| **beyond ffmpeg** | {beyond} |

What went: the probe of the source, an ffmpeg start a job. A job whose
outputs are all presets without extra options, of an MP4 or MOV source
that the farm encodes whole, is planned on what the source's boxes say
(duration, picture size, streams: `mp4_boxes.guess`), and its encode's own
ffmpeg run describes the source as a probe would, on its stderr before the
first frame; that description is the job's probe, checked as before, and
where it does not bear the boxes out (another duration, other commands) the
run is stopped and the job encoded again from it. The encode's row counts
that reading. What is left beyond ffmpeg is the fork server's start of it,
the encoder's Python around the four writes and reports, and reading the
encode's progress. The feeder's share (the submission, five state changes
and webhooks a job) is not in this table; bench/small_jobs.py shows it.
"""


if __name__ == "__main__":
    import json

    args = [a for a in sys.argv[1:] if a != "--json"]
    result = main(int(args[0]) if args else 20)
    print(json.dumps(result) if "--json" in sys.argv else show(result))
