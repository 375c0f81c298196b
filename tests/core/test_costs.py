import pytest

from nommer.core.feeder.costs import CALIBRATED, UNKNOWN_FACTOR, CostModel, encode_seconds
from nommer.core.model.jobs import Job, State


def job(outputs=("mp4-h264-720p",), duration=100.0):
    j = Job.new("file:///in.mov", [{"destination": f"file:///o{i}.mp4", "preset": p}
                                   for i, p in enumerate(outputs)])
    return j.transition(State.DOWNLOADING).transition(
        State.ENCODING, probe={"duration": duration} if duration else None)


def with_history(j, encoding_at, uploading_at):
    history = tuple(h for h in j.history if h[0] not in ("ENCODING", "UPLOADING"))
    return j.with_changes(history=history + (("ENCODING", encoding_at), ("UPLOADING", uploading_at)))


def test_prediction_is_duration_times_the_factors_of_the_outputs():
    model = CostModel(default_job_seconds=60)
    two = job(("mp4-h264-720p", "m4a-aac"))
    expected = 100 * (CALIBRATED["mp4-h264-720p"] + CALIBRATED["m4a-aac"])
    assert model.predict(two) == pytest.approx(expected)
    assert model.predict(two.with_changes(progress=50)) == pytest.approx(expected / 2)


def test_an_unprobed_job_counts_the_default_and_a_final_one_nothing():
    model = CostModel(default_job_seconds=42)
    pending = Job.new("file:///in.mov", [{"destination": "file:///o.mp4", "preset": "mp4-h264-720p"}])
    assert model.predict(pending) == 42
    assert model.predict(pending.transition(State.CANCELED)) == 0


def test_an_own_options_output_uses_the_unknown_factor():
    model = CostModel()
    j = job(()).with_changes(outputs=({"destination": "file:///o.mp4", "options": "-c:v libx264"},))
    assert model.predict(j) == pytest.approx(100 * UNKNOWN_FACTOR)


def test_finished_jobs_teach_the_factor_per_instance_type():
    model = CostModel(instance_type="c5.large")
    before = model.factor("mp4-h264-720p")
    encoded = with_history(job(duration=100.0), "2030-01-01T00:00:00.000000Z", "2030-01-01T00:01:40.000000Z")
    assert encode_seconds(encoded) == 100.0
    assert not model.learn(encoded)  # not FINISHED yet
    finished = encoded.transition(State.UPLOADING).transition(State.FINISHED)
    finished = with_history(finished, "2030-01-01T00:00:00.000000Z", "2030-01-01T00:01:40.000000Z")
    assert model.learn(finished)
    after = model.factor("mp4-h264-720p")
    assert after == pytest.approx(before + 0.2 * (1.0 - before))  # 1 s per source second seen
    assert model.factor("mp4-h264-720p", "m5.xlarge") == before  # another type: the seed still


def test_a_job_without_duration_or_times_teaches_nothing():
    model = CostModel()
    finished = job(duration=None).transition(State.UPLOADING).transition(State.FINISHED)
    assert not model.learn(finished)
    assert model.table()["mp4-h264-720p"] == CALIBRATED["mp4-h264-720p"]
