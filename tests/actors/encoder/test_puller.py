"""The Puller against a queue that fails at once: it waits before asking
again, doubling the wait, instead of spinning."""

import threading
import time
import types

import pykka

from nommer.actors.encoder.puller import RECEIVE_BACKOFF, Puller
from nommer.core import log
from nommer.core.errors import TransientError


class FailingQueue:
    """A queue whose every receive fails at once, as a queue whose server
    refuses connections does; it counts the calls."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def receive(self, **_):
        with self.lock:
            self.calls += 1
        raise TransientError("connection refused")


def test_a_queue_that_fails_at_once_is_asked_with_backoff_not_in_a_loop():
    queue = FailingQueue()
    core = types.SimpleNamespace(new_jobs=queue, in_flight=lambda: [], log=log.get("test"),
                                 config=types.SimpleNamespace(lease_seconds=60), made_contact=lambda: None,
                                 intake_open=True)
    puller = Puller.start(core, fetcher=None, slots=2, wait_seconds=0)
    try:
        time.sleep(1.0)
        calls_in_a_second = queue.calls
    finally:
        puller.stop()
    # 0.1 s, then 0.2, 0.4... (each within ±50%): at most 6 calls in the first second.
    assert 2 <= calls_in_a_second <= 6, calls_in_a_second
    assert pykka.ActorRegistry.get_all() == []


def test_the_backoff_doubles_to_its_cap_with_jitter():
    delays = [RECEIVE_BACKOFF.delay(n) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        plain = min(5.0, 0.1 * 2 ** (n - 1))
        assert 0.5 * plain <= delay <= 1.5 * plain
