"""The new-job queue's dead letters: SQS moves a message there after too many
receives, and the Reaper ends its job in ERROR (GAVE_UP)."""

import json

import pytest

from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.adapters.sqs_queue import SqsWorkQueue
from nommer.core.model.messages import message_body
from nommer.core.model.jobs import Job, State, utcnow
from nommer.core.feeder.reaping import Reaping

MAX_ATTEMPTS = 2


@pytest.fixture
def store(tmp_path):
    store = SqliteJobStore(tmp_path / "nommer.sqlite3")
    yield store
    store.close()


@pytest.fixture
def queue(aws_endpoint, unique):
    queue = SqsWorkQueue(f"{unique}-new-jobs", max_receives=MAX_ATTEMPTS)
    yield queue
    queue.close()


@pytest.fixture
def config():
    return config_mod.load(environ={}, overrides={"max_attempts": MAX_ATTEMPTS})


def new_job(store):
    return store.create(Job.new("file:///in.mov", [{"destination": "file:///o.mp4",
                                                    "preset": "h264"}]))


def dead_letter(queue, job):
    """Send the job's message and receive it until SQS gives up on it."""
    queue.send(message_body(job.id))
    for _ in range(MAX_ATTEMPTS):
        assert len(queue.receive(visibility_timeout=0)) == 1
    # SQS moves the message when a receive finds its count used up.
    assert queue.receive(visibility_timeout=0) == []


def test_a_created_queue_has_a_dead_letter_queue_taking_max_receives(queue, unique):
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(f":{unique}-new-jobs-dead")
    assert int(policy["maxReceiveCount"]) == MAX_ATTEMPTS


def test_the_dead_letter_queue_is_found_again_by_a_new_queue_object(queue, store, unique):
    job = new_job(store)
    dead_letter(queue, job)
    again = SqsWorkQueue(f"{unique}-new-jobs", max_receives=MAX_ATTEMPTS)
    try:
        [letter] = again.dead_letters()
        assert json.loads(letter.body) == {"job_id": job.id}
        assert letter.receive_count == MAX_ATTEMPTS
        assert again.forget_dead_letter(letter.receipt)
        assert again.dead_letters() == []
    finally:
        again.close()


def test_reaper_ends_a_dead_lettered_job_in_error(queue, store, config):
    job = new_job(store)
    dead_letter(queue, job)

    result = Reaping(config, store, queue).sweep()

    [failed] = result.failed
    stored = store.get(job.id)
    assert failed.id == job.id and stored.state == State.ERROR
    assert stored.error_code == "GAVE_UP"
    assert stored.details == (f"gave up: its queue message was received {MAX_ATTEMPTS} "
                              "times without finishing")
    assert queue.dead_letters() == []  # drained


def test_final_jobs_and_jobs_at_work_are_left_alone(queue, store, config):
    finished = new_job(store)
    finished = store.update(finished.transition(State.CANCELED, details="user"))
    working = new_job(store)
    working = store.update(working.transition(State.DOWNLOADING, encoder_id="enc-1",
                                              attempt=1, heartbeat_at=utcnow()))
    for job in (finished, working):
        dead_letter(queue, job)

    result = Reaping(config, store, queue).sweep()

    assert result.failed == []
    assert store.get(finished.id).state == State.CANCELED
    assert store.get(working.id).state == State.DOWNLOADING
    assert queue.dead_letters() == []


def test_a_queue_without_dead_letters_sweeps_as_before(store, config, tmp_path):
    local = SqliteWorkQueue(tmp_path / "nommer.sqlite3", "new-jobs")
    try:
        assert local.dead_letters() == []
        job = new_job(store)
        assert Reaping(config, store, local).sweep().failed == []
        assert store.get(job.id).state == State.PENDING
    finally:
        local.close()


def test_an_existing_queue_without_dead_letter_queue_is_used_as_it_is(aws_endpoint, unique):
    plain = SqsWorkQueue(f"{unique}-plain")  # created without one
    try:
        reopened = SqsWorkQueue(f"{unique}-plain", max_receives=3)
        assert reopened.url == plain.url
        assert reopened.dead_letters() == []
        reopened.close()
    finally:
        plain.close()
