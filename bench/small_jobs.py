"""Small jobs: what the farm costs beyond ffmpeg when each job is short.

40 jobs of a 1 s 320x180 clip made into `mp4-h264-360p`, submitted at once
to a feeder with one encoder kept running that works on two jobs at a time
(``jobs_per_encoder`` 2), timed from the first ``POST /jobs`` to the last
``FINISHED`` webhook; against the very same ffmpeg commands run directly,
two at a time, in the same run. Rounds alternate, so that a busy moment of
a shared machine falls on both; the best of each is compared.

    python bench/small_jobs.py [ROUNDS]
"""

import concurrent.futures
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core import ffmpeg as ff  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402

PRESET = "mp4-h264-360p"
JOBS = 40
AT_ONCE = 2


#: This benchmark on the code before webhooks went over kept-alive
#: connections, the webhook body was scrubbed without a call per value and
#: the Keeper looked at versions before reading a job (commit 445ee10,
#: measured on 2026-12-03 in runs alternated with those of the code after
#: it, now in docs/benchmarks.md); run_all.py shows it beside them.
BEFORE = {'commit': '445ee10',
 'cpu_ratio': 1.2816,
 'date': '2026-12-03',
 'direct_all': [[3.59, 5.52], [2.7, 5.07], [2.54, 4.19]],
 'direct_cpu_s': 4.19,
 'direct_s': 2.54,
 'farm_all': [[3.47, 6.1, {'encoder': 0.46, 'feeder': 0.61, 'ffmpeg': 5.03}],
              [3.5, 5.73, {'encoder': 0.44, 'feeder': 0.55, 'ffmpeg': 4.74}],
              [3.36, 5.37, {'encoder': 0.44, 'feeder': 0.53, 'ffmpeg': 4.4}]],
 'farm_cpu_parts': {'encoder': 0.44, 'feeder': 0.53, 'ffmpeg': 4.4},
 'farm_cpu_s': 5.37,
 'farm_s': 3.36,
 'jobs': 40,
 'load': 5.15,
 'per_job_ms': 41.2,
 'ratio': 1.3253,
 'rounds': 3}


def farm_cpu(data_dir):
    """CPU seconds used so far by each process of the farm in ``data_dir``:
    ``{"feeder", "encoder", "ffmpeg"}``, the last being every ffmpeg run
    (and, before the fork server, the wrapper that started it), which the
    encoder or its sandbox fork server waited for."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"feeder": 0.0, "encoder": 0.0, "ffmpeg": 0.0}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            env = open(f"/proc/{pid}/environ", "rb").read()
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if f"NOMMER_DATA_DIR={data_dir}".encode() not in env:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name
        own, children = sum(int(x) for x in fields[11:13]) / tick, sum(int(x) for x in fields[13:15]) / tick
        if b"nommer.feeder" in cmd:
            used["feeder"] += own + children
        elif b"nommer.encoder" in cmd:
            used["encoder"] += own
            used["ffmpeg"] += children
        elif b"--serve" in cmd:  # the sandbox fork server: a fork of it per run
            used["encoder"] += own
            used["ffmpeg"] += children
    return used


def _direct(plans):
    """The plans' commands run directly, AT_ONCE plans at a time: (wall s, CPU s)."""
    def run(plan):
        for argv in plan.commands:
            subprocess.run(argv, check=True, capture_output=True)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(AT_ONCE) as pool:
        list(pool.map(run, plans))
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _farm(client, hooks, source, media, tag, data_dir):
    """JOBS jobs submitted at once: (wall s from the first POST to the last
    FINISHED webhook, CPU s of the farm)."""
    cpu = farm_cpu(data_dir)
    started = time.monotonic()
    ids = []
    for n in range(JOBS):
        status, job = client.call("POST", "/jobs", {
            "source": f"file://{source}",
            "outputs": [{"destination": f"file://{media}/{tag}-{n}.mp4", "preset": PRESET}],
            "notify_url": hooks.url})
        assert status == 201, job
        ids.append(job["id"])
    ends = []
    for job_id in ids:
        ended, state = hooks.wait(job_id)
        assert state == "FINISHED", client.call("GET", f"/jobs/{job_id}")
        ends.append(ended)
    wall = max(ends) - started
    time.sleep(0.5)  # the encoder reaps its last ffmpeg; the feeder sends its last webhook
    after = farm_cpu(data_dir)
    parts = {k: after[k] - cpu[k] for k in after}
    return wall, sum(parts.values()), parts


def main(rounds=3):
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "source.mp4", seconds=1, size="320x180")
        plans = [ff.build_commands(exe, source, media / f"direct-{n}.mp4", {"preset": PRESET}, media / f"w{n}")
                 for n in range(JOBS)]
        direct, farm = [], []
        with common.feeder([media], min_encoders=1, max_encoders=1, jobs_per_encoder=AT_ONCE,
                           max_inactivity=600) as (port, workdir):
            client = common.Client(port)
            hooks = common.Hooks()
            time.sleep(2)  # the kept encoder is up and idle
            _farm(client, hooks, source, media, "warm", workdir / "data")  # first imports, caches
            for n in range(rounds):
                direct.append(_direct(plans))
                farm.append(_farm(client, hooks, source, media, f"farm-{n}", workdir / "data"))
            hooks.close()
    d, f = min(w for w, _ in direct), min(w for w, *_ in farm)
    dc, fc = min(c for _, c in direct), min(c for _, c, _ in farm)
    cheapest = min(farm, key=lambda r: r[1])[2]
    return {"jobs": JOBS, "rounds": rounds, "direct_s": d, "farm_s": f, "ratio": f / d,
            "direct_cpu_s": dc, "farm_cpu_s": fc, "cpu_ratio": fc / dc,
            "farm_cpu_parts": cheapest, "load": os.getloadavg()[0],
            "per_job_ms": (f - d) / JOBS * AT_ONCE * 1000,
            "direct_all": direct, "farm_all": farm}


#: What came after the figures ``section`` reports, measured in later runs
#: alternated with the code before each change; ``section`` adds it.
LATER = """Later the same day, a receiving thread of the SQLite queue kept its
doorbell socket between its waits instead of binding one for each wait
(the feeder's Dispatcher waits about three times a job, the encoder's
Puller about once). bench/queue_wait.py, one thread receiving what another
sends every 3 ms so that every receive waits, gave 572 and 636 µs of the
receiving thread's CPU a message before against 447 and 332 µs after
(alternated, best of 3 each, load average 4.2 to 4.9). In three more
alternated pairs of this benchmark (load average 3.7 to 8.5) the feeder's
CPU a job stayed within the noise (12.2 ms both), the median CPU ratio was
1.253 before and 1.167 after.

Later on 2026-12-03, after the feeder's actors were woken less (the
JobTracker told the Scaler at most one `Workload` per 0.2 s and gathered new
jobs for 20 ms between takes, timers became one alarm thread an actor
instead of a thread each; see the section on submissions), one run of the
code before (8e40f77) and two of the code after, alternated (load average
1.9 to 3.1): before, ratio 1.270 and CPU ratio 1.249, the feeder 0.45 s of
CPU (11.3 ms a job) and the encoder 0.41 s; after, ratios 1.245 and 1.243,
CPU ratios **1.202** and 1.226, the feeder 0.34 and 0.38 s (8.5 and 9.5 ms a
job), the encoder 0.33 and 0.36 s. Still **not met**: 1.15 in CPU needs
about 5 ms less a job of the farm's own work (feeder and encoder together
spend about 17 ms a job; each of a job's five webhooks costs the feeder a
state change received from the queue, the job read again, the webhook built
and POSTed, its acknowledgement deleted).

Later still on 2026-12-03, after the group commits were given one
connection of their own (see the section on submissions), five more pairs
alternated with the code before it (e7cdb49), load average 2.5 to 4.6; ratio
and CPU ratio: before 1.217 / 1.203, 1.239 / 1.225, 1.287 / 1.247, 1.255 /
1.237, 1.140 / 1.116; after 1.162 / 1.155, 1.340 / 1.296, 1.228 / 1.215,
1.106 / **1.080**, 1.136 / **1.105**. The median CPU ratio was 1.225 before
and **1.155** after; the target was met in CPU by two runs of the five after
and one of the five before. The farm's own CPU a job (feeder and encoder)
was 18 to 29 ms on both sides, and the farm's ffmpeg runs used from 10 %
less to 10 % more CPU than the very same commands run directly in the same
run: at this load the difference between the two sides is within the
swings. With the farm's own work at about 24 ms a job and the encode itself
at 100 to 145 ms of CPU, the ratio to expect is about 1.19: 1.15 holds
only in rounds where the farm's work comes to about 19 ms a job or less.
"""

def section(r, before=None, today=None, pairs=(), later=LATER):
    """The section of docs/benchmarks.md on this benchmark; ``before`` is a
    result of it on older code, shown beside it; ``pairs`` more (before,
    after) results of alternated runs, summed up in a line; ``later`` the
    paragraphs on what came after, at its end."""
    import datetime

    today = today or datetime.date.today().isoformat()

    def row(label, x):
        parts = x["farm_cpu_parts"]
        return (f"| {label} | {x['direct_s']:.2f} | {x['farm_s']:.2f} | **{x['ratio']:.3f}** "
                f"| {x['direct_cpu_s']:.2f} | {x['farm_cpu_s']:.2f} | **{x['cpu_ratio']:.3f}** "
                f"| {parts['feeder']:.2f} / {parts['encoder']:.2f} / {parts['ffmpeg']:.2f} | {x['load']:.1f} |\n")

    rows = ""
    if before:
        rows += row(f"before ({before['date']}, {before['commit']})", before)
    rows += row(f"after ({today})" if before else f"now ({today})", r)
    extra = ", ".join(f"{(x['farm_cpu_s'] - x['direct_cpu_s']) / x['jobs'] * 1000:.0f} ms {label}"
                      for x, label in ([(before, "before")] if before else []) + [(r, "after" if before else "")])
    short = max(0.0, (r["farm_cpu_s"] - 1.15 * r["direct_cpu_s"]) / (r["farm_cpu_s"] - r["direct_cpu_s"]) * 100)
    feeder_ms = r["farm_cpu_parts"]["feeder"] / r["jobs"] * 1000
    encoder_ms = r["farm_cpu_parts"]["encoder"] / r["jobs"] * 1000
    rounds = ("direct " + ", ".join(f"{w:.2f}" for w, _ in r["direct_all"])
              + " s; farm " + ", ".join(f"{w:.2f}" for w, *_ in r["farm_all"]) + " s")
    more = ""
    if pairs:
        more = (" Further before/after pairs run alternately the same hour, ratio and CPU ratio: "
                + "; ".join(f"{b['ratio']:.3f} / {b['cpu_ratio']:.3f} before (load {b['load']:.1f}) against "
                            f"{a['ratio']:.3f} / {a['cpu_ratio']:.3f} after (load {a['load']:.1f})"
                            for b, a in pairs) + ".")
    if r["ratio"] <= 1.15 and r["cpu_ratio"] <= 1.15:
        verdict = "met, in wall time and in CPU"
    elif r["ratio"] <= 1.15:
        verdict = (f"met in wall time by this run but **not met** in CPU ({r['cpu_ratio']:.3f}), "
                   "the steadier figure: the wall ratio of one run swings with the load")
    else:
        verdict = "**not met**" + (", nor in CPU" if r["cpu_ratio"] > 1.15 else "")
    return f"""## Small jobs (bench/small_jobs.py)

Measured on {today}, on {common.machine()}. {r['jobs']} jobs of a 1 s 320x180 clip made
into `{PRESET}`, submitted at once to a feeder with one encoder kept running
that takes {AT_ONCE} jobs at a time (`jobs_per_encoder` {AT_ONCE}), from the first
`POST /jobs` to the last `FINISHED` webhook; against the very same ffmpeg
commands run directly, {AT_ONCE} at a time. Best of {r['rounds']} rounds each, alternated.
CPU is what the feeder, the encoder (with its sandbox fork server) and
their ffmpeg runs used, against the direct runs'; the farm's is split as
feeder / encoder / ffmpeg. On these shared cores the wall time swings with
whatever else runs (load average in the last column), so the CPU ratio is
the steadier figure.

| run | direct, s | farm, s | **ratio** (target ≤ 1.15) | direct CPU s | farm CPU s | **CPU ratio** | farm CPU s: feeder / encoder / ffmpeg | load |
|---|---|---|---|---|---|---|---|---|
{rows}
CPU beyond ffmpeg's, a job: {extra.strip()}. All rounds now: {rounds}.{more}

The target, a ratio of at most 1.15, is {verdict}. The machine is
shared: other people's tests and benchmarks ran beside these rounds (load
average in the last column, on 2 cores), which swings wall times by tens of
percent from round to round, so the wall ratios of a before and an after
run do not compare; their CPU does. What went since the last figures: in
the feeder, a TCP connection for each webhook (urllib opened one and asked
it closed; the webhooks now go over kept-alive connections,
`core/feeder/connections.py`, and this benchmark's receiver answers in
HTTP/1.1 and keeps them, as web servers do), and most of the scrubbing of
each webhook's body (its numbers and strings without a URI are kept
without a call each); in the encoder, the full read of each job in flight
at every cancel check (the Keeper looks at the versions of its jobs, one
query, and reads only a job that changed since its task last read or
wrote it). What is left a job is the feeder's ({feeder_ms:.0f} ms: the
submission, and five state changes each received, the job re-read for its
webhook, the webhook built, scrubbed and POSTed, its record kept) and the
encoder's Python ({encoder_ms:.0f} ms: its actors, four writes with their
reports, the local file checks of source and destination, the fork
server), and the fork server's start of ffmpeg and its reading (a few ms).
Profiled (yappi, CPU clock) during this benchmark after these changes, the
feeder's time goes about a third to the JobTracker, a third to the
Notifier (three fifths of which is http.client writing each request and
parsing the headers of its answer), a fifth to reading the state-change
queue and a sixth to the submissions. Timed alone in a loop, the work on a
job's five webhooks (reading the job, building, scrubbing and encoding the
body, the POST on a kept connection) comes to about 1.4 ms; the rest of the
feeder's share is the submission, the queue's reads and writes, and the
hand-over of each message between the actors' threads. Reaching 1.15 in CPU
in this run would take {short:.0f} % of the farm's CPU beyond the direct
runs'. Earlier figures: on commit d5c58c2, before a job's state write and
its report were one transaction, a ratio of 1.254 and a CPU ratio of 1.276
(load 5.7); before the fork server, reading sources in place and linking
outputs into place (commit 0ba410a), 1.977 and 1.987 (load 5.1).
""" + ("\n" + later if later else "")


if __name__ == "__main__":
    r = main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(f"{r['jobs']} jobs: direct {r['direct_s']:.2f} s ({r['direct_cpu_s']:.1f} CPU s), "
          f"farm {r['farm_s']:.2f} s ({r['farm_cpu_s']:.1f} CPU s); ratio {r['ratio']:.3f}, "
          f"CPU ratio {r['cpu_ratio']:.3f}; {r['per_job_ms']:.0f} ms a job beyond ffmpeg (best of {r['rounds']})")
    print("rounds (wall s, CPU s): direct", [(round(w, 2), round(c, 2)) for w, c in r["direct_all"]],
          "farm", [(round(w, 2), round(c, 2)) for w, c, _ in r["farm_all"]])
    print("farm CPU s by process (its cheapest round):",
          {k: round(v, 2) for k, v in r["farm_cpu_parts"].items()}, f"load average {r['load']:.1f}")
