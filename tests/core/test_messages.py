"""The queues' message bodies (model/messages.py)."""

import json

from nommer.core.model.jobs import Job, State
from nommer.core.model.messages import job_id_of, message_body, state_change


def test_a_new_job_message_round_trips_and_a_bad_one_reads_as_none():
    assert job_id_of(message_body("abc123")) == "abc123"
    for body in ("not json", "[]", '{"id": "x"}', "null"):
        assert job_id_of(body) is None, body


def running_job():
    job = Job.new("file:///in.mp4", [{"destination": "file:///out.mp4", "preset": "mp4-h264-360p"}])
    return job.transition(State.DOWNLOADING).transition(State.ENCODING, details="half way",
                                                        progress=50, phases={"download": 100, "encode": 40})


def test_a_state_change_says_the_job_its_state_details_and_time():
    job = running_job()
    change = state_change(job)
    assert change == {"job_id": job.id, "state": "ENCODING", "details": "half way", "at": job.updated_at}
    assert json.loads(json.dumps(change)) == change


def test_a_progress_event_carries_the_progress_and_its_phase():
    job = running_job()
    change = state_change(job, event="job.progress")
    assert change["event"] == "job.progress"
    assert (change["progress"], change["phase"]) == (50, "encode")
    assert change["phases"] == {"download": 100, "encode": 40}


def test_an_origin_is_said_only_when_given():
    job = running_job()
    assert state_change(job, origin="job_tracker")["origin"] == "job_tracker"
    assert "origin" not in state_change(job)
