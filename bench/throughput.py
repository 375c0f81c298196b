"""Submissions accepted per second through the API with the SQLite store,
set against a trivial Flask app on waitress measured in the same run.

No encoder runs (autoscale off), so the feeder's figure is its own: the
request, validation, the job write and the queue write (both committed
before the 201), the answer. The trivial app answers the same POST with 201
and a small JSON body and does nothing else: it is what this Python, Flask
and waitress can do at best on this machine, so the ratio says how much of
that the feeder keeps.

With ``--log-level info`` (the feeder's default) each submission also
writes its access line and its job's PENDING line; by default the feeder
here logs warnings only, as in the earlier runs of this benchmark.

    python bench/throughput.py [--clients 8] [--per-client 250] [--sqlite-synchronous NORMAL] [--log-level info]
"""

import argparse
import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue  # noqa: E402
from nommer.core.backends import NEW_JOBS  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402


def trivial_app():
    """A Flask app that answers ``POST /jobs`` with 201 and a small body."""
    import flask

    app = flask.Flask("trivial")

    @app.post("/jobs")
    def submit():
        body = flask.request.get_json()
        return {"id": "0" * 20, "state": "PENDING", "source": body["source"]}, 201

    @app.get("/health")
    def health():
        return {"status": "ok"}

    return app


@contextlib.contextmanager
def trivial_server():
    """The trivial app on waitress (8 threads, as the feeder's) in its own
    process; yields its port and pid."""
    port = common.free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-trivial", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = common.Client(port)
                if client.call("GET", "/health")[0] == 200:
                    client.close()
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("trivial app did not start: " + proc.stderr.read().decode())
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()


def hammer(port, body_for, clients, per_client, pid=None):
    """``clients`` threads, each on its own keep-alive connection, each
    sending ``per_client`` POST /jobs; returns (seconds, ids answered), and
    with the server's ``pid`` also the CPU seconds it used meanwhile."""
    errors, ids = [], []
    ready = threading.Barrier(clients + 1)

    def submit(worker):
        client = common.Client(port)
        client.call("GET", "/health")  # connect before the clock starts
        ready.wait()
        mine = []
        for n in range(per_client):
            status, job = client.call("POST", "/jobs", body_for(worker, n))
            if status != 201:
                errors.append(job)
            else:
                mine.append(job["id"])
        ids.extend(mine)
        client.close()

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    cpu = common.cpu_seconds(pid) if pid else 0.0
    started = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert not errors, errors[:3]
    if pid:
        return elapsed, ids, common.cpu_seconds(pid) - cpu
    return elapsed, ids


def main(clients=8, per_client=250, rounds=3, synchronous="FULL", log_level="warning"):
    """Rounds of the trivial app and of the feeder, alternated (the machine
    is shared, so its load changes between rounds); the best round of each
    gives the ratio."""
    load_before = os.getloadavg()[0]
    exe = load(environ={}).ffmpeg_exe()
    total = clients * per_client
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "tiny.mp4", seconds=0.5, size="160x120")

        def body_for(round_, worker, n):
            return {"source": f"file://{source}",
                    "outputs": [{"destination": f"file://{media}/{round_}-{worker}-{n}.mp4",
                                 "preset": "mp4-h264-360p"}]}

        trivial_s, feeder_s, ids, trivial_cpu, feeder_cpu = [], [], [], [], []
        with trivial_server() as (trivial_port, trivial_pid), \
                common.feeder([media], autoscale="false", sqlite_synchronous=synchronous,
                              log_level=log_level) as (port, workdir):
            pid = common.feeder_pid(port)
            hammer(trivial_port, lambda w, n: body_for("warm", w, n), clients, 20)
            for r in range(rounds):
                seconds, _, cpu = hammer(trivial_port, lambda w, n: body_for("t", w, n), clients, per_client,
                                         trivial_pid)
                trivial_s.append(seconds)
                trivial_cpu.append(cpu)
                seconds, answered, cpu = hammer(port, lambda w, n, r=r: body_for(r, w, n), clients, per_client,
                                                pid)
                feeder_s.append(seconds)
                feeder_cpu.append(cpu)
                ids += answered
            client = common.Client(port)
            status, health = client.call("GET", "/health")
            client.close()
            # Every answered job is stored and queued (both committed before its 201).
            queue = SqliteWorkQueue(workdir / "data" / "nommer.sqlite3", NEW_JOBS)
            try:
                visible, hidden = queue.depth()
            finally:
                queue.close()
    submitted = total * rounds
    assert len(set(ids)) == submitted, "a job id was answered twice"
    pending = health["metrics"]["jobs"].get("PENDING", 0)
    assert pending == submitted, f"{pending} jobs PENDING after {submitted} answers"
    assert visible + hidden == submitted, f"{visible + hidden} queued after {submitted} answers"
    feeder = total / min(feeder_s)
    trivial = total / min(trivial_s)
    return {"submissions": total, "clients": clients, "rounds": rounds,
            "seconds": min(feeder_s), "per_second": feeder,
            "all_per_second": [total / s for s in feeder_s],
            "trivial_seconds": min(trivial_s), "trivial_per_second": trivial,
            "trivial_all_per_second": [total / s for s in trivial_s],
            "ratio": feeder / trivial, "synchronous": synchronous, "log_level": log_level,
            # CPU milliseconds per answered POST of each server process, its cheapest round
            "cpu_ms": min(feeder_cpu) / total * 1000, "trivial_cpu_ms": min(trivial_cpu) / total * 1000,
            # the machine's 1-minute load average when the run began and ended
            "load": (load_before, os.getloadavg()[0])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite-synchronous", default="FULL", choices=("FULL", "NORMAL"),
                        help="the feeder's sqlite_synchronous setting (FULL, the default, syncs each commit)")
    parser.add_argument("--log-level", default="warning", choices=("warning", "info"),
                        help="the feeder's log_level (info, its default, writes two lines a submission)")
    parser.add_argument("--serve-trivial", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_trivial:
        import waitress

        waitress.serve(trivial_app(), host="127.0.0.1", port=args.serve_trivial, threads=8,
                       _quiet=True)
        sys.exit(0)
    r = main(args.clients, args.per_client, args.rounds, args.sqlite_synchronous, args.log_level)
    print(f"sqlite_synchronous {r['synchronous']}, log_level {r['log_level']}, load {r['load'][0]:.1f}-{r['load'][1]:.1f}: "
          f"{r['submissions']} submissions from {r['clients']} clients, best of {r['rounds']}: "
          f"feeder {r['per_second']:.0f}/s (" + ", ".join(f"{x:.0f}" for x in r["all_per_second"])
          + f"); trivial Flask app {r['trivial_per_second']:.0f}/s ("
          + ", ".join(f"{x:.0f}" for x in r["trivial_all_per_second"]) + f"); ratio {r['ratio']:.3f}; "
          f"CPU per submission: feeder {r['cpu_ms']:.3f} ms, trivial app {r['trivial_cpu_ms']:.3f} ms")
