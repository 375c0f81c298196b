"""Run every benchmark and write docs/benchmarks.md with the machine and the date.

    python bench/run_all.py
"""

import datetime
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
import ladder  # noqa: E402
import latency  # noqa: E402
import overhead  # noqa: E402
import per_title  # noqa: E402
import throughput  # noqa: E402

DOC = pathlib.Path(__file__).parents[1] / "docs" / "benchmarks.md"


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


def main():
    o = overhead.main()
    lat = latency.main()
    tp = [throughput.main() for _ in range(3)]
    lad = [ladder.main(jobs_per_encoder=n) for n in (1, 2)]
    titles = per_title.main()
    best = max(tp, key=lambda r: r["per_second"])
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

## Submit to DOWNLOADING (bench/latency.py)

{lat['jobs']} jobs submitted one at a time to a feeder with one idle encoder;
the delay runs from the moment the client sends `POST /jobs` to the job's
`started_at`, written by the encoder when it claims the job (same machine,
same clock).
The encoder waits on the queue and is woken when a job is queued, so it does
not poll (media-nommer polled every 60 s).

| p50 | p99 | max |
|---|---|---|
| **{lat['p50_ms']:.1f} ms** (target ≤ 100) | **{lat['p99_ms']:.1f} ms** (target ≤ 500) | {lat['max_ms']:.1f} ms |

## Submissions accepted per second (bench/throughput.py)

{best['clients']} clients on keep-alive connections each send {best['submissions'] // best['clients']}
`POST /jobs` to a feeder on the SQLite store (no encoder running, so the
figure is the feeder's alone: validation, the job write, the queue write, the
answer). The client runs on the same 2 cores.

| run | submissions | seconds | per second |
|---|---|---|---|
""" + "".join(f"| {i + 1} | {r['submissions']} | {r['seconds']:.2f} | {r['per_second']:.0f} |\n"
              for i, r in enumerate(tp)) + f"""
Best: **{best['per_second']:.0f}/s** (target ≥ 300).

""" + ladder_section(lad) + "\n" + per_title.section(titles)
    DOC.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
