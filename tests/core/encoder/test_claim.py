"""Claiming the job of a new-job message (core/encoder/claim.py)."""

from nommer.core.model.jobs import State
from nommer.core.model.messages import message_body

from .kit import ENCODER, LEASE, ago


def test_a_fresh_job_is_claimed(kit):
    job = kit.submit()
    task = kit.claim()(kit.message())
    stored = kit.store.get(job.id)
    assert (stored.state, stored.encoder_id, stored.attempt) == (State.DOWNLOADING, ENCODER, 1)
    assert stored.heartbeat_at and stored.started_at
    assert [o["state"] for o in stored.outputs] == ["PENDING"]
    assert task.id == job.id and task.job == stored
    assert task.workdir == kit.config.work_dir / f"{job.id}-1-{ENCODER}"
    assert kit.tasks.in_flight() == [task]
    assert [(c["job_id"], c["state"]) for c in kit.changes()] == [(job.id, "DOWNLOADING")]
    assert kit.new_jobs.depth() == (0, 1)  # held until the job ends


def test_a_job_whose_encoder_is_alive_is_left_to_it(kit):
    job = kit.held_by(kit.submit(), "enc-other", ago(1))
    assert kit.claim()(kit.message()) is None
    stored = kit.store.get(job.id)
    assert (stored.state, stored.encoder_id, stored.version) == (State.ENCODING, "enc-other", job.version)
    assert kit.tasks.in_flight() == []
    assert kit.new_jobs.depth() == (0, 1)  # comes back after its lease, not deleted


def test_the_job_of_a_silent_encoder_is_taken_over(kit):
    job = kit.held_by(kit.submit(), "enc-other", ago(LEASE + 5))
    task = kit.claim()(kit.message())
    stored = kit.store.get(job.id)
    assert task is not None
    assert (stored.state, stored.encoder_id, stored.attempt) == (State.DOWNLOADING, ENCODER, 2)
    assert [h[0] for h in stored.history][-2:] == ["PENDING", "DOWNLOADING"]


def test_a_silent_encoders_job_past_its_attempts_gives_up(kit):
    job = kit.held_by(kit.submit(), "enc-other", ago(LEASE + 5))
    job = kit.store.update(job.with_changes(attempt=kit.config.max_attempts, heartbeat_at=ago(LEASE + 5)))
    assert kit.claim()(kit.message()) is None
    stored = kit.store.get(job.id)
    assert (stored.state, stored.error_code) == (State.ERROR, "GAVE_UP")
    assert stored.details.startswith(f"gave up after {kit.config.max_attempts} attempts: encoder enc-other")
    assert "ERROR" in [c["state"] for c in kit.changes()]
    assert kit.new_jobs.depth() == (0, 0)


def test_a_canceled_job_is_not_claimed_and_its_message_goes(kit):
    job = kit.submit()
    kit.store.update(job.transition(State.CANCELED, details="canceled by request"))
    assert kit.claim()(kit.message()) is None
    assert kit.store.get(job.id).state == State.CANCELED
    assert kit.new_jobs.depth() == (0, 0)
    # Said again: its encoder may have died before telling the feeder.
    assert [(c["job_id"], c["state"]) for c in kit.changes()] == [(job.id, "CANCELED")]


def test_a_second_delivery_of_a_job_here_is_ignored(kit):
    job = kit.submit()
    first = kit.claim()(kit.message())
    kit.new_jobs.send(message_body(job.id))
    assert kit.claim()(kit.message()) is None
    assert kit.tasks.in_flight() == [first]
    assert kit.store.get(job.id).attempt == 1


def test_a_message_of_no_job_or_unreadable_is_dropped(kit):
    kit.new_jobs.send(message_body("no-such-job"))
    kit.new_jobs.send("not json")
    claim = kit.claim()
    assert claim(kit.message()) is None
    assert claim(kit.message()) is None
    assert kit.new_jobs.depth() == (0, 0)
