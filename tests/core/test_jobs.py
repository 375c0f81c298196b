import pytest

from nommer.core.errors import InvalidTransition
from nommer.core.model.jobs import (
    FINAL_STATES, Job, State, TRANSITIONS, can_transition, new_job_id, parse_time,
)


def make_job():
    return Job.new("file:///tmp/in.mp4", [{"destination": "file:///tmp/out.mp4", "preset": "mp4-h264-480p"}])


def test_new_job_is_pending_with_timestamps():
    job = make_job()
    assert job.state == State.PENDING
    assert job.version == 0 and job.attempt == 0
    assert parse_time(job.created_at) is not None
    assert job.created_at == job.updated_at


def test_ids_sort_by_time_and_are_unique():
    ids = [new_job_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids, key=lambda i: i[:12])
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids)


def test_happy_path_sets_started_and_finished():
    job = make_job()
    job = job.transition(State.DOWNLOADING)
    assert job.started_at
    job = job.transition(State.ENCODING).transition(State.UPLOADING).transition(State.FINISHED)
    assert job.state == State.FINISHED and job.finished_at and job.progress == 100


@pytest.mark.parametrize("current", list(State))
@pytest.mark.parametrize("new", list(State))
def test_transition_table_is_enforced(current, new):
    job = Job.from_dict({**make_job().to_dict(), "state": current.value})
    if new in TRANSITIONS[current]:
        assert job.transition(new).state == new
    else:
        with pytest.raises(InvalidTransition, match=f"from {current.value} to {new.value}"):
            job.transition(new)


def test_final_states_allow_nothing():
    for state in FINAL_STATES:
        assert not any(can_transition(state, other) for other in State)


def test_with_changes_refuses_a_state_change():
    with pytest.raises(ValueError):
        make_job().with_changes(state=State.ERROR)


def test_dict_round_trip_keeps_every_field():
    job = make_job().transition(State.DOWNLOADING, encoder_id="e1", attempt=1, probe={"duration": 2.0})
    again = Job.from_dict(job.to_dict())
    assert again == job


def test_outputs_start_pending_and_finishing_fills_every_phase():
    from nommer.core.model import progress

    job = make_job()
    assert [o["state"] for o in job.outputs] == ["PENDING"]
    assert progress.phases_of(job) == {"download": 0, "encode": 0, "upload": 0}
    for state in (State.DOWNLOADING, State.ENCODING, State.UPLOADING, State.FINISHED):
        job = job.transition(state)
    assert job.progress == 100 and progress.phases_of(job) == progress.done()
    assert Job.from_dict(job.to_dict()) == job


def test_overall_progress_weighs_the_phases():
    from nommer.core.model.progress import overall

    assert overall({"download": 100, "encode": 0, "upload": 0}) == 10
    assert overall({"download": 100, "encode": 50, "upload": 0}) == 50
    assert overall({"download": 100, "encode": 100, "upload": 100}) == 100
    assert overall(None) == 0


@pytest.mark.parametrize("end, left", [("CANCELED", "CANCELED"), ("ERROR", "SKIPPED"), ("ABANDONED", "SKIPPED")])
def test_outputs_under_way_end_with_their_job(end, left):
    job = Job.new("file:///in.mov", [
        {"destination": f"file:///out/{n}.mp4", "preset": "mp4-h264-360p"} for n in range(5)
    ]).transition(State.DOWNLOADING).transition(State.ENCODING)
    states = ["FINISHED", "ERROR", "ENCODING", "UPLOADING", "PENDING"]
    job = job.with_changes(outputs=[{**o, "state": s} for o, s in zip(job.outputs, states)])
    ended = job.transition(end)
    assert [o["state"] for o in ended.outputs] == ["FINISHED", "ERROR", left, left, left]
    assert [o["destination"] for o in ended.outputs] == [o["destination"] for o in job.outputs]


def test_outputs_given_with_the_final_state_are_settled_too():
    job = Job.new("file:///in.mov", [{"destination": "file:///out/a.mp4", "preset": "aac"}])
    ended = job.transition(State.CANCELED, outputs=[{**job.outputs[0], "state": "ENCODING"}])
    assert ended.outputs[0]["state"] == "CANCELED"


def test_history_keeps_the_first_and_the_latest_states_only():
    from nommer.core.model.jobs import MAX_HISTORY

    job = make_job()
    for _ in range(20):  # released and taken again, over and over
        job = job.transition(State.DOWNLOADING).transition(State.PENDING)
    job = job.transition(State.DOWNLOADING).transition(State.ENCODING)
    job = job.with_changes(progress=50)  # progress is no state change

    assert len(job.history) == MAX_HISTORY
    assert job.history[0] == ("PENDING", job.created_at)
    assert [s for s, _ in job.history[-2:]] == ["DOWNLOADING", "ENCODING"]
    assert Job.from_dict(job.to_dict()) == job


def test_records_stored_before_the_history_read_with_an_empty_one():
    data = make_job().to_dict()
    del data["history"]

    assert Job.from_dict(data).history == ()


def test_oldest_pending_counts_from_when_a_job_last_became_pending():
    from nommer.core.model.jobs import oldest_pending, parse_time, pending_since

    new = Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "p"}])
    running = new.transition(State.DOWNLOADING)
    released = running.transition(State.PENDING)

    assert pending_since(new) == parse_time(new.created_at).timestamp()
    assert pending_since(released) == parse_time(released.history[-1][1]).timestamp()
    assert pending_since(released) > pending_since(new)
    assert oldest_pending([running]) is None
    assert oldest_pending([released, new, running]) == pending_since(new)


def test_a_forked_child_does_not_repeat_the_random_part_of_its_parents_ids():
    import os

    from nommer.core.model.jobs import new_job_id

    new_job_id()  # the parent has random bytes in store
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_job_id()[12:].encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 8).decode()
    os.close(read)
    os.close(write)
    ids = {new_job_id()[12:] for _ in range(3000)}  # past the end of one read
    assert len(child) == 8 and child not in ids and len(ids) == 3000


def test_a_record_at_another_version_is_the_same_record_but_for_its_version():
    import dataclasses

    from nommer.core.model.jobs import Job, utcnow, parse_time

    job = Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-360p"}],
                  notify_url="https://app.example/hook", priority=3)
    stored = job.with_version(4)
    assert stored == dataclasses.replace(job, version=4) and stored is not job
    assert job.version == 0  # the original is left as it was
    # utcnow's text: sortable, microseconds always written, read back by parse_time
    now = utcnow()
    assert len(now) == 27 and now.endswith("Z") and parse_time(now).tzinfo is not None
