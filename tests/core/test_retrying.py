"""Retries over the real SQLite adapters with injected faults: every call
comes through, and a write whose first try took effect is not done twice."""

import pytest

from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.errors import StaleWrite, TransientError
from nommer.core.model.jobs import Job, State
from nommer.core.retrying import RetryingQueue, RetryingStore, retry
from nommer.testing.faults import Faults, Faulty, QUEUE_CALLS, STORE_CALLS


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch):
    monkeypatch.setattr("nommer.core.retrying.FIRST_PAUSE", 0.001)


@pytest.fixture
def faulty_store(tmp_path):
    inner = SqliteJobStore(tmp_path / "db")
    yield RetryingStore(Faulty(inner, STORE_CALLS, Faults(0.3, seed=3), "job store")), inner
    inner.close()


def new_job(n):
    return Job.new("file:///a.mp4", [{"destination": f"file:///o{n}.mp4", "preset": "p"}])


def test_creates_and_updates_come_through_exactly_once(faulty_store):
    store, inner = faulty_store
    jobs = [store.create(new_job(n)) for n in range(100)]
    assert inner.counts() == {"PENDING": 100}
    for job in jobs:
        moved = store.update(job.transition(State.DOWNLOADING, encoder_id="e"))
        assert moved.version == 2
        assert inner.get(job.id).version == 2  # one write, not two


def test_a_real_stale_write_still_loses(faulty_store):
    store, inner = faulty_store
    job = store.create(new_job(0))
    inner.update(job.transition(State.CANCELED))
    with pytest.raises(StaleWrite):
        store.update(job.transition(State.DOWNLOADING))


def test_queue_calls_come_through(tmp_path):
    inner = SqliteWorkQueue(tmp_path / "db", "q", visibility_timeout=30)
    queue = RetryingQueue(Faulty(inner, QUEUE_CALLS, Faults(0.3, seed=5), "queue"))
    for n in range(50):
        queue.send(str(n))
    visible, _ = inner.depth()
    assert 50 <= visible <= 75  # a send retried after it took effect adds a duplicate
    inner.close()


def test_gives_up_after_the_attempts_with_the_reason():
    calls = []

    def always():
        calls.append(1)
        raise TransientError("database x stayed locked")

    with pytest.raises(TransientError, match="thing failed 3 times: database x stayed locked"):
        retry(always, "thing", attempts=3, first_pause=0.001)
    assert len(calls) == 3


def test_a_write_that_went_through_is_recognised_whatever_the_round_trip(tmp_path):
    """The store gives back lists where the record held tuples; the write is
    still known for ours by its version and change time."""
    inner = SqliteJobStore(tmp_path / "db")
    faults = Faults(0.0)
    store = RetryingStore(Faulty(inner, STORE_CALLS, faults, "job store"))
    job = store.create(new_job(0))
    moved = job.transition(State.DOWNLOADING, probe={"streams": ({"index": 0},), "duration": 1.0})
    calls = {"n": 0}

    def roll():  # the update goes through, then "times out"; nothing else fails
        calls["n"] += 1
        return "after" if calls["n"] == 1 else None

    faults.roll = roll
    stored = store.update(moved)
    assert stored.version == 2 and stored.state == State.DOWNLOADING
    assert inner.get(job.id).version == 2
    inner.close()
