"""moto's server as a real subprocess on a free loopback port, so the AWS
adapters talk to it over the wire exactly as they talk to AWS."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Fake, and what boto3 reads from the environment: the adapters add no
# mechanism of their own for endpoints or credentials.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self.url = None

    def start(self, timeout=60.0):
        for _ in range(3):  # the free port may be taken before moto binds it
            port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"moto's server did not start; see {self.log_path}")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        return False

    def environment(self):
        """The variables that point boto3 at this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
