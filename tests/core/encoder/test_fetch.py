"""Fetching a claimed job (core/encoder/fetch.py), and its failures ending
the job in ERROR (core/encoder/ending.py)."""

import pytest

from nommer.core.errors import JobFailed
from nommer.core.model.jobs import State


def test_fetch_downloads_and_probes_the_source(kit):
    task = kit.started()
    kit.changes()
    kit.fetch()(task)
    assert task.source_path == task.workdir / "source.mp4"
    assert task.source_path.read_bytes() == (kit.media / "source.mp4").read_bytes()
    assert task.probe["duration"] == pytest.approx(2.0, abs=0.1)
    stored = kit.store.get(task.id)
    assert stored.state == State.ENCODING
    assert stored.probe == task.probe and stored.phases["download"] == 100
    assert [c["state"] for c in kit.changes()] == ["ENCODING"]


def test_a_missing_source_fails_the_job_with_a_clear_error(kit):
    task = kit.started(source="gone.mp4")
    with pytest.raises(JobFailed) as err:
        kit.fetch()(task)
    assert err.value.code == "SOURCE_NOT_FOUND"
    assert f"source {kit.media / 'gone.mp4'} does not exist" in str(err.value)
    kit.ending().end(task, err.value)
    stored = kit.store.get(task.id)
    assert (stored.state, stored.error_code) == (State.ERROR, "SOURCE_NOT_FOUND")
    assert "gone.mp4 does not exist" in stored.details
    assert [o["state"] for o in stored.outputs] == ["SKIPPED"]  # never made
    assert kit.new_jobs.depth() == (0, 0)  # its message went with it
    assert kit.tasks.in_flight() == [] and kit.tasks.stats["failed"] == 1
    assert not task.workdir.exists()


def test_a_destination_outside_the_roots_fails_before_the_download(kit, tmp_path):
    task = kit.started(destination=f"file://{tmp_path / 'elsewhere' / 'out.mp4'}")
    with pytest.raises(JobFailed) as err:
        kit.fetch()(task)
    assert err.value.code == "DESTINATION_INVALID"
    assert "outputs[0].destination" in str(err.value)
    assert task.source_path is None  # nothing downloaded


def test_a_source_without_video_fails_a_video_preset(kit, make_clip):
    audio = make_clip("tone.m4a", video_args=("-vn",))
    (kit.media / "tone.m4a").write_bytes(audio.read_bytes())
    task = kit.started(source="tone.m4a")
    with pytest.raises(JobFailed) as err:
        kit.fetch()(task)
    assert err.value.code == "NO_VIDEO_STREAM"
    assert task.outputs[0]["state"] == "ERROR"
