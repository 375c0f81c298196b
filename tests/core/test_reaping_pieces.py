"""The Reaper and accelerated jobs: a job whose work is out in pieces has no
owner to lose, so neither a sweep nor an encoder's end gives it back whole;
abandon_after still ends it (core/feeder/reaping.py over a real SQLite store)."""

import datetime

import pytest

from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.encoder.scratch import Scratch
from nommer.core.feeder.reaping import Reaping
from nommer.core.ffmpeg.segments import Scan, plan
from nommer.core.model import pieces
from nommer.core.model.jobs import Job, State


def ago(seconds):
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def store(tmp_path):
    store = SqliteJobStore(tmp_path / "nommer.sqlite3")
    yield store
    store.close()


def accelerated(store, heartbeat_ago, holder="enc-1"):
    frames = tuple(i / 10 for i in range(200))
    made = pieces.plan([(0, plan(Scan(frames=frames, keyframes=tuple(range(0, 200, 10)), end=20.0), 5.0).segments,
                         True)])
    made = pieces.claimed(made, "o0-s0001", holder, ago(heartbeat_ago))
    job = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-480p"}]))
    job = store.update(job.transition(State.DOWNLOADING, encoder_id="enc-0", attempt=1))
    return store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made, heartbeat_at=ago(heartbeat_ago)))


def test_a_silent_accelerated_job_is_not_given_back_whole(store, tmp_path):
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "lease_seconds": 5})
    job = accelerated(store, heartbeat_ago=600)

    sweep = Reaping(config, store).sweep()
    gone = Reaping(config, store).encoder_gone("enc-1", "was ended")

    assert sweep.changed == [] and gone.changed == []
    assert store.get(job.id) == job


def test_an_accelerated_job_without_change_is_still_abandoned(store, tmp_path):
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "abandon_after": 1})
    job = accelerated(store, heartbeat_ago=0)
    import time
    time.sleep(1.2)

    sweep = Reaping(config, store).sweep()

    assert [j.id for j in sweep.abandoned] == [job.id]
    assert store.get(job.id).state == State.ABANDONED


def test_an_abandoned_accelerated_job_loses_its_scratch_files_and_no_other_job_does(store, tmp_path):
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "abandon_after": 1})
    scratch = Scratch(config)
    job = accelerated(store, heartbeat_ago=0)
    piece = tmp_path / "piece.mp4"
    piece.write_bytes(b"segment")
    scratch.put(piece, job.id, job.attempt, "o0-s0000.mp4")
    scratch.put(piece, "some-other-job", 1, "o0-s0000.mp4")
    import time
    time.sleep(1.2)

    sweep = Reaping(config, store, scratch=scratch).sweep()

    assert [j.id for j in sweep.abandoned] == [job.id]
    assert not scratch.exists(job.id)
    assert scratch.exists("some-other-job")


def test_a_scratch_folder_that_cannot_go_does_not_stop_the_sweep(store, tmp_path):
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "abandon_after": 1})

    class Stuck(Scratch):
        def remove(self, job_id):
            raise OSError("read-only file system")

    job = accelerated(store, heartbeat_ago=0)
    other = store.create(Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4", "preset": "mp4-h264-480p"}]))
    import time
    time.sleep(1.2)

    sweep = Reaping(config, store, scratch=Stuck(config)).sweep()

    assert sorted(j.id for j in sweep.abandoned) == sorted([job.id, other.id])
    assert store.get(job.id).state == State.ABANDONED
