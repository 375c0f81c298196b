"""Jobs that reached a final state more than ``retention_days`` ago are
deleted: by SQLite and SimpleDB here (DynamoDB's TTL does it there; see
tests/aws/test_dynamodb_store.py); unfinished and recent jobs stay."""

import dataclasses
import uuid

import boto3
import botocore.config
import pytest

from nommer.core.adapters.aws import RETRIES
from nommer.core.adapters.simpledb_store import SimpleDbJobStore
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.errors import NotFound
from nommer.core.model.jobs import Job, State

LONG_AGO = "2020-01-01T00:00:00.000000Z"


def new_job(n):
    return Job.new(f"file:///in/{n}.mov", [{"destination": f"file:///o/{n}.mp4", "preset": "h264"}])


@pytest.fixture(scope="module")
def simpledb_client():
    from nommer.testing.simpledb import start_server

    server, url = start_server(port=0)
    yield boto3.client("sdb", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test", config=botocore.config.Config(retries=RETRIES))
    server.stop()


def make_store(kind, tmp_path, client, days):
    if kind == "sqlite":
        return SqliteJobStore(tmp_path / f"nommer-{days}.sqlite3", retention_days=days)
    return SimpleDbJobStore(f"t{uuid.uuid4().hex[:12]}", client=client, retention_days=days)


def finished_long_ago(store, n, state=State.FINISHED):
    job = store.create(new_job(n))
    if state in (State.FINISHED, State.ERROR):
        job = store.update(job.transition(State.DOWNLOADING))
        if state == State.FINISHED:
            job = store.update(store.update(job.transition(State.ENCODING))
                               .transition(State.UPLOADING))
    # finished (SQLite's measure) and last changed (SimpleDB's) long ago
    done = dataclasses.replace(job.transition(state, finished_at=LONG_AGO), updated_at=LONG_AGO)
    return store.update(done)


@pytest.fixture(params=["sqlite", "simpledb"])
def kind(request):
    return request.param


def test_old_final_jobs_go_and_the_others_stay(kind, tmp_path, simpledb_client):
    store = make_store(kind, tmp_path, simpledb_client, days=30)
    old = [finished_long_ago(store, n, state) for n, state in
           enumerate([State.FINISHED, State.ERROR, State.CANCELED, State.ABANDONED])]
    pending = store.create(dataclasses.replace(new_job(10), created_at=LONG_AGO,
                                               updated_at=LONG_AGO))
    recent = store.create(new_job(11))
    recent = store.update(recent.transition(State.CANCELED))

    assert store.purge_expired() == 4

    for job in old:
        with pytest.raises(NotFound):
            store.get(job.id)
    assert store.get(pending.id) == pending and store.get(recent.id) == recent
    assert store.purge_expired() == 0


def test_a_create_purges_at_most_once_in_a_while(kind, tmp_path, simpledb_client):
    store = make_store(kind, tmp_path, simpledb_client, days=1)
    # First create of this store: it looks (and finds nothing).
    first = finished_long_ago(store, 0)
    # The next creates do not look again within the hour.
    second = finished_long_ago(store, 1)
    assert {j.id for j in store.list()[0]} == {first.id, second.id}

    store._next_purge = 0.0  # an hour has passed
    third = store.create(new_job(2))
    assert [j.id for j in store.list()[0]] == [third.id]


def test_retention_zero_keeps_every_job(kind, tmp_path, simpledb_client):
    store = make_store(kind, tmp_path, simpledb_client, days=0)
    job = finished_long_ago(store, 0)
    store._next_purge = 0.0
    store.create(new_job(1))

    assert store.purge_expired() == 0
    assert store.get(job.id) == job


def test_simpledb_deletes_in_bounded_batches(tmp_path, simpledb_client):
    store = make_store("simpledb", tmp_path, simpledb_client, days=30)
    for n in range(30):
        finished_long_ago(store, n)
    assert len(store.list(limit=50)[0]) == 30

    assert store.purge_expired(batches=1) == 25
    assert len(store.list(limit=50)[0]) == 5
    assert store.purge_expired(batches=1) == 5
    assert store.list(limit=50)[0] == []


def test_a_backlog_is_deleted_over_several_creates(kind, tmp_path, simpledb_client, monkeypatch):
    import nommer.core.adapters.simpledb_store as simpledb_mod
    import nommer.core.adapters.sqlite_store as sqlite_mod

    module = sqlite_mod if kind == "sqlite" else simpledb_mod
    monkeypatch.setattr(module, "PURGE_BATCHES", 1)
    monkeypatch.setattr(module, "PURGE_BATCH", 2)
    store = make_store(kind, tmp_path, simpledb_client, days=30)
    store.retention_days = 0  # fill without purging
    for n in range(5):
        finished_long_ago(store, n)
    store.retention_days = 30

    left = []
    for n in range(4):  # each create deletes one round of 2 while some remain
        store.create(new_job(10 + n))
        left.append(sum(1 for j in store.list(limit=50)[0] if j.is_final))
    assert left == [3, 1, 0, 0]
