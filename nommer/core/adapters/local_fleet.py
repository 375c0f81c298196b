"""The embedded default's fleet: ``python -m nommer.encoder`` subprocesses over
the feeder's own data folder, each with the feeder's settings.

Each encoder writes a pid file under ``data_dir/run``; a feeder that starts
again after a crash adopts the encoders still running from there, so it
neither loses track of them nor starts too many.
"""

import itertools
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from nommer.core import config as config_mod
from nommer.core.ports.fleet import Fleet, Member
from nommer.core.model.jobs import utcnow


def settings_environment(config):
    """The feeder's settings as NOMMER_* variables, so that an encoder it
    starts runs with exactly the same configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env.update(config_mod.environment_of(config))
    return env


def pid_dir(config):
    return pathlib.Path(config.data_dir) / "run"


def write_pid_file(config, encoder_id, pid=None):
    """Name the process ``pid`` (this one by default) as encoder
    ``encoder_id``, in one step: a reader never sees half a number."""
    folder = pid_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"encoder-{encoder_id}.pid"
    part = folder / f".encoder-{encoder_id}.pid.{os.getpid()}"
    part.write_text(str(os.getpid() if pid is None else pid))
    os.replace(part, path)
    return path


def live_encoder_ids(config):
    """Ids of the encoders whose pid file names a running encoder."""
    ids = set()
    for path in pid_dir(config).glob("encoder-*.pid"):
        try:
            if _is_encoder(int(path.read_text().strip())):
                ids.add(path.stem[len("encoder-"):])
        except (OSError, ValueError):
            continue
    return ids


def remove_dead_workdirs(config):
    """Remove the work folders of encoders that died without cleaning up
    (killed): they are named ``<job>-<attempt>-<encoder id>``."""
    work = pathlib.Path(config.work_dir)
    if not work.is_dir():
        return []
    alive = live_encoder_ids(config)
    removed = []
    for folder in work.iterdir():
        parts = folder.name.split("-", 2)
        if len(parts) == 3 and parts[2] not in alive:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _is_encoder(pid):
    """Whether ``pid`` is alive and is a nommer encoder (not a reused pid)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"nommer.encoder" in f.read()
    except (OSError, ValueError):
        return False


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass  # it has just ended by itself


class _Entry:
    def __init__(self, member, pid, proc=None):
        self.member = member
        self.pid = pid
        self.proc = proc  # None for an adopted encoder (not our child)

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return _is_encoder(self.pid)


class LocalFleet(Fleet):
    def __init__(self, config):
        self.config = config
        self.log_dir = pathlib.Path(config.data_dir) / "logs"
        self._entries = {}
        self._numbers = itertools.count(1)
        self._prefix = f"local-{os.getpid()}"
        self._adopt()

    def _adopt(self):
        folder = pid_dir(self.config)
        if not folder.is_dir():
            return
        for path in folder.glob("encoder-*.pid"):
            member_id = path.stem[len("encoder-"):]
            try:
                pid = int(path.read_text().strip())
            except (OSError, ValueError):
                continue
            if _is_encoder(pid):
                member = Member(member_id, "running", utcnow(), f"pid {pid} (adopted)")
                self._entries[member_id] = _Entry(member, pid)
            else:
                path.unlink(missing_ok=True)

    def launch(self, count):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._prune_logs()
        env = settings_environment(self.config)
        launched = []
        for _ in range(count):
            member_id = f"{self._prefix}-{next(self._numbers)}"
            log_path = self.log_dir / f"encoder-{member_id}.log"
            # The file takes what the encoder says before it sets up its own
            # logging; then the encoder writes and rotates it itself.
            with open(log_path, "ab") as log_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "nommer.encoder", "--instance-id", member_id],
                    env={**env, "NOMMER_LOG_FILE": str(log_path)},
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=os.getcwd(),
                )
            # Named at once, not only once the encoder has started: a feeder
            # killed now and started again adopts it instead of leaving it.
            write_pid_file(self.config, member_id, proc.pid)
            member = Member(id=member_id, state="running", started_at=utcnow(),
                            detail=f"pid {proc.pid}")
            self._entries[member_id] = _Entry(member, proc.pid, proc)
            launched.append(member)
        return launched

    def _prune_logs(self):
        """Delete the log files of encoders that stopped writing them more
        than ``log_keep_days`` ago (each launch is a new encoder id)."""
        horizon = time.time() - self.config.log_keep_days * 86400
        running = {f"encoder-{member_id}.log" for member_id in self._entries}
        for path in self.log_dir.glob("encoder-*.log*"):
            if path.name.split(".log")[0] + ".log" in running:
                continue
            try:
                if path.stat().st_mtime < horizon:
                    path.unlink()
            except FileNotFoundError:
                pass

    def members(self):
        alive = []
        for member_id, entry in list(self._entries.items()):
            if not entry.alive():
                del self._entries[member_id]
                continue
            alive.append(entry.member)
        return alive

    def retire(self, member_id):
        """SIGTERM to the encoder; False (nothing done) when it is not one of
        this fleet's, has ended, or was retired already, as on EC2."""
        entry = self._entries.get(member_id)
        if entry is None or entry.member.state == "stopping" or not entry.alive():
            return False
        _signal(entry.pid, signal.SIGTERM)
        m = entry.member
        entry.member = Member(m.id, "stopping", m.started_at, m.detail)
        return True

    def stop_all(self, timeout=10.0):
        entries = [e for e in self._entries.values() if e.alive()]
        for entry in entries:
            _signal(entry.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for entry in entries:
            while entry.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if entry.alive():
                _signal(entry.pid, signal.SIGKILL)
            if entry.proc is not None:
                entry.proc.wait()
        self._entries.clear()
