"""How a job leaves the encoder when a step cannot go on
(core/encoder/ending.py)."""

from nommer.core.errors import Canceled, JobFailed
from nommer.core.model.jobs import State
from nommer.core.model.messages import job_id_of

from .kit import ENCODER


def test_fail_ends_the_job_in_error_with_its_code(kit):
    task = kit.started()
    task.notes.extend(["a note", "a note"])
    kit.changes()
    kit.ending().fail(task, JobFailed("the source lasts 0 seconds", code="ZERO_DURATION"))
    stored = kit.store.get(task.id)
    assert (stored.state, stored.error_code, stored.details) == (
        State.ERROR, "ZERO_DURATION", "the source lasts 0 seconds")
    assert stored.notes == ("a note",)
    assert [c["state"] for c in kit.changes()] == ["ERROR"]
    assert kit.new_jobs.depth() == (0, 0)
    assert kit.tasks.stats == {"finished": 0, "failed": 1, "released": 0}


def test_an_unexpected_error_fails_the_job_as_internal(kit):
    task = kit.started()
    kit.ending().end(task, KeyError("width"))
    stored = kit.store.get(task.id)
    assert (stored.state, stored.error_code) == (State.ERROR, "INTERNAL_ERROR")
    assert stored.details == "internal error: KeyError: 'width'"


def test_a_job_canceled_meanwhile_is_aborted_not_failed(kit):
    task = kit.started()
    kit.store.update(kit.store.get(task.id).transition(State.CANCELED, details="canceled by request"))
    kit.ending().end(task, JobFailed("too late", code="ENCODE_FAILED"))
    stored = kit.store.get(task.id)
    assert (stored.state, stored.details) == (State.CANCELED, "canceled by request")
    assert kit.new_jobs.depth() == (0, 0)  # the job is over: its message goes
    assert kit.tasks.in_flight() == [] and kit.tasks.stats["failed"] == 0
    assert not task.workdir.exists()


def test_abort_of_a_job_taken_by_another_encoder_leaves_its_message(kit):
    task = kit.started()
    job = kit.store.get(task.id)
    job = kit.store.update(job.transition(State.PENDING, encoder_id=None))
    kit.store.update(job.transition(State.DOWNLOADING, encoder_id="enc-other"))
    kit.ending().end(task, Canceled("work on the job stopped"))
    assert kit.store.get(task.id).encoder_id == "enc-other"
    assert kit.new_jobs.depth() == (1, 0)  # made visible again at once
    assert kit.tasks.in_flight() == []


def test_release_hands_the_job_back_without_counting_the_attempt(kit):
    task = kit.started()
    task.release_on_cancel = True
    kit.changes()
    kit.ending().end(task, Canceled("work on the job stopped"))
    stored = kit.store.get(task.id)
    assert (stored.state, stored.encoder_id, stored.attempt) == (State.PENDING, None, 0)
    assert stored.details == f"released by encoder {ENCODER} when it stopped"
    assert [c["state"] for c in kit.changes()] == ["PENDING"]
    fresh = kit.new_jobs.receive()
    assert [job_id_of(m.body) for m in fresh] == [task.id]
    assert fresh[0].receipt != task.receipt
    assert kit.new_jobs.depth() == (0, 1)  # only the fresh one: the old one went
    assert kit.tasks.stats["released"] == 1
