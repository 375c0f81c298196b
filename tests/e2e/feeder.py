"""A real feeder process on a free loopback port and an HTTP client for it
(the webhook receiver the tests use is nommer.testing.receiver's)."""

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from .farm import farm_env, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, headers=None, raw=None):
    """One HTTP request; returns (status, parsed JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class FeederProcess:
    """A feeder process; with ``token`` it is configured with that API token
    and sends it with every call."""

    def __init__(self, workdir, roots, token=None, **settings):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = token
        settings = {"scale_interval": 0.3, "reap_interval": 1, **settings}
        if token:
            settings["api_tokens"] = token
        self.env = farm_env(workdir / "data", roots, **settings)
        self.log_path = workdir / "feeder.log"
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nommer.feeder", "--port", str(self.port)],
                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        wait_for(self._healthy, 30, "the feeder to answer /health", step=0.1)
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"feeder exited {self.proc.returncode}: {self.log()}")
        try:
            return call(self.base, "GET", "/health")[0] == 200
        except OSError:
            return False

    def log(self):
        return self.log_path.read_text()[-5000:]

    def stop(self, sig=None):
        import signal

        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("feeder did not stop within 60 s: " + self.log())

    def _auth(self, headers=None):
        return {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}

    def get(self, path):
        return call(self.base, "GET", path, headers=self._auth())

    def post(self, path, body=None, headers=None, **kw):
        return call(self.base, "POST", path, body, headers=self._auth(headers), **kw)

    def wait_job(self, job_id, timeout=120, states=("FINISHED", "ERROR", "ABANDONED", "CANCELED")):
        def done():
            status, job = self.get(f"/jobs/{job_id}")
            return job if status == 200 and job["state"] in states else None
        return wait_for(done, timeout, f"job {job_id} to reach {states}", step=0.1)
