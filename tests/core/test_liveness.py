"""The one rule of a lost encoder (model/liveness.py), as the claim and the
Reaper both use it."""

import datetime

import pytest

from nommer.core.model.jobs import Job, State
from nommer.core.model.liveness import encoder_lost, given_back, owner_lost

LEASE = 60.0


def at(seconds_ago, now):
    return (now - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_in(state, heartbeat_ago, now, updated_ago=1000.0):
    job = Job.new("file:///in.mp4", [{"destination": "file:///out.mp4", "preset": "mp4-h264-360p"}])
    return Job.from_dict({**job.to_dict(), "state": state.value, "encoder_id": "enc-1",
                          "updated_at": at(updated_ago, now),
                          "heartbeat_at": None if heartbeat_ago is None else at(heartbeat_ago, now)})


NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("state", [State.DOWNLOADING, State.ENCODING, State.UPLOADING])
def test_a_running_job_is_lost_only_past_the_lease_since_its_heartbeat(state):
    assert not owner_lost(job_in(state, 5, NOW), LEASE, NOW)
    assert not owner_lost(job_in(state, LEASE, NOW), LEASE, NOW)
    assert owner_lost(job_in(state, LEASE + 1, NOW), LEASE, NOW)


def test_without_a_heartbeat_the_last_write_counts():
    assert not owner_lost(job_in(State.ENCODING, None, NOW, updated_ago=10), LEASE, NOW)
    assert owner_lost(job_in(State.ENCODING, None, NOW, updated_ago=LEASE + 1), LEASE, NOW)


def test_a_job_with_no_time_at_all_is_lost():
    job = job_in(State.ENCODING, None, NOW)
    job = Job.from_dict({**job.to_dict(), "updated_at": ""})
    assert owner_lost(job, LEASE, NOW)


@pytest.mark.parametrize("state", [State.PENDING, State.FINISHED, State.ERROR, State.CANCELED])
def test_a_job_not_running_has_no_owner_to_lose(state):
    assert not owner_lost(job_in(state, 10_000, NOW), LEASE, NOW)


def test_an_encoder_record_is_lost_after_three_heartbeats_and_half_a_lease():
    limit = 10 * 3 + LEASE / 2
    assert not encoder_lost({"id": "enc-1", "last_seen": at(limit - 1, NOW)}, 10, LEASE, NOW)
    assert encoder_lost({"id": "enc-1", "last_seen": at(limit + 1, NOW)}, 10, LEASE, NOW)
    assert not encoder_lost({"id": "enc-1", "last_seen": ""}, 10, LEASE, NOW)


@pytest.mark.parametrize("attempt, state, error_code", [
    (1, State.PENDING, None), (2, State.PENDING, None), (3, State.ERROR, "GAVE_UP")])
def test_a_lost_encoders_job_is_tried_again_until_max_attempts_then_gives_up(attempt, state, error_code):
    lost = Job.from_dict({**job_in(State.ENCODING, 500, NOW).to_dict(), "attempt": attempt})
    written = given_back(lost, 3, "encoder enc-1 stopped answering")
    assert (written.state, written.error_code) == (state, error_code)
    if state == State.PENDING:
        assert written.encoder_id is None
        assert written.details == "encoder enc-1 stopped answering; trying again"
    else:
        assert written.details == "gave up after 3 attempts: encoder enc-1 stopped answering"
