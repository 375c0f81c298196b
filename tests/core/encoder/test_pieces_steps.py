"""The encoder's handling of an accelerated job's messages and pieces
(core/encoder/claim.py, ending.py, keeping.py, journal.py) over real parts:
claims are conditional, stale and finished messages go, a lost planner's
pieces are queued again, the stitch is never lost, endings of pieces."""

import json

import pytest

from nommer.core.encoder import keeping
from nommer.core.encoder.claim import Claim
from nommer.core.encoder.ending import Ending
from nommer.core.encoder.scratch import Scratch
from nommer.core.errors import Canceled, JobFailed
from nommer.core.ffmpeg.segments import Scan, plan
from nommer.core.model import pieces
from nommer.core.model.jobs import State
from nommer.core.model.messages import message_body, piece_body

from .kit import ENCODER, LEASE, ago


def planned(kit, job, holders=()):
    """``job`` as its planner leaves it: ENCODING, no owner, 2 segments, the
    audio and the stitch; each (piece id, encoder, heartbeat) of
    ``holders`` RUNNING there."""
    frames = tuple(i / 10 for i in range(100))
    made = pieces.plan([(0, plan(Scan(frames=frames, keyframes=tuple(range(0, 100, 10)), end=10.0), 5.0).segments,
                         True)])
    for piece_id, encoder, at in holders:
        made = pieces.claimed(made, piece_id, encoder, at)
    job = kit.store.update(job.transition(State.DOWNLOADING, encoder_id="enc-planner", attempt=1))
    return kit.store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made, heartbeat_at=ago(0)))


def claim(kit):
    return Claim(kit.config, ENCODER, kit.store, kit.new_jobs, kit.journal, kit.tasks, kit.log, Scratch(kit.config))


def queued(kit):
    """The bodies on the new-job queue, taken off it."""
    bodies = []
    while messages := kit.new_jobs.receive(max_messages=10, visibility_timeout=LEASE):
        for m in messages:
            bodies.append(json.loads(m.body))
            kit.new_jobs.delete(m.receipt)
    return bodies


@pytest.fixture
def job(kit):
    job = kit.submit()
    queued(kit)  # its own message: each test sends what it needs
    return planned(kit, job)


def test_a_piece_is_claimed_once(kit, job):
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0001"))
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0001"))  # a duplicate
    first = claim(kit)(kit.message())
    second = claim(kit)(kit.message())

    assert first.piece["id"] == "o0-s0001" and first.piece["attempt"] == 1
    assert second is None
    stored = pieces.find(kit.store.get(job.id).pieces, "o0-s0001")
    assert (stored["state"], stored["encoder_id"], stored["attempt"]) == (pieces.RUNNING, ENCODER, 1)
    assert kit.store.get(job.id).encoder_id is None and kit.store.get(job.id).state == State.ENCODING


def test_a_piece_on_a_live_encoder_is_left_and_a_silent_ones_is_taken_over(kit):
    job = kit.submit()
    queued(kit)
    job = planned(kit, job, holders=[("o0-s0000", "enc-alive", ago(1)), ("o0-s0001", "enc-gone", ago(LEASE + 5))])
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    assert claim(kit)(kit.message()) is None
    assert kit.new_jobs.depth() == (0, 1)  # comes back after its lease
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0001"))
    messages = kit.new_jobs.receive(max_messages=10, visibility_timeout=LEASE)
    task = claim(kit)(next(m for m in messages if "o0-s0001" in m.body))
    assert task.piece["attempt"] == 2 and task.piece["encoder_id"] == ENCODER


def test_a_piece_tried_max_attempts_times_gives_the_job_up(kit):
    job = kit.submit()
    queued(kit)
    job = planned(kit, job, holders=[("o0-s0000", "enc-gone", ago(LEASE + 5))])
    made = [dict(p, attempt=3) if p["id"] == "o0-s0000" else p for p in job.pieces]
    job = kit.store.update(job.with_changes(pieces=made))
    scratch = kit.config.data_dir / "scratch" / job.id
    scratch.mkdir(parents=True)
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))

    assert claim(kit)(kit.message()) is None
    ended = kit.store.get(job.id)
    assert ended.state == State.ERROR and ended.error_code == "GAVE_UP"
    assert "piece o0-s0000" in ended.details
    assert not scratch.exists() and kit.new_jobs.depth() == (0, 0)


def test_messages_of_another_attempt_or_an_ended_job_go(kit, job):
    scratch = kit.config.data_dir / "scratch" / job.id
    scratch.mkdir(parents=True)
    kit.new_jobs.send(piece_body(job.id, 7, "o0-s0000"))
    assert claim(kit)(kit.message()) is None
    assert kit.new_jobs.depth() == (0, 0) and scratch.exists()
    kit.store.update(kit.store.get(job.id).transition(State.CANCELED))
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    assert claim(kit)(kit.message()) is None
    assert kit.new_jobs.depth() == (0, 0) and not scratch.exists()


def test_a_done_piece_queues_a_due_stitch_whose_message_was_lost(kit, job):
    made = job.pieces
    for piece_id in ("o0-s0000", "o0-s0001", "o0-audio"):
        made, due = pieces.finished(made, piece_id)
    assert due
    kit.store.update(kit.store.get(job.id).with_changes(pieces=made))
    kit.new_jobs.send(piece_body(job.id, 1, "o0-audio"))  # its encoder died before deleting it

    assert claim(kit)(kit.message()) is None
    assert queued(kit) == [{"job_id": job.id, "attempt": 1, "piece": "stitch"}]


def test_the_job_message_of_a_planned_job_queues_its_pieces_again(kit, job):
    kit.new_jobs.send(message_body(job.id))  # the planner died before deleting it

    assert claim(kit)(kit.message()) is None
    assert sorted(b["piece"] for b in queued(kit)) == ["o0-audio", "o0-s0000", "o0-s0001"]
    assert kit.store.get(job.id).state == State.ENCODING


def test_pieces_are_kept_alive_and_stopped_when_taken_over(kit, job):
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    task = claim(kit)(kit.message())
    before = pieces.find(kit.store.get(job.id).pieces, "o0-s0000")["heartbeat_at"]
    keeping.heartbeat_jobs(kit.tasks, kit.new_jobs, kit.journal, LEASE)
    assert pieces.find(kit.store.get(job.id).pieces, "o0-s0000")["heartbeat_at"] > before
    keeping.check_canceled(kit.tasks, kit.store, kit.journal)
    assert not task.cancel.is_set()
    # Taken over by another encoder (this one seemed lost):
    stored = kit.store.get(job.id)
    kit.store.update(stored.with_changes(pieces=pieces.claimed(stored.pieces, "o0-s0000", "enc-other", ago(0))))
    keeping.check_canceled(kit.tasks, kit.store, kit.journal)
    assert task.cancel.is_set()
    with pytest.raises(Canceled):
        kit.journal.touch(task)


def test_a_piece_released_on_a_graceful_stop_does_not_count_as_an_attempt(kit, job):
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0001"))
    task = claim(kit)(kit.message())
    task.release_on_cancel = True
    Ending(ENCODER, kit.store, kit.new_jobs, kit.journal, kit.tasks, kit.log).end(task, Canceled("stopping"))

    piece = pieces.find(kit.store.get(job.id).pieces, "o0-s0001")
    assert (piece["state"], piece["attempt"], piece["encoder_id"]) == (pieces.PENDING, 0, None)
    assert queued(kit) == [{"job_id": job.id, "attempt": 1, "piece": "o0-s0001"}]
    assert kit.tasks.in_flight() == []


def test_a_failed_piece_fails_the_job_and_its_scratch_goes(kit, job):
    scratch = kit.config.data_dir / "scratch" / job.id
    scratch.mkdir(parents=True)
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    task = claim(kit)(kit.message())
    Ending(ENCODER, kit.store, kit.new_jobs, kit.journal, kit.tasks, kit.log, Scratch(kit.config)).end(
        task, JobFailed("ffmpeg said no", code="ENCODE_FAILED"))

    ended = kit.store.get(job.id)
    assert ended.state == State.ERROR and ended.error_code == "ENCODE_FAILED"
    assert not scratch.exists() and kit.new_jobs.depth() == (0, 0)


def test_a_piece_writes_its_heartbeat_and_progress_together_at_most_every_quarter_lease(kit, job):
    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    task = claim(kit)(kit.message())
    assert kit.journal.piece_interval == LEASE / 4

    kit.journal.touch(task)  # the first is written
    written = kit.store.get(job.id).version
    kit.journal.touch(task)
    kit.journal.progress(task, "encode", 40)
    assert kit.store.get(job.id).version == written  # within the interval: kept, not written

    task.last_progress_write -= LEASE / 4  # a quarter lease later
    kit.journal.progress(task, "encode", 50)
    stored = kit.store.get(job.id)
    assert stored.version == written + 1
    assert pieces.find(stored.pieces, "o0-s0000")["progress"] == 50


def test_a_ladders_rendition_pieces_are_queued_claimed_and_taken_over_alone(kit):
    job = kit.submit()
    queued(kit)
    frames = tuple(i / 10 for i in range(130))
    cut = plan(Scan(frames=frames, keyframes=tuple(range(0, 130, 10)), end=13.0), 6.0, hls=True)
    made = pieces.plan([(0, cut.segments, True, (1.0, 0.5))])
    made = pieces.claimed(made, "o0-r1-s0002", "enc-gone", ago(LEASE + 5))
    job = kit.store.update(job.transition(State.DOWNLOADING, encoder_id="enc-planner", attempt=1))
    job = kit.store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made, heartbeat_at=ago(0)))
    kit.new_jobs.send(message_body(job.id))  # the planner died before deleting it

    assert claim(kit)(kit.message()) is None
    assert sorted(b["piece"] for b in queued(kit)) == ["o0-audio"] + [
        f"o0-r{r}-s000{n}" for r in (0, 1) for n in range(3)]
    # A rendition's piece is claimed once; the other rendition of the same segment is a piece apart.
    for piece_id in ("o0-r0-s0002", "o0-r0-s0002", "o0-r1-s0002"):
        kit.new_jobs.send(piece_body(job.id, 1, piece_id))
    first, second, other = (claim(kit)(kit.message()) for _ in range(3))
    assert first.piece["id"] == "o0-r0-s0002" and second is None
    assert other.piece["id"] == "o0-r1-s0002" and other.piece["attempt"] == 2  # taken over from enc-gone
    stored = kit.store.get(job.id).pieces
    assert [(p["id"], p["encoder_id"]) for p in stored if p["state"] == pieces.RUNNING] == [
        ("o0-r0-s0002", ENCODER), ("o0-r1-s0002", ENCODER)]
    assert all(p["state"] == pieces.PENDING for p in stored if p["id"] in ("o0-r0-s0001", "o0-r1-s0001"))


def test_audio_pieces_are_queued_before_the_segments(kit, job):
    # Each audio piece encodes a whole output's audio: the longest pieces go first.
    kit.new_jobs.send(message_body(job.id))

    claim(kit)(kit.message())
    assert [b["piece"] for b in queued(kit)] == ["o0-audio", "o0-s0000", "o0-s0001"]


@pytest.mark.parametrize("duration, encoders, slots_each, apart", [
    (600.0, 2, 2, False),  # 10 segments for 4 slots: every slot has segments to make
    (600.0, 10, 2, True),  # 10 segments for 20 slots: renditions apart fill the rest
    (60.0, 1, 2, True),  # 1 segment for 2 slots
    (60.0, 1, 1, False),  # 1 segment for 1 slot
])
def test_a_ladders_renditions_go_apart_only_when_the_farm_has_more_slots_than_segments(
        kit, duration, encoders, slots_each, apart):
    import types

    from nommer.core import config as config_mod
    from nommer.core.encoder.planning import Planner

    config = config_mod.load(environ={}, overrides={
        "data_dir": str(kit.config.data_dir), "max_encoders": encoders, "jobs_per_encoder": slots_each,
        "segment_seconds": 60.0})
    planner = Planner(config, kit.presets, kit.runs, Scratch(config), kit.new_jobs, kit.journal, kit.tasks, kit.log)
    assert planner._renditions_apart(duration, [types.SimpleNamespace(hls=True)]) is apart


def test_a_failed_piece_heartbeat_leaves_the_next_one_free_to_try(kit, job, monkeypatch):
    from nommer.core.errors import TransientError

    kit.new_jobs.send(piece_body(job.id, 1, "o0-s0000"))
    task = claim(kit)(kit.message())
    written = kit.store.get(job.id).version

    def unreachable(job):
        raise TransientError("the store is out of reach")

    with monkeypatch.context() as patched:
        patched.setattr(kit.store, "update", unreachable)
        with pytest.raises(TransientError):
            kit.journal.touch(task)
        with pytest.raises(TransientError):
            kit.journal.progress(task, "encode", 30)
    kit.journal.touch(task)  # at once, not a quarter lease later

    stored = kit.store.get(job.id)
    assert stored.version == written + 1
    assert pieces.find(stored.pieces, "o0-s0000")["heartbeat_at"] > task.piece["heartbeat_at"]
