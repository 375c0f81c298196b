"""The Reaper's sweep over a real SQLite store: running jobs are looked at
every sweep, the PENDING ones (which can only be abandoned, and of which a
long queue holds thousands) only every twentieth of abandon_after, and then
only those the store finds unchanged for abandon_after."""

import dataclasses
import datetime

import pytest

from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.feeder.reaping import Reaping
from nommer.core.model.jobs import Job, State


def ago(seconds):
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CountingStore(SqliteJobStore):
    """The real store, counting its looks for idle PENDING jobs, the jobs
    they gave, and its reads of every unfinished job."""

    whole_reads = 0
    idle_looks = 0
    idle_found = 0

    def unfinished(self):
        self.whole_reads += 1
        return super().unfinished()

    def idle(self, states, before):
        self.idle_looks += 1
        found = super().idle(states, before)
        self.idle_found += len(found)
        return found


@pytest.fixture
def store(tmp_path):
    store = CountingStore(tmp_path / "nommer.sqlite3")
    yield store
    store.close()


def new_job(store, n):
    return store.create(Job.new(f"file:///in/{n}.mov", [{"destination": f"file:///o/{n}.mp4",
                                                         "preset": "mp4-h264-480p"}]))


def silent(store, n):
    """A job DOWNLOADING on an encoder silent for ten minutes."""
    job = new_job(store, n)
    return store.update(job.transition(State.DOWNLOADING, encoder_id="enc-1", attempt=1,
                                       heartbeat_at=ago(600)))


def test_pending_jobs_are_read_now_and_then_and_lost_running_ones_at_every_sweep(store, tmp_path):
    config = config_mod.load(environ={}, overrides={
        "data_dir": str(tmp_path), "lease_seconds": 5, "abandon_after": 3600, "reap_interval": 1})
    for n in range(300):
        new_job(store, f"queued-{n}")
    first = silent(store, "first")
    reaping = Reaping(config, store)

    swept = reaping.sweep()
    assert [j.id for j in swept.requeued] == [first.id] and store.idle_looks == 1

    second = silent(store, "second")
    swept = reaping.sweep()
    assert [j.id for j in swept.requeued] == [second.id]
    assert store.idle_looks == 1  # the PENDING ones were not asked for again
    assert store.get(second.id).state == State.PENDING

    reaping._next_whole_look = 0.0  # abandon_after / 20 later
    reaping.sweep()
    assert store.idle_looks == 2
    # None of the 300 fresh PENDING jobs was read, nor every unfinished job.
    assert store.idle_found == 0 and store.whole_reads == 0


def test_only_the_pending_jobs_unchanged_for_abandon_after_are_read_and_abandoned(store, tmp_path):
    config = config_mod.load(environ={}, overrides={
        "data_dir": str(tmp_path), "abandon_after": 3600, "reap_interval": 1})
    fresh = [new_job(store, f"fresh-{n}") for n in range(50)]
    old = Job.new("file:///in/old.mov", [{"destination": "file:///o/old.mp4", "preset": "mp4-h264-480p"}])
    old = store.create(dataclasses.replace(old, created_at=ago(7300), updated_at=ago(7200)))

    swept = Reaping(config, store).sweep()

    assert [j.id for j in swept.abandoned] == [old.id]
    assert store.get(old.id).state == State.ABANDONED
    assert "abandon_after is 3600 s" in store.get(old.id).details
    assert store.idle_found == 1 and store.whole_reads == 0
    assert {store.get(j.id).state for j in fresh} == {State.PENDING}


def test_a_job_stuck_pending_past_abandon_after_is_abandoned_at_the_next_whole_look(store, tmp_path):
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "abandon_after": 1,
                                                    "reap_interval": 0.05})
    job = new_job(store, "stuck")
    import time
    time.sleep(1.2)

    swept = Reaping(config, store).sweep()

    assert [j.id for j in swept.abandoned] == [job.id]
    assert store.get(job.id).state == State.ABANDONED
