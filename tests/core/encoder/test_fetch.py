"""Fetching a claimed job (core/encoder/fetch.py), and its failures ending
the job in ERROR (core/encoder/ending.py)."""

import pytest

from nommer.core.encoder.fetch import Fetch
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.probe import probe
from nommer.core.ffmpeg.sandbox import landlock_abi
from nommer.core.model.jobs import State


needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock")


@needs_landlock
def test_fetch_reads_a_local_source_in_place_and_leaves_its_probe_to_the_encode(kit):
    task = kit.started()
    kit.changes()
    kit.fetch()(task)
    source = kit.media / "source.mp4"
    assert task.source_path == source  # not copied: the very file, once
    assert source.stat().st_nlink == 1
    assert (task.source_file.device, task.source_file.inode) == (source.stat().st_dev, source.stat().st_ino)
    assert list(task.workdir.iterdir()) == []
    # A preset job of an MP4 source: what its boxes say is all it needs now.
    assert task.probe is None
    assert task.guess["duration"] == pytest.approx(2.0, abs=0.01)
    assert [(s["type"], s.get("width"), s.get("height")) for s in task.guess["streams"]] == [
        ("video", 320, 240), ("audio", None, None)]
    stored = kit.store.get(task.id)
    assert stored.state == State.ENCODING
    assert stored.probe is None and stored.phases["download"] == 100
    # The write that moved the job carries its first run's outputs, ENCODING.
    assert [o["state"] for o in stored.outputs] == ["ENCODING"]
    assert [c["state"] for c in kit.changes()] == ["ENCODING"]


@pytest.mark.parametrize("why", ["another container", "an extra option"])
def test_fetch_probes_a_source_when_the_job_needs_more_than_its_boxes(kit, make_clip, why):
    if why == "another container":
        (kit.media / "source.mkv").write_bytes(make_clip("sample.mkv").read_bytes())
        task = kit.started(source="source.mkv")
    else:
        task = kit.started()
        job = kit.store.get(task.id)
        task.job = kit.store.update(job.with_changes(outputs=[
            {**job.outputs[0], "keep_if_smaller": True}]))
    kit.fetch()(task)
    assert task.guess is None
    assert task.probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert kit.store.get(task.id).probe == task.probe


@needs_landlock
def test_the_runs_of_a_source_read_in_place_read_nothing_beside_it(kit, ffmpeg_exe):
    (kit.media / "secret.mp4").write_bytes((kit.media / "source.mp4").read_bytes())
    task = kit.fetched()
    box = kit.runs.sandbox(task)
    assert box.read_files == ((str(kit.media / "source.mp4"), task.source_file.device, task.source_file.inode),)
    assert box.uncounted == 0  # nothing of the source in the work folder
    assert probe(ffmpeg_exe, kit.media / "source.mp4", sandbox=box)["duration"] > 1
    with pytest.raises(JobFailed) as err:
        probe(ffmpeg_exe, kit.media / "secret.mp4", sandbox=box)
    assert err.value.code == "SOURCE_UNREADABLE" and "Permission denied" in str(err.value)


@needs_landlock
def test_a_source_replaced_while_the_job_runs_fails_it_clearly(kit):
    task = kit.fetched()
    (kit.media / "other.mp4").write_bytes((kit.media / "source.mp4").read_bytes())
    (kit.media / "other.mp4").replace(kit.media / "source.mp4")  # the same name, another file
    with pytest.raises(JobFailed) as err:
        kit.encode()(task)
    assert err.value.code == "SOURCE_UNREADABLE"
    assert str(err.value).endswith(": the source source.mp4 was removed or replaced while the job ran")
    kit.ending().end(task, err.value)
    stored = kit.store.get(task.id)
    assert (stored.state, stored.error_code) == (State.ERROR, "SOURCE_UNREADABLE")
    assert stored.outputs[0]["error_code"] == "SOURCE_UNREADABLE"


def test_fetch_downloads_a_source_when_its_runs_are_not_confined(kit):
    task = kit.started()
    kit.changes()
    Fetch("off", landlock_abi(), kit.storage, kit.box, kit.presets, kit.runs, kit.journal, kit.log)(task)
    assert task.source_file is None
    assert task.source_path == task.workdir / "source.mp4"
    assert task.source_path.read_bytes() == (kit.media / "source.mp4").read_bytes()
    assert kit.runs.sandbox(task).uncounted == task.source_path.stat().st_size
    assert kit.store.get(task.id).state == State.ENCODING
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
