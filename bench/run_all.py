"""Run every benchmark and write docs/benchmarks.md with the machine and the date.

    python bench/run_all.py
"""

import datetime
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import accelerated  # noqa: E402
import accelerated_ladder  # noqa: E402
import common  # noqa: E402
import feeder_scale  # noqa: E402
import fixed_cost  # noqa: E402
import ladder  # noqa: E402
import latency  # noqa: E402
import overhead  # noqa: E402
import per_title  # noqa: E402
import scaling_sim  # noqa: E402
import small_jobs  # noqa: E402
import throughput  # noqa: E402

DOC = pathlib.Path(__file__).parents[1] / "docs" / "benchmarks.md"


# The same benchmark on the code before submissions were stored in the
# request's thread with group commits (the JobTracker stored each job, one at
# a time, and the queue message was written after the answer), best of two
# runs alternated with runs of the code after.
THROUGHPUT_BEFORE = {"note": "measured on 2026-12-03 on the same machine in runs alternated with runs of the"
                             " code after it (which gave ratios of 0.293 and 0.276 then)",
                     "per_second": 439, "trivial_per_second": 1770, "ratio": 0.248}


# The POST path made cheaper after that (see the text), measured the same way
# in runs alternated between the code before and after, and the feeder's CPU
# per submission (/proc of its process) in one run with rounds alternated.
THROUGHPUT_CHEAPER = """On 2026-12-03, later, the path of a submission was made cheaper: the job
and its queue message are one write (one transaction, never a job stored
without its message); the JobTracker hears of new jobs in batches (one message
and one wake-up per batch) and no longer reads every unfinished job again
while a burst goes on; a submission's URIs are resolved with each folder
looked at once; job ids take their random digits from a pool; access and
state lines below the log level are not built; a record's new version is a
copy of its fields, not a `dataclasses.replace`. Six runs of this benchmark,
alternated between the code before and after, on the same machine shared
with other work (load average 4 to 9 on its 2 cores): the feeder, best of 3
rounds each run, **before 506, 563, 577, 538, 561, 572/s, after 546, 628,
698, 682, 570, 564/s**; the trivial app 1264 to 2282/s in the same runs;
ratios before 0.281 to 0.405, after 0.262 to 0.306 (they follow the
trivial app's own swings more than the feeder's). The feeder's CPU time per
accepted submission (user and system, 8 clients, rounds alternated in one
run): **before 1.97 ms, after 1.68 ms** (the trivial app: 0.49 ms); with
one client at a time 1.41 and 1.33 ms.
"""


# Syncing each commit against not, measured alternately (the setting's default became FULL).
THROUGHPUT_SYNC = """Syncing each commit to disk (`sqlite_synchronous = "FULL"`, the default
since, so that an accepted job survives a power cut too) against not
(`NORMAL`, the setting these figures were measured with), four runs
alternated on 2026-12-03 at a load average of 1 to 2.6: FULL 476 and
433/s (trivial app 1696 and 1590/s, ratios 0.281 and 0.272), NORMAL 404 and
538/s (trivial 1678 and 2199/s, ratios 0.241 and 0.244). The sync of a
group (one for each group of concurrent submissions) costs less than these runs
swing: no difference shows.
"""

# The path made cheaper again (see the text): ``{pairs}`` is filled with
# THROUGHPUT_FRONT_PAIRS, the alternated runs of the code before (a84e403) and after.
THROUGHPUT_FRONT_PAIRS = (
    "at log level `warning`, before 691/s (trivial app 2182/s, ratio 0.317, 1.47 ms of CPU a su"
    "bmission, load 0.5) against after **908/s** (trivial app 2077/s, ratio **0.437**, **1.10 m"
    "s**, load 0.6); at log level `warning`, before 510/s (trivial app 2103/s, ratio 0.242, 1.9"
    "8 ms of CPU a submission, load 0.8) against after **691/s** (trivial app 1719/s, ratio **0"
    ".402**, **1.45 ms**, load 1.4); at log level `info`, before 482/s (trivial app 2078/s, rat"
    "io 0.232, 2.18 ms of CPU a submission, load 2.6) against after **734/s** (trivial app 1994"
    "/s, ratio **0.368**, **1.42 ms**, load 2.1)")
THROUGHPUT_FRONT = """Later on 2026-12-03 (code before: a84e403), `POST /jobs` was served in
front of the Flask app (`nommer/http/submit_path.py`: the same answer,
every failure handed back to the app to answer, no request context,
routing or response object), the actor at an address found without a scan
of the registry, each URI's scheme read once, the look at a submission's
URIs entered without generators, the Reaper's look at PENDING jobs asked of
the store (SQLite picks those unchanged for `abandon_after`; it read every
unfinished job, thousands in this benchmark, once in a while in the middle
of a round), and a console log line built in one pass and written with one
write (structlog's general console renderer took 187 µs for an access line,
now 28 µs: at the default log level, `info`, each submission writes two).
Runs of this benchmark alternated between the code before and after, best
of 3 rounds each, the CPU per submission that of the server's process in
its cheapest round: {pairs}.

Where the rest goes, sampled (py-spy, the thread holding the interpreter)
during a run at log level `warning`: waitress about a quarter (it serves the
trivial app too), the checks of the submission's URIs a fifth (their
realpath, one lstat a folder, confinement, the destination's folder
writable), the job and its message written (a group commit: the job's JSON,
two inserts, the commit and its sync, each writer woken) a sixth, the
JobTracker taking the new jobs (its cache, metrics, the Scaler told) a
seventh, the answer's JSON and the body's parsing a twentieth. No one part
is large. The feeder's process is the bottleneck (it uses one core: one
interpreter), so its rate is the inverse of its CPU per submission: in the
quietest run above, 1,000/s needs 1.0 ms (0.1 ms less), and the ratio of
0.6 (about 1,250/s against that run's trivial app) 0.8 ms (0.3 ms less).
"""


# The actors woken less and a submission's write made shorter (see the text),
# measured in runs alternated between the code before (8e40f77) and after.
THROUGHPUT_WAKEUPS = """Later on 2026-12-03 (code before: 8e40f77), the feeder's actors were
woken less during a burst and a submission's write was made shorter: the
JobTracker tells the Scaler at most one `Workload` per 0.2 s (it told one per
batch of new jobs, each waking the Scaler); after taking the new jobs it lets
the next ones gather for 20 ms (it woke about once per two jobs; it still
takes those waiting before any other message, so no change of a job comes
before the job); a group commit runs its writes without a savepoint each (a
write that fails has the group's transaction run again without it); and the
checks at submission take the folders a look found in the last second as
they were (the encoder resolves every path again when it opens or writes
the file). With the app called in-process by 4 threads (no HTTP), the
JobTracker's CPU per submission fell from 0.06 to 0.03 ms and the Scaler's
from 0.025 ms to none. Runs of this benchmark alternated between the code
before and after, best of 3 rounds each, on a machine busier than in the runs
above (the trivial app 1,330 to 1,750/s here, 1,700 to 2,200/s in those):
at log level `warning`, seven pairs, the feeder **before 557, 609, 614, 605,
671, 544, 521/s, after 616, 683, 745, 683, 614, 611, 606/s** (means 589 and
651/s), ratios before 0.318 to 0.424, after 0.373 to 0.464 (means 0.372 and
0.419), CPU per submission before 1.48 to 1.92 ms, after 1.35 to 1.64 ms
(means 1.71 and 1.54 ms); at log level `info`, two pairs, **541 and 540/s before, 626
and 624/s after**, CPU 1.89 and 1.91 ms before, 1.64 and 1.66 ms after.

What is left is mostly the price of many threads under one interpreter.
During a burst the feeder's process made about 27 voluntary context switches
a submission (`perf sched`: each of waitress's 8 request threads about 2.7,
its loop thread 3.2, the JobTracker 2), and the kernel took about 30 % of
the process's CPU (`perf`: wake-ups and task switches): a request thread
gives up the interpreter at every blocking call (a stat, each SQLite
statement, a send, a lock) and then waits to take it back. Fewer request
threads did worse (4 or 3 threads: more switches, 1.5 to 2.1 ms a
submission against 1.1 to 1.5 ms with 8, in runs alternated the same hour);
fewer garbage collections (`gc.freeze`, a larger first threshold) made no
difference beyond the swings, nor, measured on the store alone with 8
threads, did one INSERT a table for a group's jobs and messages instead of
one a row; both were left out. 1,000/s needs at most
1.0 ms a submission, and a ratio of 0.6 about 0.75 ms; beyond that, the way
on is to take submissions in more than one process (several HTTP processes
on one port sharing the SQLite file, each with its own group commit), which
this one-interpreter feeder does not do.
"""


# The groups' own writing connection, and what more intake processes could
# give on this machine (runs alternated with the code before, e7cdb49).
THROUGHPUT_WRITER = """Later on 2026-12-03 (code before: e7cdb49), the group commits of one
database were given one connection of their own: they ran on the
connection of whichever request thread led the group, whose page cache the
writes of the other connections had made stale, so each group began by
reading pages again. Counted with `strace -c` over 2,000 submissions, the
reads of database pages (`pread64`) went from 8,382 to none; the other
system calls stayed as they were, the bulk of them the interpreter passing
from thread to thread (74 `futex` calls a submission). In five pairs of
runs alternated with the code before at level `warning` (load average 0.6
to 2.6), the feeder made before 698, 852, 714, 678, 675/s, after 848, 901,
633, 850, 628/s (means 723 and 772/s); ratios before 0.390 to 0.461, after
0.389 to 0.451 (means 0.431 and 0.428); CPU a submission before 1.19 to
1.48 ms, after 1.12 to 1.58 ms (means 1.38 and 1.32 ms): the difference is
within the swings of this shared machine. The best round of the day was
901/s against the trivial app's 2,016/s (ratio 0.447, 1.12 ms of CPU a
submission); at level `info`, one pair, 676/s before and 626/s after. Two
more pairs at `warning` once a closed database's groups were handed to
another open one (load 2.1 to 3.0): before 562 and 606/s (ratios 0.395 and
0.410, 1.74 and 1.63 ms), after 603 and 700/s (ratios 0.436 and 0.463, 1.63
and 1.42 ms).

What taking submissions in more than one process could give here: in these
runs the 8 clients (one Python process on the same 2 cores) used 0.42 to
0.52 ms of CPU a request, and the feeder, whose one interpreter is busy the
whole round, 1.1 to 1.6 ms. A request then costs the machine about 1.6 to
2.1 ms of CPU in all, so on 2 cores even a perfect spread over processes
would reach about 950 to 1,250/s, while the trivial app, in one process as
the benchmark runs it, makes 1,500 to 2,000/s: a ratio of 0.6 is out of
reach of more processes alone on this machine, and the cost a submission
(the checks, the write, the answer) would have to fall by about a third.
"""


def throughput_section(r, before=THROUGHPUT_BEFORE, today=None, cheaper=THROUGHPUT_CHEAPER, front=None,
                       wakeups=THROUGHPUT_WAKEUPS, writer=THROUGHPUT_WRITER):
    """The section of docs/benchmarks.md on bench/throughput.py; ``r`` is its
    result, ``front`` the text on the submit path (THROUGHPUT_FRONT with
    THROUGHPUT_FRONT_PAIRS by default)."""
    if front is None and THROUGHPUT_FRONT_PAIRS:
        front = THROUGHPUT_FRONT.format(pairs=THROUGHPUT_FRONT_PAIRS)
    today = today or datetime.date.today().isoformat()
    rounds = lambda xs: ", ".join(f"{x:.0f}" for x in xs)  # noqa: E731
    met = "met" if r["ratio"] >= 0.6 else "**not met**"
    load = (f", load average {r['load'][0]:.1f} when the run began and {r['load'][1]:.1f} when it ended"
            if r.get("load") else "")
    text = f"""## Submissions accepted per second (bench/throughput.py)

{r['clients']} clients on keep-alive connections each send {r['submissions'] // r['clients']}
`POST /jobs` to a feeder on the SQLite store and queue (no encoder running, so
the figure is the feeder's alone: validation, the job write and the queue
write, both committed before the 201 and, with `sqlite_synchronous =
"{r.get('synchronous', 'FULL')}"`, {'synced to disk' if r.get('synchronous', 'FULL') == 'FULL' else 'not synced'}, the answer), logging at
level `{r.get('log_level', 'warning')}`. Beside it, in the same
run with rounds alternated, a trivial Flask app on waitress (8 threads, as the
feeder's) answers the same POST with 201 and does nothing else: what this
Python, Flask and waitress can do here at best. The clients run on the same
2 cores. Best of {r['rounds']} rounds each; measured on {today}, on {common.machine()}{load}.

| | per second (best) | all rounds |
|---|---|---|
| feeder | **{r['per_second']:.0f}** (target ≥ 1000) | {rounds(r['all_per_second'])} |
| trivial Flask app | {r['trivial_per_second']:.0f} | {rounds(r['trivial_all_per_second'])} |
| **ratio** | **{r['ratio']:.3f}** (target ≥ 0.6: {met}) | |
""" + (f"""
CPU per answered submission, the server's process in its cheapest round:
feeder {r['cpu_ms']:.2f} ms, trivial app {r['trivial_cpu_ms']:.2f} ms.
""" if "cpu_ms" in r else "")
    if before:
        text += f"""
Before group commit and the Intake (the JobTracker stored each job in turn,
and the queue message was written after the answer), {before['note']}:
feeder {before['per_second']:.0f}/s against the trivial app's {before['trivial_per_second']:.0f}/s,
ratio {before['ratio']:.3f}.
"""
    if cheaper:
        text += "\n" + cheaper
    if front:
        text += "\n" + front
    if wakeups:
        text += "\n" + wakeups
    if writer:
        text += "\n" + writer
    return text + "\n" + THROUGHPUT_SYNC


def ladder_section(runs):
    """The section of docs/benchmarks.md on bench/ladder.py; ``runs`` are its
    results with jobs_per_encoder 1 and 2."""
    rows = "".join(
        f"| {r['jobs_per_encoder']} | {r['one_job_s']:.2f} | {r['four_jobs_s']:.2f} | **{r['ratio']:.3f}** "
        f"| {r['one_cpu_s']:.1f} | {r['four_cpu_s']:.1f} | {r['cpu_ratio']:.3f} |\n"
        for r in runs)
    rounds = "; ".join(
        f"jobs_per_encoder {r['jobs_per_encoder']}: one job " + ", ".join(f"{w:.2f}" for w, _ in r["one_all"])
        + " s, four jobs " + ", ".join(f"{w:.2f}" for w, _ in r["four_all"]) + " s"
        for r in runs)
    return f"""## One job of four renditions against four jobs (bench/ladder.py)

A 10 s 1920x1080 H.264 source made into `mp4-h264-1080p`, `-720p`, `-480p`
and `-360p`: once as one job of four outputs (one download, one decode, one
ffmpeg run whose renditions share a chain of scalers and split the cores),
once as four jobs of one output each, submitted together; same feeder, same
run, one encoder kept running, rounds alternated. Time from the first
`POST /jobs` to the last `FINISHED` webhook, best of {runs[0]['rounds']}; CPU is what
the encoder and its ffmpeg runs used (on a shared machine wall time also
depends on what else runs; CPU time says what the work cost).

| jobs_per_encoder | one job, s | four jobs, s | **ratio** (target ≤ 0.6) | one job, CPU s | four jobs, CPU s | CPU ratio |
|---|---|---|---|---|---|---|
{rows}
All rounds: {rounds}.
"""


def scaling_section(sim, scale, today=None, under_load=True):
    """The sections of docs/benchmarks.md on bench/scaling_sim.py and
    bench/feeder_scale.py."""
    today = today or datetime.date.today().isoformat()
    rows = "".join(
        f"| {r['label']} | {r['jobs']} | {r['old']['instance_seconds']:,} | {r['new']['instance_seconds']:,} "
        f"| **{r['saved']:.1%}** | {r['old']['wait_p50']:.0f} / {r['old']['wait_p95']:.0f} / {r['old']['wait_max']:.0f} "
        f"| {r['new']['wait_p50']:.0f} / {r['new']['wait_p95']:.0f} / {r['new']['wait_max']:.0f} "
        f"| {r['new']['work_seconds']:,} | ${r['old']['cost']:.2f} / ${r['new']['cost']:.2f} |\n"
        for r in sim["runs"])
    load = (" The machine was shared with other workers running tests at the time "
            "(load average 5 to 14 on 2 cores), so the times are pessimistic." if under_load else "")
    s = scale
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    return f"""## Scaling policies in the simulator (bench/scaling_sim.py)

Measured on {today}, on {common.machine()}. Every built-in trace of
`python -m nommer.sim` (seed 0) through media-nommer's rule and the
`wait-target` policy, default settings (`target_wait` 120 s, `keep_warm` 0,
`jobs_per_encoder` 2, `max_inactivity` 60 s, at most 20 encoders), a 90 s
boot, per-second billing with a 60 s minimum, on-demand at $0.085 an hour.
Waits are seconds from submission to an encoder taking the job (p50 / p95 /
max). *Work* is the slot-seconds the encoding itself took: with 2 slots an
encoder, half of it is the floor no policy can go under.

| trace | jobs | media-nommer instance-s | wait-target instance-s | **saved** | media-nommer waits | wait-target waits | work (slot-s) | cost |
|---|---|---|---|---|---|---|---|---|
{rows}
The goal, 30 % fewer instance-seconds at an equal or better p95 wait on the
daily-cycle and long-tail traces, is **not met**:

- **Bursts** are where counting seconds wins: 60 clips are a few minutes
  of work, and the wait target starts a handful of encoders where
  media-nommer's rule starts one per two jobs beyond the overflow, most of
  which boot after the burst is done.
- **Daily cycle**: most of the bill is boots. A lone job at night or
  between arrivals needs a cold start under any policy, and the 90 s boot is
  billed. media-nommer's 60 s idle linger is already close to the
  break-even for a 90 s boot; retiring sooner (the default, `keep_warm` 0)
  saves the tail but causes more cold starts: fewer instance-seconds, a
  higher median wait, a p95 wait about equal (the boot either way) at 40
  jobs an hour and worse at 200. Keeping idle encoders for the jobs the
  submission rate predicts turns that round: with `keep_warm` 60 the p95
  and the median wait are as good or better than media-nommer's at both
  rates, for fewer instance-seconds (see the rows), and with `keep_warm`
  120 the waits are lower still for about media-nommer's instance-seconds.
- **Long tail**: the films' own encoding is nearly the whole bill (compare
  *work*), and a running job is never moved or stopped, so no policy saves
  much; the wait target costs about 2 % more because media-nommer's rule
  lets films queue behind each other: its p95 wait is 193 s and its longest
  wait 12 minutes, against 98 s and 100 s.

One policy decision over 1,000 encoders (half of them idle) takes
{sim['decide_ms']:.2f} ms. The simulator with {sim['scale']['jobs']:,} clips submitted at once and
up to {sim['scale']['encoders']:,} encoders ran in {sim['scale']['run_s']:.1f} s; its {sim['scale']['looks']} policy decisions took
{sim['scale']['look_ms_median']:.2f} ms at the median and {sim['scale']['look_ms_max']:.1f} ms at most.

## The feeder at scale (bench/feeder_scale.py)

Measured on {today}, on {common.machine()}.{load} A real feeder (every actor,
the HTTP API on loopback) over a SQLite store filled beforehand with
{s['jobs']:,} unfinished jobs ({2 * s['encoders']:,} of them ENCODING, the rest PENDING) and
{s['encoders']:,} encoder heartbeats; the fleet is {s['encoders']:,} members that run nothing,
so that the Scaler sees them. The feeder started in {s['start_s']} s and had queued
every PENDING job again (as it does at each start) after {s['settle_s']} s.

| what | measured | target | |
|---|---|---|---|
| a Scaler look (heartbeats read, view, decision, over the actor's mailbox), median of 30 | {s['tick_ms_median']} ms (max {s['tick_ms_max']} ms) | ≤ 100 ms | {met(s['tick_ms_median'] <= 100)} |
| `GET /jobs?limit=50` over HTTP, median of 50 | {s['list_ms_median']} ms (p95 {s['list_ms_p95']} ms) | ≤ 50 ms | {met(s['list_ms_median'] <= 50)} |
| the feeder's resident memory | {s['rss_mb']} MB | ≤ 300 MB | {met(s['rss_mb'] <= 300)} |

The Scaler's decision there: {s['decision']}.
"""


def main():
    o = overhead.main()
    small = small_jobs.main()
    cost = fixed_cost.main()
    lat = latency.main()
    tp = throughput.main()
    lad = [ladder.main(jobs_per_encoder=n) for n in (1, 2)]
    titles = per_title.main()
    sim = scaling_sim.main()
    scale = feeder_scale.main()
    acc = accelerated.main()
    acc_ladder = accelerated_ladder.main()
    today = datetime.date.today().isoformat()
    text = f"""# Benchmarks

Measured on {today}, on {common.machine()}, by `python bench/run_all.py`.
These machines are shared, so each figure is set against a baseline measured
in the same run, or is the best of a few runs.

## Pipeline overhead (bench/overhead.py)

A 20 s 1280x720 H.264 source encoded to the `mp4-h264-480p` preset, through the
farm (from `POST /jobs` to the webhook that says `FINISHED`, one encoder
already running and idle; copy in, probe, encode, copy out, every state write)
against the very same ffmpeg
command run directly. Best of {o['rounds']} each.

| | seconds |
|---|---|
| ffmpeg run directly | {o['direct_s']:.2f} |
| through the farm | {o['farm_s']:.2f} |
| **ratio** | **{o['ratio']:.3f}** (target ≤ 1.10) |

All rounds: direct {', '.join(f'{x:.2f}' for x in o['direct_all'])}; farm {', '.join(f'{x:.2f}' for x in o['farm_all'])}.

""" + small_jobs.section(small, small_jobs.BEFORE, today) + "\n" + fixed_cost.section(cost, fixed_cost.BEFORE, today) \
        + f"""
## Submit to DOWNLOADING (bench/latency.py)

{lat['jobs']} jobs submitted one at a time to a feeder with one idle encoder;
the delay runs from the moment the client sends `POST /jobs` to the job's
`started_at`, written by the encoder when it claims the job (same machine,
same clock).
The encoder waits on the queue and is woken when a job is queued, so it does
not poll (media-nommer polled every 60 s).

| p50 | p99 | max |
|---|---|---|
| **{lat['p50_ms']:.1f} ms** (target ≤ 10) | **{lat['p99_ms']:.1f} ms** (target ≤ 25) | {lat['max_ms']:.1f} ms |

""" + throughput_section(tp, today=today) + "\n" + ladder_section(lad) + "\n" + per_title.section(titles) + "\n" + scaling_section(sim, scale, today) \
        + "\n" + accelerated.section(acc, today, common.machine()) \
        + "\n" + accelerated_ladder.section(acc_ladder, today, common.machine())
    DOC.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
