"""Helpers of the end-to-end tests: a data folder, jobs placed the way the
feeder places them, real encoder processes, and waits with deadlines."""

import contextlib
import json
import os
import subprocess
import sys
import time

from nommer.core import backends, config as config_mod
from nommer.core.model.messages import message_body
from nommer.core.model.jobs import Job


def farm_env(data_dir, roots, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env.update({
        "NOMMER_DATA_DIR": str(data_dir),
        "NOMMER_FILE_ROOTS": os.pathsep.join(str(r) for r in roots),
        "NOMMER_POLL_WAIT": "0.5",
        "NOMMER_HEARTBEAT_INTERVAL": "0.5",
        "NOMMER_CANCEL_CHECK_INTERVAL": "0.2",
        "NOMMER_PROGRESS_INTERVAL": "0.2",
        "NOMMER_MAX_INACTIVITY": "600",
        "NOMMER_LOG_FORMAT": "json",
        # The tests' http sources and webhook receivers are on loopback,
        # which nommer refuses unless an operator allows it.
        "NOMMER_ALLOWED_NETWORKS": "127.0.0.0/8",
    })
    env.update({f"NOMMER_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def farm_config(env):
    return config_mod.load(environ={k: v for k, v in env.items() if k.startswith("NOMMER_")})


def place_job(parts, source, outputs, notify_url=None):
    """Store a job and queue it, as the feeder does."""
    job = parts.store.create(Job.new(source, outputs, notify_url))
    parts.new_jobs.send(message_body(job.id))
    return job


def start_encoder(env, instance_id, log_path):
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nommer.encoder", "--instance-id", instance_id],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    log.close()
    return proc


@contextlib.contextmanager
def encoder_farm(root, instance_id, **settings):
    """A store and queues under ``root``/data, a media folder, and one real
    encoder process; yields {"env", "parts", "media", "root", "proc"} and, on
    leaving, stops the encoder (it must exit 0) and closes the parts."""
    media = root / "media"
    media.mkdir()
    env = farm_env(root / "data", [media], **settings)
    parts = open_parts(env)
    proc = start_encoder(env, instance_id, root / "encoder.log")
    try:
        yield {"env": env, "parts": parts, "media": media, "root": root, "proc": proc}
    finally:
        proc.terminate()
        try:
            assert proc.wait(30) == 0, (root / "encoder.log").read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            parts.close()


def wait_for(predicate, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def wait_final(store, job_id, timeout=60):
    return wait_for(lambda: (lambda j: j if j.is_final else None)(store.get(job_id)),
                    timeout, f"job {job_id} to end")


def open_parts(env):
    return backends.build(farm_config(env))


def uri(path):
    return f"file://{path}"


def state_history(parts, job_id):
    """Every state the encoder reported for the job, in order, from the
    state-change queue (messages of other jobs are left hidden a minute)."""
    seen = []
    while True:
        messages = parts.state_changes.receive(max_messages=10, visibility_timeout=60)
        if not messages:
            return seen
        for m in messages:
            change = json.loads(m.body)
            if change["job_id"] == job_id:
                seen.append(change["state"])
                parts.state_changes.delete(m.receipt)


def decodes(ffmpeg_exe, path):
    result = subprocess.run([ffmpeg_exe, "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=120)
    return result.returncode == 0 and not result.stderr.strip()


def video_stream(info):
    return next(s for s in info["streams"] if s["type"] == "video")


def ffmpeg_processes_in(folder):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if "ffmpeg" in cmdline and str(folder) in cmdline:
            found.append(int(pid))
    return found
