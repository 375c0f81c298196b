"""The soak: 100 short jobs, two encoders killed at random, the feeder killed
once, and one store or queue call in ten failing. Every job must end in
exactly one final state, no output may be corrupt, and each webhook receiver
must hear the final state. Bounded in time; it stops by itself.

The figures it measures are printed (run with -s) and reported in
docs/reliability.md.
"""

import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from .farm import wait_for
from .feeder import FeederProcess
from .test_feeder_process import encoder_processes

JOBS = 100
FINAL = ("FINISHED", "ERROR", "ABANDONED", "CANCELED")
DEADLINE = 420  # seconds for the whole run


def encoder_pids(data_dir):
    pids = []
    for path in (data_dir / "run").glob("encoder-*.pid"):
        try:
            pids.append(int(path.read_text()))
        except (OSError, ValueError):
            pass
    return [p for p in pids if p in encoder_processes(data_dir)]


@pytest.mark.timeout(DEADLINE + 120)
def test_soak(tmp_path, ffmpeg_exe):
    rng = random.Random(int(os.environ.get("NOMMER_SOAK_SEED", "20261127")))
    media = tmp_path / "media"
    media.mkdir()
    make_clip(ffmpeg_exe, media / "src.mp4", seconds=1.0, size="160x120")
    receiver = Receiver()
    feeder = FeederProcess(
        tmp_path, [media], adapter_hook="nommer.testing.faults", fault_rate=0.1,
        max_encoders=2, jobs_per_encoder=2,
        lease_seconds=3, heartbeat_interval=0.5, reap_interval=0.5, max_attempts=20,
        stop_grace=5, max_inactivity=600, notify_backoff=0.2, state_change_lease=10,
    ).start()
    data = tmp_path / "data"
    started = time.monotonic()
    ids = []
    kills = {"encoder": 0, "feeder": 0}
    stop = threading.Event()

    def killer():
        """SIGKILL an encoder every 1-2.5 s, and the feeder once, from the
        first submission to the end."""
        while not stop.wait(rng.uniform(1, 2.5)):
            pids = encoder_pids(data)
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills["encoder"] += 1
            if kills["feeder"] == 0 and kills["encoder"] == 2:
                feeder.stop(signal.SIGKILL)
                kills["feeder"] += 1
                feeder.start()

    def call(method, path, body=None):
        """A request; while the feeder is down or meets an injected fault
        (503, said so), try again; nothing else may fail."""
        for _ in range(200):
            try:
                status, answer = (feeder.post(path, body) if method == "POST"
                                  else feeder.get(path))
            except OSError:
                time.sleep(0.1)
                continue
            if status != 503:
                return status, answer
            time.sleep(0.1)
        pytest.fail(f"{method} {path} kept failing")

    def job_of(job_id):
        status, job = call("GET", f"/jobs/{job_id}")
        assert status == 200, job
        return job

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        for n in range(JOBS):
            status, job = call("POST", "/jobs", {
                "source": f"file://{media}/src.mp4",
                "outputs": [{"destination": f"file://{media}/out-{n}.mp4",
                             "preset": "mp4-h264-360p"}],
                "notify_url": receiver.url})
            assert status == 201, job
            ids.append(job["id"])

        def finished():
            return sum(job_of(i)["state"] in FINAL for i in ids)

        while finished() < len(ids):
            assert time.monotonic() - started < DEADLINE, f"only {finished()} of {len(ids)} ended"
            time.sleep(0.5)
        stop.set()
        thread.join()
        encoder_kills, feeder_kills = kills["encoder"], kills["feeder"]

        jobs = [job_of(i) for i in ids]
        states = [j["state"] for j in jobs]
        for job in jobs:
            if job["state"] == "FINISHED":
                out = media / f"out-{ids.index(job['id'])}.mp4"
                check = subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(out), "-f", "null", "-"],
                                       capture_output=True, text=True, timeout=60)
                assert check.returncode == 0 and not check.stderr.strip(), (job, check.stderr)
        # exactly one final state each, and it stays put
        assert all(s in FINAL for s in states)
        assert [job_of(i)["state"] for i in ids] == states
        leftovers = [p.name for p in media.iterdir() if p.name.endswith(".part")]
        assert leftovers == []  # never a half-written output
        for job in jobs:
            wait_for(lambda: job["state"] in receiver.states(job["id"]), 60,
                     f"the final webhook of {job['id']}")
        retries = sum(log.read_text().count('"retrying"') for log in
                      [feeder.log_path, *(data / "logs").glob("*.log")])
        attempts = sum(j["attempt"] for j in jobs)
        figures = {
            "jobs": len(ids), "finished": states.count("FINISHED"),
            "error": states.count("ERROR"), "encoder_kills": encoder_kills,
            "feeder_kills": feeder_kills, "retries_logged": retries,
            "attempts": attempts, "reruns": attempts - len(ids),
            "lost": len(ids) - sum(s in FINAL for s in states),
            "seconds": round(time.monotonic() - started, 1),
        }
        print("SOAK", json.dumps(figures))
        assert figures["lost"] == 0
        assert figures["finished"] == len(ids), [j["details"] for j in jobs if j["state"] != "FINISHED"]
        assert encoder_kills >= 3 and feeder_kills == 1
        assert retries > 0  # the injected faults happened, and were retried
    finally:
        stop.set()
        thread.join()
        feeder.stop()
        receiver.close()
        for pid in encoder_processes(data):
            os.kill(pid, signal.SIGKILL)
