"""Encoding a fetched job with ffmpeg (core/encoder/encode.py) and storing
what was made (core/encoder/upload.py)."""

import os
import struct

import pytest

from nommer.core.encoder import encode as encode_mod
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.probe import probe
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


def test_the_encode_of_a_job_fetched_unprobed_probes_its_source_on_the_way(kit, ffmpeg_exe, monkeypatch):
    task = kit.fetched()
    assert task.probe is None and task.guess is not None
    probes = []
    monkeypatch.setattr(encode_mod.ffmpeg, "probe", lambda *a, **k: probes.append(a) or probe(*a, **k))
    kit.encode()(task)
    assert probes == []  # the encode's own run described the source
    assert task.probe == probe(ffmpeg_exe, kit.media / "source.mp4")
    stored = kit.store.get(task.id)
    assert stored.state == State.UPLOADING and stored.probe == task.probe
    assert task.facts[0]["duration"] == pytest.approx(2.0, abs=0.1)


def test_a_source_unlike_what_its_boxes_said_is_encoded_again_from_its_probe(kit, ffmpeg_exe, capsys):
    # The movie header says 6 s; the tracks, which ffmpeg goes by, 2 s.
    source = kit.media / "source.mp4"
    data = bytearray(source.read_bytes())
    at = data.index(b"mvhd") + 4
    timescale, length = struct.unpack_from(">II", data, at + 12)
    struct.pack_into(">I", data, at + 16, length * 3)
    source.write_bytes(bytes(data))
    task = kit.fetched()
    assert task.guess["duration"] == pytest.approx(6.0, abs=0.01)
    capsys.readouterr()
    kit.encode()(task)
    assert "encoding again from its probe" in capsys.readouterr().out
    assert task.probe == probe(ffmpeg_exe, source) and task.probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert task.facts[0]["duration"] == pytest.approx(2.0, abs=0.1)
    stored = kit.store.get(task.id)
    assert stored.state == State.UPLOADING and stored.probe == task.probe
    assert stored.phases["encode"] == 100


def test_an_output_ffmpeg_cannot_make_fails_the_job(kit):
    task = kit.fetched()
    # The source, the same file still, holds nothing ffmpeg can read any more.
    task.source_path.write_bytes(b"not media")
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


def test_a_small_job_takes_four_writes_and_keeps_every_state_and_report(kit):
    """The claim, then one write per state: the first run's outputs go
    ENCODING with the job, the last output FINISHED with it, and a job
    shorter than progress_interval writes no progress of its own."""
    kit.journal.progress_interval = 2.0  # the default
    job = kit.submit()
    versions = []
    real_update = kit.store.update

    def update(record):
        written = real_update(record)
        versions.append((written.state.value, [o["state"] for o in written.outputs]))
        return written

    kit.store.update = update
    task = kit.claim()(kit.message())
    kit.fetch()(task)
    kit.encode()(task)
    made = task.targets[0].path
    inode = os.stat(made).st_ino
    kit.upload()(task)
    assert versions == [("DOWNLOADING", ["PENDING"]), ("ENCODING", ["ENCODING"]), ("UPLOADING", ["UPLOADING"]),
                        ("FINISHED", ["FINISHED"])]
    stored = kit.store.get(job.id)
    assert stored.version == job.version + 4  # DOWNLOADING, ENCODING, UPLOADING, FINISHED
    assert [state for state, _ in stored.history] == ["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    assert stored.outputs[0]["result"]["size"] == (kit.media / "out.mp4").stat().st_size
    assert [c["state"] for c in kit.changes()] == ["DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    # The output was linked into place, not copied.
    assert (kit.media / "out.mp4").stat().st_ino == inode


def test_an_upload_that_fails_on_the_last_output_still_writes_its_error(kit):
    task = kit.fetched()
    kit.encode()(task)
    (kit.media / "out.mp4").mkdir()  # a folder where the file should go
    with pytest.raises(JobFailed):
        kit.upload()(task)
    assert kit.store.get(task.id).outputs[0]["state"] == "UPLOADING"  # not written on its own...
    kit.ending().end(task, JobFailed("x", code="DESTINATION_INVALID"))
    stored = kit.store.get(task.id)
    assert stored.outputs[0]["state"] == "ERROR"  # ...but with the job's end
    assert stored.outputs[0]["error_code"] == "DESTINATION_INVALID"


def test_an_output_of_the_first_run_gets_its_extras_measured_though_already_encoding(kit):
    from nommer.core.model.jobs import Job
    from nommer.core.model.messages import message_body

    job = kit.store.create(Job.new(f"file://{kit.media / 'source.mp4'}", [
        {"destination": f"file://{kit.media / 'out.m4a'}", "preset": "m4a-aac", "loudness": "ebu-r128"}]))
    kit.new_jobs.send(message_body(job.id))
    task = kit.claim()(kit.message())
    kit.fetch()(task)
    assert task.outputs[0]["state"] == "ENCODING"  # marked with the job's ENCODING write
    kit.encode()(task)
    assert task.before[0]["loudness"]["integrated"] < 0
    assert task.facts[0]["loudness"]["target"] == -23.0
