"""The one way nommer waits before trying again: exponential backoff.

Every retry in the code takes its pauses from here: store and queue calls,
downloads and uploads, webhook deliveries, restarts of crashed actors, EC2
launches, the encoder's queue reads. A fix here fixes them all.
"""

import random


class Backoff:
    """Pauses of ``first`` seconds, doubled after each failure, never above
    ``cap``; with ``jitter`` j, each pause is spread uniformly over
    (1 - j, 1 + j) times itself, so that many callers failing together do
    not come back together."""

    def __init__(self, first, cap=float("inf"), jitter=0.5, rng=random):
        if first < 0 or cap < first or not 0 <= jitter <= 1:
            raise ValueError(f"backoff: need 0 <= first <= cap and 0 <= jitter <= 1, got {first}, {cap}, {jitter}")
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.rng = rng

    def delay(self, failures):
        """The pause after the ``failures``-th failure in a row (1 for the first)."""
        plain = min(self.cap, self.first * 2 ** max(0, min(failures - 1, 64)))
        if not self.jitter:
            return plain
        return plain * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def delays(self):
        """The pauses after the first, second... failure, without end."""
        failures = 0
        while True:
            failures += 1
            yield self.delay(failures)
