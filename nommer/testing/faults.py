"""Fault injection around the store and queue adapters, for reliability tests.

With ``adapter_hook = "nommer.testing.faults"`` and ``fault_rate = 0.1``
(NOMMER_ADAPTER_HOOK, NOMMER_FAULT_RATE), the feeder and every encoder it
starts put ``wrap_adapters`` around the adapters they build (nommer's core
knows this module only by the name the setting gives), and one call in ten
to the job store or a work queue fails with the error the embedded adapters
really raise when SQLite stays locked (TransientError). Half of those fail before the call
reaches the adapter; the other half after it took effect, as a network
timeout does, so that a caller's retry meets its own earlier write.
"""

import random
import threading

from nommer.core.errors import TransientError

STORE_CALLS = ("create", "get", "update", "list", "unfinished", "counts",
               "heartbeat", "encoders", "forget_encoder")
QUEUE_CALLS = ("send", "receive", "extend", "delete", "release", "depth")


class Faults:
    def __init__(self, rate, seed=None):
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = 0

    def roll(self):
        """None, "before" or "after"."""
        with self._lock:
            x = self._random.random()
            if x >= self.rate:
                return None
            self.injected += 1
            return "before" if x < self.rate / 2 else "after"


class Faulty:
    """Wraps an adapter; the named calls fail now and then."""

    def __init__(self, inner, calls, faults, what):
        self._inner = inner
        self._calls = frozenset(calls)
        self._faults = faults
        self._what = what

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in self._calls:
            return attr

        def call(*args, **kwargs):
            when = self._faults.roll()
            if when == "before":
                raise TransientError(f"{self._what} stayed locked (injected, before {name})")
            result = attr(*args, **kwargs)
            if when == "after":
                raise TransientError(f"{self._what} stayed locked (injected, after {name})")
            return result

        return call


def wrap(backends, rate, seed=None):
    """The same backends with faults injected into the store and the queues."""
    faults = Faults(rate, seed)
    backends.store = Faulty(backends.store, STORE_CALLS, faults, "job store")
    backends.new_jobs = Faulty(backends.new_jobs, QUEUE_CALLS, faults, "new-job queue")
    backends.state_changes = Faulty(backends.state_changes, QUEUE_CALLS, faults, "state-change queue")
    backends.faults = faults
    return backends


def wrap_adapters(backends, config):
    """The hook the ``adapter_hook`` setting names: faults at ``fault_rate``."""
    if config.fault_rate <= 0:
        return backends
    return wrap(backends, config.fault_rate)
