import pytest

from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.errors import TransientError
from nommer.core.model.jobs import Job
from nommer.testing.faults import Faults, Faulty, QUEUE_CALLS, STORE_CALLS


def test_faults_hit_about_the_rate_and_both_sides(tmp_path):
    store = Faulty(SqliteJobStore(tmp_path / "db"), STORE_CALLS, Faults(0.2, seed=7), "job store")
    before = after = ok = 0
    for n in range(500):
        job = Job.new("file:///a.mp4", [{"destination": f"file:///o{n}.mp4", "preset": "p"}])
        try:
            store.create(job)
            ok += 1
        except TransientError as e:
            assert "job store stayed locked (injected" in str(e)
            if "after create" in str(e):
                after += 1
                assert store._inner.get(job.id).id == job.id  # it took effect
            else:
                before += 1
    assert 60 <= before + after <= 140
    assert before > 20 and after > 20
    assert ok + before + after == 500
    assert store._inner.counts()["PENDING"] == ok + after


def test_calls_outside_the_port_pass_through(tmp_path):
    queue = Faulty(SqliteWorkQueue(tmp_path / "db", "q"), QUEUE_CALLS, Faults(1.0, seed=1), "queue")
    with pytest.raises(TransientError):
        queue.send("x")
    queue.close()  # not a port call: never fails
