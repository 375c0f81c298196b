"""The embedded default's fleet: ``python -m nommer.encoder`` subprocesses over
the feeder's own data folder, each with the feeder's settings."""

import itertools
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from nommer.core.fleet import Fleet, Member
from nommer.core.jobs import utcnow


def settings_environment(config):
    """The feeder's settings as NOMMER_* variables, so that an encoder it
    starts runs with exactly the same configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    for name, value in config.values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = os.pathsep.join(value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        env[f"NOMMER_{name.upper()}"] = str(value)
    return env


class LocalFleet(Fleet):
    def __init__(self, config):
        self.config = config
        self.log_dir = pathlib.Path(config.data_dir) / "logs"
        self._procs = {}  # member id -> (Popen, Member)
        self._numbers = itertools.count(1)
        self._prefix = f"local-{os.getpid()}"

    def launch(self, count):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = settings_environment(self.config)
        launched = []
        for _ in range(count):
            member_id = f"{self._prefix}-{next(self._numbers)}"
            with open(self.log_dir / f"encoder-{member_id}.log", "ab") as log_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "nommer.encoder", "--instance-id", member_id],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=os.getcwd(),
                )
            member = Member(id=member_id, state="running", started_at=utcnow(),
                            detail=f"pid {proc.pid}")
            self._procs[member_id] = (proc, member)
            launched.append(member)
        return launched

    def members(self):
        alive = []
        for member_id, (proc, member) in list(self._procs.items()):
            if proc.poll() is not None:
                del self._procs[member_id]
                continue
            alive.append(member)
        return alive

    def retire(self, member_id):
        entry = self._procs.get(member_id)
        if entry is None:
            return False
        proc, member = entry
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        self._procs[member_id] = (proc, Member(member.id, "stopping", member.started_at, member.detail))
        return True

    def stop_all(self, timeout=10.0):
        procs = [proc for proc, _ in self._procs.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
