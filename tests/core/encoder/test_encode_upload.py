"""Encoding a fetched job with ffmpeg (core/encoder/encode.py) and storing
what was made (core/encoder/upload.py)."""

import pytest

from nommer.core.errors import JobFailed
from nommer.core.model.jobs import State


def test_encode_makes_the_output_and_describes_it(kit):
    task = kit.fetched()
    kit.changes()
    kit.encode()(task)
    target = task.targets[0]
    assert task.facts[0]["size"] > 1000 and task.facts[0]["height"] == 240
    assert task.outputs[0]["state"] == "UPLOADING"
    stored = kit.store.get(task.id)
    assert stored.state == State.UPLOADING and stored.phases["encode"] == 100
    assert [c["state"] for c in kit.changes()] == ["UPLOADING"]
    assert str(target.path).startswith(str(task.workdir))
    assert not (kit.media / "out.mp4").exists()  # made in the work folder only


def test_an_output_ffmpeg_cannot_make_fails_the_job(kit):
    task = kit.fetched()
    # The source gone from the work folder: ffmpeg finds nothing to read.
    task.source_path.unlink()
    with pytest.raises(JobFailed) as err:
        kit.encode()(task)
    assert err.value.code == "ENCODE_FAILED"
    assert task.outputs[0]["state"] == "ERROR"
    assert kit.store.get(task.id).outputs[0]["state"] == "ERROR"  # written as it happened


def test_upload_stores_the_output_and_finishes_the_job(kit):
    task = kit.fetched()
    kit.encode()(task)
    kit.changes()
    kit.upload()(task)
    made = kit.media / "out.mp4"
    assert made.stat().st_size == task.facts[0]["size"]
    stored = kit.store.get(task.id)
    assert (stored.state, stored.progress) == (State.FINISHED, 100)
    assert stored.outputs[0]["state"] == "FINISHED"
    assert stored.outputs[0]["result"]["size"] == made.stat().st_size
    assert [c["state"] for c in kit.changes()] == ["FINISHED"]
    assert kit.new_jobs.depth() == (0, 0)
    assert kit.tasks.in_flight() == [] and kit.tasks.stats["finished"] == 1
    assert not task.workdir.exists()


def test_an_output_that_cannot_be_stored_fails_the_job(kit):
    task = kit.fetched()
    kit.encode()(task)
    (kit.media / "out.mp4").mkdir()  # a folder where the file should go
    with pytest.raises(JobFailed) as err:
        kit.upload()(task)
    assert err.value.code == "DESTINATION_INVALID"
    assert task.outputs[0]["state"] == "ERROR" and "out.mp4" in task.outputs[0]["error"]
    kit.ending().end(task, err.value)
    stored = kit.store.get(task.id)
    assert (stored.state, stored.error_code) == (State.ERROR, "DESTINATION_INVALID")
    assert stored.probe == task.probe  # kept for whoever looks into it
