"""A submission whose job is stored but whose queue message cannot be
written in the request's time (the store and the queue in different places,
as on AWS; here the queue's SQLite file is kept locked by another
connection) is answered as kept (QueueingLate: a 202), not as failed: the
job is stored once, and the Dispatcher queues it once the queue takes
writes again. A client that hears 503 would submit it twice."""

import json
import sqlite3

import pykka
import pytest

from nommer.actors.dispatcher import Dispatcher
from nommer.actors.gateway import ActorGateway
from nommer.core import config as config_mod
from nommer.core.adapters.local_storage import FileStorage
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.errors import QueueingLate, TransientError
from nommer.core.feeder.intake import Intake
from nommer.core.feeder.service import JobService
from nommer.core.ports.storage import StorageRouter

from ..e2e.farm import wait_for


@pytest.fixture
def parts(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "in.mov").write_bytes(b"not really a movie")
    store = SqliteJobStore(tmp_path / "store" / "jobs.sqlite3")
    queue_file = str(tmp_path / "queues" / "queues.sqlite3")
    new_jobs, changes = SqliteWorkQueue(queue_file, "new-jobs"), SqliteWorkQueue(queue_file, "changes")
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "state_check_interval": 0.2})
    dispatcher = Dispatcher.start(config, new_jobs, changes)
    intake = Intake(JobService(store, StorageRouter([FileStorage([media])])), new_jobs, changes)
    assert intake.joint is None  # apart: the job and its message are two writes
    try:
        yield store, new_jobs, queue_file, intake, media
    finally:
        dispatcher.stop()
        pykka.ActorRegistry.stop_all()
        new_jobs.close()
        changes.close()
        store.close()


def submission(media, name):
    return (f"file://{media}/in.mov", [{"destination": f"file://{media}/{name}.mp4", "preset": "mp4-h264-480p"}])


def test_a_stored_job_whose_queue_is_locked_is_kept_and_queued_once_the_lock_goes(parts):
    store, new_jobs, queue_file, intake, media = parts
    gateway = ActorGateway(timeout=0.5, intake=intake)
    other = sqlite3.connect(queue_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write to the queues' file
    try:
        with pytest.raises(QueueingLate) as kept:
            gateway.submit(*submission(media, "late"))
    finally:
        other.rollback()
        other.close()
    job = kept.value.job
    assert "locked" in kept.value.reason or "busy" in kept.value.reason
    assert [j.id for j in store.unfinished()] == [job.id]  # stored once
    # The Dispatcher writes the message once the file takes writes again.
    wait_for(lambda: new_jobs.depth() == (1, 0), 30, "the Dispatcher to queue the job")
    [message] = new_jobs.receive(max_messages=10)
    assert json.loads(message.body)["job_id"] == job.id

    # The next submission, with the lock gone, is stored and queued at once.
    again = gateway.submit(*submission(media, "on-time"))
    assert [json.loads(m.body)["job_id"] for m in new_jobs.receive(max_messages=10)] == [again.id]


def test_a_store_that_stays_locked_refuses_the_submission_and_keeps_nothing(parts, tmp_path):
    store, new_jobs, _queue_file, intake, media = parts
    gateway = ActorGateway(timeout=0.5, intake=intake)
    other = sqlite3.connect(tmp_path / "store" / "jobs.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TransientError):
            gateway.submit(*submission(media, "refused"))
    finally:
        other.rollback()
        other.close()
    assert store.unfinished() == []
    assert new_jobs.depth() == (0, 0)
