"""The Intake checks, stores and queues a submission in the caller's thread:
when it returns, the job and its queue message are committed; a refused
submission leaves nothing behind. Real SQLite, real files."""

import json
import threading

import pytest

from nommer.core.adapters.local_storage import FileStorage
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.model.messages import job_id_of
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


@pytest.fixture
def intake(tmp_path, media):
    path = tmp_path / "data" / "nommer.sqlite3"
    store = SqliteJobStore(path)
    new_jobs = SqliteWorkQueue(path, "new-jobs")
    state_changes = SqliteWorkQueue(path, "state-changes")
    service = JobService(store, StorageRouter([FileStorage([media])]))
    yield Intake(service, new_jobs, state_changes)
    for part in (new_jobs, state_changes, store):
        part.close()


def outputs(media, name):
    return [{"destination": f"file://{media}/{name}.mp4", "preset": "mp4-h264-360p"}]


def test_a_submission_is_stored_and_queued_when_the_calls_return(intake, media):
    job = intake.store(f"file://{media}/in.mov", outputs(media, "a"), priority=7)
    assert intake.service.store.get(job.id).state.value == "PENDING"
    assert intake.new_jobs.depth() == (0, 0)  # stored, not yet queued

    intake.queue(job)

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
