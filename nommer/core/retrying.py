"""Retries of store and queue calls that failed for a passing reason.

Every adapter is wrapped in these, whatever the backend: a TransientError
(SQLite locked too long, DynamoDB, SimpleDB or SQS throttling, a timeout) is retried with
exponential backoff and jitter. A retried write may meet its own first try,
which took effect before the error came back; these wrappers recognise that
and answer as if the first try had succeeded.
"""

import contextlib
import dataclasses
import threading
import time

from nommer.core import log
from nommer.core.backoff import Backoff
from nommer.core.errors import AlreadyExists, StaleWrite, TransientError

ATTEMPTS = 6
FIRST_PAUSE = 0.05
_log = log.get("nommer.retrying")


_limits = threading.local()  # .until: this thread's deadline (time.monotonic), or None


@contextlib.contextmanager
def deadline(seconds):
    """Within it, this thread's store and queue calls give up with a
    TransientError once ``seconds`` have passed (a SQLite file that stays
    locked, a service that keeps throttling) instead of trying again for as
    long as they otherwise would: a thread that must answer someone (an
    HTTP request's) answers in time. An outer deadline that comes first holds."""
    before = getattr(_limits, "until", None)
    until = time.monotonic() + seconds
    _limits.until = until if before is None else min(before, until)
    try:
        yield
    finally:
        _limits.until = before


def deadline_at():
    """This thread's deadline (a time.monotonic() time), None without one."""
    return getattr(_limits, "until", None)


def retry(call, what, attempts=ATTEMPTS, first_pause=None):
    """``call()`` until it does not raise TransientError, at most ``attempts``
    times, pausing ``first_pause`` seconds (doubled each time, with jitter);
    not past this thread's :func:`deadline`."""
    backoff = Backoff(FIRST_PAUSE if first_pause is None else first_pause)
    last = None
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientError as error:
            last = error
            if attempt == attempts:
                break
            pause = backoff.delay(attempt)
            until = deadline_at()
            if until is not None and time.monotonic() + pause >= until:
                raise TransientError(f"{what} gave up after {attempt} tries: {error}") from None
            _log.info("retrying", call=what, attempt=attempt, error=str(error))
            time.sleep(pause)
    raise TransientError(f"{what} failed {attempts} times: {last}")


def is_our_write(current, written):
    """Whether the stored ``current`` is ``written`` having gone through.

    A record is known by its state and its change time (to the microsecond),
    not compared whole: a store's round trip may turn tuples into lists, and
    a later write that records a webhook delivery bumps the version without
    changing either.
    """
    return (current.state == written.state and current.updated_at == written.updated_at
            and current.version >= written.version)


class RetryingStore:
    """A JobStore whose calls are retried; see the module."""

    def __init__(self, inner):
        self.inner = inner

    def create(self, job):
        return self._create(job, lambda: self.inner.create(job))

    def create_queued(self, job, messages):
        """The inner store's create_queued (job and messages in one
        transaction), retried as create is."""
        return self._create(job, lambda: self.inner.create_queued(job, messages))

    def _create(self, job, create):
        tried = []

        def call():
            try:
                stored = create()
            except AlreadyExists:
                if not tried:
                    raise
                # an earlier try that "failed" may have stored it
                stored = self.inner.get(job.id)
                if stored.created_at != job.created_at or stored.version != 1:
                    raise
            finally:
                tried.append(True)
            return stored

        return retry(call, f"create job {job.id}")

    def update(self, job):
        expected = dataclasses.replace(job, version=job.version + 1)
        tried = []

        def call():
            try:
                return self.inner.update(job)
            except StaleWrite:
                if not tried:
                    raise
                current = self.inner.get(job.id)
                if not is_our_write(current, expected):
                    raise
                return current  # our earlier try went through
            finally:
                tried.append(True)

        return retry(call, f"update job {job.id}")

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in ("close",) or not callable(attr):
            return attr
        return lambda *a, **k: retry(lambda: attr(*a, **k), name)


class RetryingQueue:
    """A WorkQueue whose calls are retried. A retried send may queue a
    message twice; every consumer of nommer's queues takes duplicates."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in ("close",) or not callable(attr):
            return attr
        return lambda *a, **k: retry(lambda: attr(*a, **k), name)
