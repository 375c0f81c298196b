"""What the Keeper does for the jobs in flight (core/encoder/keeping.py),
and the conditional writes it shares with the steps (core/encoder/journal.py)."""

import dataclasses
import threading
import time

import pytest

from nommer.core.encoder import keeping
from nommer.core.errors import Canceled
from nommer.core.model.jobs import State, parse_time
from nommer.core.model.messages import message_body

from .kit import ENCODER, ago


def test_check_canceled_stops_only_jobs_no_longer_ours(kit):
    canceled, taken, abandoned, ours = (kit.started(out=f"o{i}.mp4") for i in range(4))
    kit.store.update(kit.store.get(canceled.id).transition(State.CANCELED))
    job = kit.store.update(kit.store.get(taken.id).transition(State.PENDING, encoder_id=None))
    kit.store.update(job.transition(State.DOWNLOADING, encoder_id="enc-other"))
    kit.store.update(kit.store.get(abandoned.id).transition(State.ABANDONED))
    keeping.check_canceled(kit.tasks, kit.store, kit.journal)
    assert canceled.cancel.is_set() and taken.cancel.is_set() and abandoned.cancel.is_set()
    assert not ours.cancel.is_set()


class _Reads:
    """The kit's store, counting the jobs read whole."""

    def __init__(self, store):
        self.store, self.read = store, []

    def get(self, job_id):
        self.read.append(job_id)
        return self.store.get(job_id)

    def versions(self, job_ids):
        return self.store.versions(job_ids)


def test_check_canceled_reads_only_the_jobs_that_changed(kit):
    ours, canceled, touched = (kit.started(out=f"o{i}.mp4") for i in range(3))
    kit.store.update(kit.store.get(canceled.id).transition(State.CANCELED))
    # changed by someone else (the feeder's webhook records) but ours still
    job = kit.store.get(touched.id)
    kit.store.update(dataclasses.replace(job, notifications=({"id": "m1"},)))
    store = _Reads(kit.store)

    keeping.check_canceled(kit.tasks, store, kit.journal)

    assert sorted(store.read) == sorted([canceled.id, touched.id])
    assert canceled.cancel.is_set()
    assert not ours.cancel.is_set() and not touched.cancel.is_set()
    # a write of the encoder's own is its task's record: no read either
    before = ours.job.version
    kit.journal.progress(ours, "download", 50)
    assert kit.store.get(ours.id).version == ours.job.version > before
    store.read.clear()
    keeping.check_canceled(kit.tasks, store, kit.journal)
    assert ours.id not in store.read and not ours.cancel.is_set()


def test_a_stopped_task_raises_canceled_at_its_next_progress(kit):
    task = kit.started()
    kit.journal.progress(task, "download", 10)
    task.stop()
    with pytest.raises(Canceled):
        kit.journal.progress(task, "download", 20)


def test_heartbeats_mark_each_job_alive_and_extend_its_lease(kit):
    task = kit.submit()
    kit.new_jobs.send(message_body("another"))  # a message nobody keeps alive
    messages = kit.new_jobs.receive(max_messages=2, visibility_timeout=0.5)
    mine = next(m for m in messages if m.body == message_body(task.id))
    task = kit.claim()(mine)
    kit.store.update(kit.store.get(task.id).with_changes(heartbeat_at=ago(20)))
    task.job = kit.store.get(task.id)
    before = parse_time(task.job.heartbeat_at)
    keeping.heartbeat_jobs(kit.tasks, kit.new_jobs, kit.journal, lease_seconds=60)
    assert parse_time(kit.store.get(task.id).heartbeat_at) > before
    time.sleep(0.6)
    assert kit.new_jobs.depth() == (1, 1)  # the other is back in the queue; ours is held


def test_a_heartbeat_of_a_job_taken_by_another_stops_its_work(kit):
    task = kit.started()
    job = kit.store.update(kit.store.get(task.id).transition(State.PENDING, encoder_id=None))
    kit.store.update(job.transition(State.DOWNLOADING, encoder_id="enc-other"))
    keeping.heartbeat_jobs(kit.tasks, kit.new_jobs, kit.journal, lease_seconds=60)
    assert task.cancel.is_set()
    assert kit.store.get(task.id).encoder_id == "enc-other"  # nothing written over it


def test_heartbeats_and_a_step_writing_at_once_both_land(kit):
    task = kit.started()
    stop = threading.Event()

    def keeper():
        while not stop.is_set():
            keeping.heartbeat_jobs(kit.tasks, kit.new_jobs, kit.journal, lease_seconds=60)

    thread = threading.Thread(target=keeper)
    thread.start()
    try:
        for percent in range(1, 41):
            kit.journal.progress(task, "download", percent)
    finally:
        stop.set()
        thread.join()
    stored = kit.store.get(task.id)
    assert stored.phases["download"] == 40 and stored.encoder_id == ENCODER
    assert not task.cancel.is_set()
