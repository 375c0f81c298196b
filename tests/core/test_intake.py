"""The Intake checks, stores and queues a submission in the caller's thread:
when it returns, the job and its queue message are committed; a refused
submission leaves nothing behind. Real SQLite, real files."""

import json
import threading

import pytest

from nommer.core.adapters.local_storage import FileStorage
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.model.jobs import Job
from nommer.core.model.messages import job_id_of
from nommer.core.retrying import RetryingQueue, RetryingStore
from nommer.core.errors import AlreadyExists
from nommer.core.errors import InvalidInput
from nommer.core.feeder.intake import Intake
from nommer.core.feeder.service import JobService
from nommer.core.ports.storage import StorageRouter


@pytest.fixture
def media(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "in.mov").write_bytes(b"not really a movie")
    return folder


@pytest.fixture(params=["one file", "two files"])
def intake(request, tmp_path, media):
    """Store and queues in one SQLite file, wrapped in retries as the
    feeder has them (a job and its messages commit together), or the
    queues in a file of their own (the message is sent after the job)."""
    path = tmp_path / "data" / "nommer.sqlite3"
    queue_path = path if request.param == "one file" else tmp_path / "queues" / "queues.sqlite3"
    store = RetryingStore(SqliteJobStore(path))
    new_jobs = RetryingQueue(SqliteWorkQueue(queue_path, "new-jobs"))
    state_changes = RetryingQueue(SqliteWorkQueue(queue_path, "state-changes"))
    service = JobService(store, StorageRouter([FileStorage([media])]))
    intake = Intake(service, new_jobs, state_changes)
    assert (intake.joint is not None) == (request.param == "one file")
    yield intake
    for part in (new_jobs, state_changes, store):
        part.close()


def outputs(media, name):
    return [{"destination": f"file://{media}/{name}.mp4", "preset": "mp4-h264-360p"}]


def test_a_submission_is_stored_and_queued_when_the_calls_return(intake, media):
    with intake.new_jobs.inner.bell.listen() as bell:
        job = intake.store(f"file://{media}/in.mov", outputs(media, "a"), priority=7)
        assert intake.service.store.get(job.id).state.value == "PENDING"
        if intake.joint:
            # committed with the job; its receivers are not woken yet
            assert intake.new_jobs.depth() == (1, 0)
        else:
            assert intake.new_jobs.depth() == (0, 0)  # stored, not yet queued
        assert not bell.wait(0)

        intake.queue(job)
        assert bell.wait(5)

    [message] = intake.new_jobs.receive()
    assert job_id_of(message.body) == job.id
    assert intake.state_changes.depth() == (0, 0)  # no webhook, no change to tell


def test_a_webhooks_pending_change_is_queued_before_the_job(intake, media):
    job = intake.store(f"file://{media}/in.mov", outputs(media, "b"), notify_url="https://app.example/hook")
    intake.queue(job)

    [change] = intake.state_changes.receive()
    [work] = intake.new_jobs.receive()
    assert json.loads(change.body) == {"job_id": job.id, "state": "PENDING", "details": "",
                                       "at": job.updated_at, "origin": "job_tracker"}
    # the change was committed first: an encoder's DOWNLOADING cannot overtake it
    assert int(change.id) < int(work.id)


def test_a_refused_submission_stores_and_queues_nothing(intake, media):
    with pytest.raises(InvalidInput) as refused:
        intake.store(f"file://{media}/in.mov", [{"destination": f"file://{media}/in.mov",
                                                  "preset": "mp4-h264-360p"}])
    assert refused.value.field == "outputs[0].destination"
    assert intake.service.store.counts() == {}
    assert intake.new_jobs.depth() == (0, 0)


def test_submissions_from_many_threads_are_each_stored_and_queued_once(intake, media):
    answered, lock = [], threading.Lock()

    def submit(worker):
        for n in range(10):
            job = intake.store(f"file://{media}/in.mov", outputs(media, f"{worker}-{n}"))
            intake.queue(job)
            with lock:
                answered.append(job.id)

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(set(answered)) == 80
    assert intake.service.store.counts() == {"PENDING": 80}
    queued = []
    while batch := intake.new_jobs.receive(max_messages=10):
        queued += [job_id_of(m.body) for m in batch]
    assert sorted(queued) == sorted(answered)


def test_a_job_and_its_messages_commit_together_or_not_at_all(tmp_path):
    path = tmp_path / "nommer.sqlite3"
    store = SqliteJobStore(path)
    new_jobs = SqliteWorkQueue(path, "new-jobs")
    elsewhere = SqliteWorkQueue(tmp_path / "other.sqlite3", "new-jobs")
    try:
        assert store.queues_here(new_jobs, RetryingQueue(new_jobs)) == (new_jobs, new_jobs)
        assert store.queues_here(new_jobs, elsewhere) is None
        job = Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-360p"}])
        stored = store.create_queued(job, lambda s: [(new_jobs, f"first {s.version}", 3)])
        assert stored.version == 1 and store.get(job.id).version == 1
        [message] = new_jobs.receive()
        assert message.body == "first 1"

        # the job is there already: its second message is not written either
        with pytest.raises(AlreadyExists):
            store.create_queued(job, lambda s: [(new_jobs, "second", 0)])
        # a message for a queue in another file: the job is not written either
        other = Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4", "preset": "mp4-h264-360p"}])
        with pytest.raises(ValueError, match="is not in"):
            store.create_queued(other, lambda s: [(new_jobs, "b", 0), (elsewhere, "b", 0)])
        assert store.counts() == {"PENDING": 1}
        assert new_jobs.depth() == (0, 1) and elsewhere.depth() == (0, 0)
    finally:
        for part in (new_jobs, elsewhere, store):
            part.close()
