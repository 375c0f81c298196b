"""Shared parts of the benchmarks: a feeder process on a free port in a
temporary folder, an HTTP client with keep-alive, and the machine's description."""

import contextlib
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import pathlib


def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def cpu_seconds(pid):
    """User and system CPU seconds the process ``pid`` has used (Linux)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def feeder_pid(port):
    """The pid of the feeder :func:`feeder` started on ``port``."""
    out = subprocess.run(["pgrep", "-f", f"nommer.feeder --port {port}$"], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """JSON over one keep-alive HTTP connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self):
        self.conn.close()


@contextlib.contextmanager
def feeder(roots, **settings):
    """Run a feeder in a temporary folder; yields (port, workdir)."""
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
        env.update({"NOMMER_DATA_DIR": str(workdir / "data"),
                    "NOMMER_FILE_ROOTS": os.pathsep.join(map(str, roots)),
                    "NOMMER_LOG_LEVEL": "warning",
                    # the benchmarks' webhook receiver is on loopback
                    "NOMMER_ALLOWED_NETWORKS": "127.0.0.0/8"})
        env.update({f"NOMMER_{k.upper()}": str(v) for k, v in settings.items()})
        log = open(workdir / "feeder.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "nommer.feeder", "--port", str(port)],
                                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client = Client(port)
                    if client.call("GET", "/health")[0] == 200:
                        client.close()
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("feeder did not start: " + (workdir / "feeder.log").read_text())
                time.sleep(0.1)
            yield port, workdir
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()


def wait_job(client, job_id, states=("FINISHED", "ERROR", "CANCELED", "ABANDONED"), timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = client.call("GET", f"/jobs/{job_id}")
        if job["state"] in states:
            return job
        time.sleep(0.02)
    raise SystemExit(f"job {job_id} did not reach {states}")


class Hooks:
    """A webhook receiver on loopback: waiting for a job's end by push costs
    the feeder nothing, where polling GET /jobs would take CPU from ffmpeg.
    It answers in HTTP/1.1 and keeps connections open, as web servers do."""

    def __init__(self):
        import http.server
        import threading

        self.final = {}
        self.cond = threading.Condition()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body["state"] in ("FINISHED", "ERROR", "CANCELED", "ABANDONED"):
                    with hooks.cond:
                        hooks.final[body["job_id"]] = (time.monotonic(), body["state"])
                        hooks.cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, job_id, timeout=600):
        """(monotonic time the final state arrived, state)."""
        with self.cond:
            if not self.cond.wait_for(lambda: job_id in self.final, timeout):
                raise SystemExit(f"job {job_id} did not end within {timeout} s")
            return self.final[job_id]

    def close(self):
        self.server.shutdown()


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)
