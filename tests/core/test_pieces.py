"""The pieces of an accelerated job (model/pieces.py): the plan, who may
take a piece, when the stitch is due, progress; and that every job store
keeps them."""

import datetime
import json

import pytest

from nommer.core.ffmpeg.segments import Scan, plan as plan_segments
from nommer.core.model import pieces
from nommer.core.model.jobs import Job, State, utcnow
from nommer.core.model.liveness import owner_lost
from nommer.core.model.messages import job_id_of, message_body, piece_body, piece_of

LEASE = 60.0
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def at(seconds_ago):
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scan(seconds=20.0, fps=25, gop=25):
    frames = tuple(round(i / fps, 6) for i in range(int(seconds * fps)))
    return Scan(frames=frames, keyframes=tuple(range(0, len(frames), gop)), end=seconds, audio=(0.0, seconds))


def two_outputs():
    cut = plan_segments(scan(), 5.0)
    assert len(cut.segments) == 4
    return pieces.plan([(0, cut.segments, True), (1, cut.segments, False)], cost=2.0)


def test_the_plan_has_each_segment_the_audio_once_per_output_and_one_stitch():
    made = two_outputs()

    ids = [p["id"] for p in made]
    assert ids == ["o0-s0000", "o0-s0001", "o0-s0002", "o0-s0003", "o0-audio",
                   "o1-s0000", "o1-s0001", "o1-s0002", "o1-s0003", "stitch"]
    assert [p["state"] for p in made] == [pieces.PENDING] * 9 + [pieces.WAITING]
    assert made[-1]["outputs"] == [0, 1]
    first = made[0]
    assert first["kind"] == pieces.SEGMENT and first["outputs"] == [0]
    assert first["segment"]["first"] == 0 and first["segment"]["last"] == 124
    assert first["weight"] == pytest.approx(10.0)  # 5 s of source at 2 s each
    # Segments cover the source once: each starts where the previous ended.
    segs = [p for p in made if p["kind"] == pieces.SEGMENT and p["outputs"] == [0]]
    assert [p["start"] for p in segs[1:]] == [p["end"] for p in segs[:-1]]
    assert segs[-1]["end"] == pytest.approx(20.0)


def test_a_plan_fits_in_a_dynamodb_item():
    length = pieces.segment_seconds_for(36_000.0, 1.0, outputs=3)  # ten hours cut in 1 s asked
    assert length > 1.0
    cut = plan_segments(scan(seconds=36_000.0 / 50, fps=1, gop=1), length / 50)  # the same count of cuts
    made = pieces.plan([(i, cut.segments, True) for i in range(3)])
    assert len(made) <= pieces.MAX_PIECES
    job = Job.new("file:///in.mp4", [{"destination": f"file:///o{i}.mp4", "preset": "mp4-h264-360p"}
                                     for i in range(3)]).with_changes(pieces=made)
    assert len(json.dumps(job.to_dict())) < 200_000  # DynamoDB's item limit is 400 KB


def ladder(seconds=24.0, shares=(1.0, 0.6, 0.4, 0.3)):
    """A four-rendition ladder cut on 6 s HLS segments, with an MP4 output beside it."""
    cut = plan_segments(scan(seconds=seconds), 6.0, hls=True)
    return cut, pieces.plan([(0, cut.segments, True, shares), (1, cut.segments, True)], cost=2.0)


def test_each_rendition_of_a_ladder_has_its_own_segment_pieces():
    cut, made = ladder()
    assert len(cut.segments) == 4

    ids = [p["id"] for p in made]
    assert ids == [f"o0-r{r}-s{s:04d}" for r in range(4) for s in range(4)] + [
        "o0-audio", "o1-s0000", "o1-s0001", "o1-s0002", "o1-s0003", "o1-audio", "stitch"]
    rendition_pieces = [p for p in made if p["id"].startswith("o0-r")]
    assert all(p["kind"] == pieces.SEGMENT and p["outputs"] == [0] for p in rendition_pieces)
    assert [p["rendition"] for p in rendition_pieces] == [r for r in range(4) for _ in range(4)]
    # Every rendition covers the same frames, cut at the same HLS boundaries.
    for r in range(4):
        mine = [p["segment"] for p in rendition_pieces if p["rendition"] == r]
        assert mine == [pieces.find(made, f"o1-s{s:04d}")["segment"] for s in range(4)]
    # An output that is no ladder keeps its pieces as they were: no rendition.
    assert not any("rendition" in p for p in made if p["outputs"] == [1])
    # Weights: 6 s at 2 s each, times the rendition's share of the work.
    assert [pieces.find(made, f"o0-r{r}-s0000")["weight"] for r in range(4)] == pytest.approx([12.0, 7.2, 4.8, 3.6])
    assert pieces.find(made, "o0-audio")["weight"] == pieces.find(made, "o1-audio")["weight"]


def test_a_ladders_stitch_waits_for_every_rendition():
    _, made = ladder()
    made = [p for p in made if p["outputs"] != [1]]  # the ladder alone
    made = [{**p, "outputs": [0]} if p["id"] == "stitch" else p for p in made]
    last = "o0-r3-s0003"
    for piece in made:
        if piece["kind"] != pieces.STITCH and piece["id"] != last:
            made, due = pieces.finished(made, piece["id"])
            assert not due
    made, due = pieces.finished(made, last)
    assert due and pieces.find(made, "stitch")["state"] == pieces.PENDING
    # Progress: all but the stitch done is the stitch's weight short of 100.
    stitch = pieces.find(made, "stitch")["weight"]
    total = sum(p["weight"] for p in made)
    assert pieces.overall(made) == int((total - stitch) * 100 // total)


def test_rendition_shares_follow_the_pixels_each_encodes():
    shares = pieces.rendition_shares([1920 * 1080, 1280 * 720, 854 * 480, 640 * 360])
    assert shares[0] == 1.0 and list(shares) == sorted(shares, reverse=True)
    # Decoding the source costs every piece alike.
    assert shares[-1] == pytest.approx(pieces.RENDITION_BASE + (1 - pieces.RENDITION_BASE) / 9, abs=0.001)
    assert pieces.rendition_shares([0, 0]) == (1.0, 1.0)


def test_the_cap_counts_every_rendition():
    hours = 36_000.0
    alone = pieces.segment_seconds_for(hours, 1.0, outputs=1)
    four = pieces.segment_seconds_for(hours, 1.0, outputs=[4])
    assert four > 3.9 * alone  # four renditions: segments four times as long
    # A ladder's length is whole HLS segments, rounded as segments.plan
    # rounds, but never fewer seconds than the cap needs.
    assert pieces.segment_seconds_for(20.0, 8.0, outputs=[4], grid=6) == 6.0
    assert pieces.segment_seconds_for(20.0, 10.0, outputs=[4], grid=6) == 12.0
    assert pieces.segment_seconds_for(hours, 1.0, outputs=[4, 1], grid=6) % 6 == 0
    # Ten hours, a four-rendition ladder and an MP4, cut as finely as allowed:
    # within the cap however the frames fall.
    frames = tuple(float(i) for i in range(int(hours)))
    source = Scan(frames=frames, keyframes=tuple(range(len(frames))), end=hours, audio=(0.0, hours))
    hls = plan_segments(source, pieces.segment_seconds_for(hours, 1.0, [4, 1], grid=6), hls=True)
    mp4 = plan_segments(source, pieces.segment_seconds_for(hours, 1.0, [4, 1]))
    made = pieces.plan([(0, hls.segments, True, (1.0, 0.6, 0.4, 0.3)), (1, mp4.segments, True)])
    assert pieces.MAX_PIECES - 15 < len(made) <= pieces.MAX_PIECES
    job = Job.new("file:///in.mp4", [{"destination": "file:///ladder/", "preset": "hls-h264-ladder"},
                                     {"destination": "file:///o.mp4", "preset": "mp4-h264-720p"}]
                  ).with_changes(pieces=made)
    assert len(json.dumps(job.to_dict())) < 200_000  # DynamoDB's item limit is 400 KB


def test_more_pieces_than_the_cap_are_refused():
    cut = plan_segments(scan(seconds=300.0, fps=5, gop=5), 1.0)
    with pytest.raises(ValueError, match="more than"):
        pieces.plan([(0, cut.segments, True)])


def test_the_last_piece_done_makes_the_stitch_due_once():
    made = pieces.plan([(0, plan_segments(scan(), 10.0).segments, True)])
    ids = [p["id"] for p in made if p["kind"] != pieces.STITCH]
    assert ids == ["o0-s0000", "o0-s0001", "o0-audio"]

    made, due = pieces.finished(made, "o0-s0001")
    assert not due
    made, due = pieces.finished(made, "o0-audio")
    assert not due and pieces.find(made, "stitch")["state"] == pieces.WAITING
    made, due = pieces.finished(made, "o0-s0000")
    assert due and pieces.find(made, "stitch")["state"] == pieces.PENDING
    # Done again (a duplicate message's worker): the stitch is not due twice.
    again, due = pieces.finished(made, "o0-s0000")
    assert not due
    done, due = pieces.finished(again, "stitch")
    assert not due and all(p["state"] == pieces.DONE for p in done)


def test_who_may_take_a_piece():
    piece = pieces.plan([(0, plan_segments(scan(), 10.0).segments, False)])[0]
    assert pieces.claim_decision(piece, LEASE, 3, NOW) == "claim"

    running = pieces.claimed([piece], piece["id"], "enc-1", at(5))[0]
    assert running["state"] == pieces.RUNNING and running["attempt"] == 1 and running["encoder_id"] == "enc-1"
    assert pieces.claim_decision(running, LEASE, 3, NOW) == "wait"
    assert not pieces.piece_lost(running, LEASE, NOW)

    silent = {**running, "heartbeat_at": at(LEASE + 1)}
    assert pieces.piece_lost(silent, LEASE, NOW)
    assert pieces.claim_decision(silent, LEASE, 3, NOW) == "claim"
    assert pieces.claim_decision({**silent, "attempt": 3}, LEASE, 3, NOW) == "give_up"
    assert pieces.claim_decision({**running, "state": pieces.DONE}, LEASE, 3, NOW) == "done"
    assert pieces.claim_decision({**piece, "state": pieces.WAITING}, LEASE, 3, NOW) == "wait"


def test_a_piece_is_held_by_one_encoder_and_one_attempt():
    made = pieces.claimed(two_outputs(), "o0-s0002", "enc-1", at(1))
    assert pieces.holds(made, "o0-s0002", "enc-1", 1)
    assert not pieces.holds(made, "o0-s0002", "enc-2", 1)
    assert not pieces.holds(made, "o0-s0002", "enc-1", 2)
    taken_over = pieces.claimed(made, "o0-s0002", "enc-2", at(0))
    assert not pieces.holds(taken_over, "o0-s0002", "enc-1", 1)
    assert pieces.holds(taken_over, "o0-s0002", "enc-2", 2)
    back = pieces.released(taken_over, "o0-s0002")
    assert pieces.find(back, "o0-s0002")["state"] == pieces.PENDING
    assert pieces.find(back, "o0-s0002")["attempt"] == 1  # a graceful hand-back is not an attempt


def test_progress_is_the_weighted_sum_of_the_pieces():
    made = pieces.plan([(0, plan_segments(scan(), 10.0).segments, False)], cost=1.0)
    weights = {p["id"]: p["weight"] for p in made}
    assert weights == {"o0-s0000": 10.0, "o0-s0001": 10.0, "stitch": 2.0}
    assert pieces.overall(made) == 0

    made, _ = pieces.finished(made, "o0-s0000")
    made = pieces.beat(pieces.claimed(made, "o0-s0001", "e", utcnow()), "o0-s0001", utcnow(), progress=50)
    assert pieces.overall(made) == (10 * 100 + 10 * 50) * 100 // 2200
    # never backwards
    assert pieces.find(pieces.beat(made, "o0-s0001", utcnow(), progress=20), "o0-s0001")["progress"] == 50
    assert pieces.remaining_seconds(made) == pytest.approx(5.0 + 2.0)


def test_an_accelerated_job_has_no_owner_to_lose():
    job = Job.new("file:///in.mp4", [{"destination": "file:///o.mp4", "preset": "mp4-h264-360p"}])
    job = Job.from_dict({**job.to_dict(), "state": "ENCODING", "encoder_id": None,
                         "heartbeat_at": at(10 * LEASE), "pieces": two_outputs()})
    assert not owner_lost(job, LEASE, NOW)
    owned = Job.from_dict({**job.to_dict(), "encoder_id": "enc-1"})
    assert owner_lost(owned, LEASE, NOW)


def test_piece_messages():
    body = piece_body("0123456789abcdef0123", 2, "o0-s0001")
    assert job_id_of(body) == "0123456789abcdef0123"
    assert piece_of(body) == (2, "o0-s0001")
    assert piece_of(message_body("0123456789abcdef0123")) is None
    assert piece_of("not json") is None


def test_pieces_survive_the_record():
    job = Job.new("file:///in.mp4", [{"destination": "file:///o.mp4", "preset": "mp4-h264-360p"}],
                  acceleration="ENABLED")
    job = job.transition(State.DOWNLOADING).transition(State.ENCODING, pieces=two_outputs())
    again = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again.pieces == job.pieces and again.acceleration == "ENABLED"
    # Records written before acceleration existed read as the farm's setting, no pieces.
    old = {k: v for k, v in job.to_dict().items() if k not in ("pieces", "acceleration")}
    assert Job.from_dict(old).pieces == () and Job.from_dict(old).acceleration is None
