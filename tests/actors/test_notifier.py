"""The Notifier delivers a job's events in order; a progress event that is
still waiting when a newer one comes is replaced by it."""

import http.server
import json
import threading

import pytest

from nommer.actors.messages import Notify
from nommer.actors.notifier import Notifier
from nommer.core import config as config_mod

from ..e2e.farm import wait_for


class SlowReceiver:
    """Holds its first delivery until released; keeps every body."""

    def __init__(self):
        self.bodies = []
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                if len(receiver.bodies) == 1:
                    receiver.release.wait(10)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notifier():
    ref = Notifier.start(config_mod.load(environ={}))
    yield ref
    ref.stop()


def event(kind, n):
    return {"event": kind, "job_id": "j", "n": n}


def test_a_slow_receiver_gets_the_latest_progress_and_every_state_change(notifier):
    receiver = SlowReceiver()
    try:
        notifier.tell(Notify("j", receiver.url, event("job.state_changed", 0)))
        wait_for(lambda: receiver.bodies, 10, "the first delivery")  # now held
        for n in range(1, 5):
            notifier.tell(Notify("j", receiver.url, event("job.progress", n)))
        notifier.tell(Notify("j", receiver.url, event("job.state_changed", 5)))
        notifier.tell(Notify("j", receiver.url, event("job.progress", 6)))
        notifier.tell(Notify("j", receiver.url, event("job.progress", 7)))
        receiver.release.set()
        wait_for(lambda: len(receiver.bodies) >= 4, 10, "the rest")
        assert [b["n"] for b in receiver.bodies] == [0, 4, 5, 7]
    finally:
        receiver.close()
