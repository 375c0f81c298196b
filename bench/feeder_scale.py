"""The feeder at scale: 100,000 unfinished jobs in the SQLite store and
1,000 encoders heartbeating. A real feeder (every actor, the HTTP API on
loopback) runs in this process over a store filled beforehand; its fleet is
1,000 members that run nothing (a Fleet of the port's type), so that the
Scaler sees them and their heartbeats without 1,000 processes. Measured:
the Scaler's look (heartbeats read, view built, policy decided, over the
actor's mailbox), ``GET /jobs?limit=50`` over HTTP, and the process's
resident memory.

    python bench/feeder_scale.py [--jobs 100000] [--encoders 1000]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

import common  # noqa: E402
import pykka  # noqa: E402

from nommer import feeder as feeder_mod  # noqa: E402
from nommer.actors.scaler import Scaler  # noqa: E402
from nommer.core import backends  # noqa: E402
from nommer.core.adapters.sqlite_store import SqliteJobStore  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.core.ports.fleet import Fleet, Member  # noqa: E402
from nommer.core.model.jobs import Job, State, utcnow  # noqa: E402


class IdleFleet(Fleet):
    """Members that exist only as records: what the Scaler sees of a fleet."""

    def __init__(self, members):
        self.lock = threading.Lock()
        self.live = {m.id: m for m in members}
        self.launched = 0

    def launch(self, count):
        with self.lock:
            made = [Member(f"bench-new-{self.launched + i}", "starting", utcnow()) for i in range(count)]
            self.launched += count
            self.live.update((m.id, m) for m in made)
            return made

    def members(self):
        with self.lock:
            return list(self.live.values())

    def retire(self, member_id):
        with self.lock:
            return self.live.pop(member_id, None) is not None


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(store, jobs, encoders):
    """``jobs`` unfinished jobs (two per encoder ENCODING and probed, the
    rest PENDING) and ``encoders`` heartbeats, written in one transaction."""
    running = min(jobs, 2 * encoders)
    rows = []
    for n in range(jobs):
        job = Job.new(f"s3://bench/in/{n:06d}.mov",
                      [{"destination": f"s3://bench/out/{n:06d}.mp4", "preset": "mp4-h264-720p"}],
                      job_id=f"{n:012x}{n:08x}")
        if n < running:
            job = job.transition(State.DOWNLOADING, encoder_id=f"enc-{n // 2:04d}").transition(
                State.ENCODING, probe={"duration": 60.0 + n % 600})
        rows.append(SqliteJobStore._row(job.__class__(**{**job.__dict__, "version": 1})))
    store.db.transaction(lambda conn: conn.executemany(
        "INSERT INTO jobs (id, state, created_at, updated_at, version, data) VALUES (?, ?, ?, ?, ?, ?)",
        rows))
    for e in range(encoders):
        held = [f"{n:012x}{n:08x}" for n in (2 * e, 2 * e + 1) if n < running]
        store.heartbeat(f"enc-{e:04d}", {"jobs": held, "slots": 2})
    return running


def main(jobs=100_000, encoders=1000, looks=30, lists=50):
    with tempfile.TemporaryDirectory(prefix="nommer-scale-") as tmp:
        config = load(environ={}, overrides={
            "data_dir": tmp, "port": common.free_port(), "max_encoders": encoders + 100,
            "scale_interval": 60.0, "log_level": "warning", "retention_days": 0})
        began = time.perf_counter()
        # Filled by another process: this one's memory is the feeder's alone.
        subprocess.run([sys.executable, __file__, "--fill", str(config.db_path), "--jobs", str(jobs),
                        "--encoders", str(encoders)], check=True)
        filled_s = time.perf_counter() - began
        fleet = IdleFleet([Member(f"enc-{e:04d}", "running", utcnow()) for e in range(encoders)])
        backends.build_fleet = lambda config: fleet  # the feeder takes its fleet from here
        rss_before = rss_mb()
        feeder = feeder_mod.Feeder(config)
        began = time.perf_counter()
        feeder.start()
        start_s = time.perf_counter() - began
        try:
            # The Dispatcher queues every PENDING job again at start; let that pass.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and sum(feeder.parts.new_jobs.depth()) < jobs - 2 * encoders:
                time.sleep(0.5)
            settle_s = time.perf_counter() - began
            scaler = pykka.ActorRegistry.get_by_class(Scaler)[0].proxy()
            tick_ms = []
            decision = None
            for _ in range(looks):
                t0 = time.perf_counter()
                decision = scaler.look().get(timeout=60)
                tick_ms.append((time.perf_counter() - t0) * 1000)
            host, port = feeder.address()
            client = common.Client(port)
            list_ms = []
            for _ in range(lists):
                t0 = time.perf_counter()
                status, body = client.call("GET", "/jobs?limit=50")
                list_ms.append((time.perf_counter() - t0) * 1000)
                assert status == 200 and len(body["jobs"]) == 50, (status, body)
            client.close()
            rss = rss_mb()
        finally:
            feeder.stop()
    result = {
        "jobs": jobs, "encoders": encoders, "fill_s": round(filled_s, 1), "start_s": round(start_s, 1),
        "settle_s": round(settle_s, 1),
        "tick_ms_median": round(statistics.median(tick_ms), 1), "tick_ms_max": round(max(tick_ms), 1),
        "list_ms_median": round(statistics.median(list_ms), 1),
        "list_ms_p95": round(sorted(list_ms)[int(0.95 * len(list_ms)) - 1], 1),
        "rss_mb": round(rss), "rss_before_feeder_mb": round(rss_before),
        "decision": decision["reason"] if decision else None,
        "launched": fleet.launched,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--encoders", type=int, default=1000)
    parser.add_argument("--fill", metavar="DB", help="only fill the SQLite store DB")
    args = parser.parse_args()
    if args.fill:
        store = SqliteJobStore(args.fill)
        fill(store, args.jobs, args.encoders)
        store.close()
    else:
        main(args.jobs, args.encoders)
