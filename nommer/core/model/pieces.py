"""The pieces of an accelerated job: what they are, who may take one, when
the stitch is due, how far the job has got.

An accelerated job (docs/accelerated.md) keeps its plan in the job record,
``Job.pieces``: one piece per video segment of each output (of each
rendition of a ladder, so that a segment's renditions are made by several
encoders at once), one audio piece per output with sound, and one stitch
piece. Each is a dict::

    {"id": "o0-s0003" | "o0-r2-s0003" | "o0-audio" | "stitch",
     "kind": "segment" | "audio" | "stitch",
     "outputs": [output indices],
     "start": seconds, "end": seconds,        # of the source (segments)
     "segment": {...},                        # segments.Segment's fields (segments)
     "rendition": n,                          # a ladder's segments only: its video stream
     "weight": predicted seconds of work,
     "state": WAITING | PENDING | RUNNING | DONE,
     "encoder_id": who runs it, "attempt": how often it was taken,
     "heartbeat_at": when its encoder last said it was alive,
     "progress": 0..100}

The stitch waits (WAITING) until every other piece is DONE: the conditional
write that makes the last one DONE also makes the stitch PENDING, so exactly
one encoder queues it and exactly one claims it. Every function here is pure:
it takes pieces and gives new ones; the callers write them with the job.
"""

import math

from nommer.core.model.jobs import age_seconds

WAITING, PENDING, RUNNING, DONE = "WAITING", "PENDING", "RUNNING", "DONE"
STATES = (WAITING, PENDING, RUNNING, DONE)
SEGMENT, AUDIO, STITCH = "segment", "audio", "stitch"
STITCH_ID = "stitch"
# A job record must fit DynamoDB's 400 KB item; a piece takes about 400
# bytes of JSON, so this many keep a job well inside it.
MAX_PIECES = 240
# The stitch joins, checks and uploads: predicted as this share of the
# encode's seconds (stream copies and a packet read), at least a few seconds.
STITCH_SHARE = 0.05
AUDIO_SHARE = 0.02  # of a segment's work per second of source: audio encodes fast
SEGMENT_FIELDS = ("index", "first", "last", "start", "end", "seek", "time", "seconds", "lead_in")


def segment_id(output, index, rendition=None):
    """``o0-s0003``; a ladder's rendition's: ``o0-r2-s0003``."""
    if rendition is None:
        return f"o{output}-s{index:04d}"
    return f"o{output}-r{rendition}-s{index:04d}"


def audio_id(output):
    return f"o{output}-audio"


def segment_seconds_for(duration, segment_seconds, outputs, grid=None):
    """The segment length to plan an output with: ``segment_seconds``,
    longer when the job's ``outputs`` (how many, or how many renditions
    each: every rendition of a ladder is cut into pieces of its own) cut
    that short from a source of ``duration`` seconds would make more than
    MAX_PIECES pieces. ``grid``: the output's cuts fall on multiples of it
    (HLS segments), and the length is one, rounded as segments.plan rounds
    it but never below what the cap needs."""
    streams = [1] * outputs if isinstance(outputs, int) else [max(1, int(n)) for n in outputs]
    # Each output also has an audio piece; one stitch for the job.
    room = max(1, (MAX_PIECES - 1 - len(streams)) // max(1, sum(streams)))
    least = math.ceil(duration / room * 1000) / 1000
    if grid:
        return max(max(1, round(segment_seconds / grid)), math.ceil(least / grid - 1e-9)) * float(grid)
    return max(float(segment_seconds), least)


# Of the largest rendition's piece, the share that every rendition's piece
# spends alike (decoding the source; bench/accelerated_ladder.py measured
# a 360p piece of a 720p ladder at half the 720p one's CPU).
RENDITION_BASE = 0.35


def rendition_shares(pixels):
    """The predicted work of each rendition of a ladder, as a share of its
    largest's, from their pixels per frame: every rendition's piece decodes
    the whole source picture (RENDITION_BASE), the rest goes with the
    pixels encoded."""
    top = max(pixels, default=0)
    if not top:
        return tuple(1.0 for _ in pixels)
    return tuple(round(RENDITION_BASE + (1 - RENDITION_BASE) * p / top, 3) for p in pixels)


def plan(outputs, cost=1.0):
    """The pieces of a job, from ``outputs``: a list of (output index,
    segments, has_audio) or (output index, segments, has_audio, shares)
    where ``segments`` are segments.Segment (or dicts of their fields) and
    ``shares`` (a ladder's) the predicted work of each of its renditions
    (rendition_shares): each rendition's segments are pieces of their own.
    ``cost`` is the predicted encoder-seconds per second of source. Raises
    ValueError past MAX_PIECES."""
    pieces, work = [], 0.0
    for index, segments, has_audio, *more in outputs:
        shares = more[0] if more and more[0] is not None else None
        for rendition, share in (enumerate(shares) if shares is not None else [(None, 1.0)]):
            for segment in segments:
                fields = _fields(segment)
                weight = round(max(0.1, (fields["seconds"] + fields["lead_in"]) * cost * share), 3)
                work += weight
                extra = {} if rendition is None else {"rendition": rendition}
                pieces.append(_new(segment_id(index, fields["index"], rendition), SEGMENT, [index], weight,
                                   start=fields["time"], end=round(fields["time"] + fields["seconds"], 6),
                                   segment=fields, **extra))
        if has_audio:
            seconds = sum(_fields(s)["seconds"] for s in segments)
            weight = round(max(0.1, seconds * cost * AUDIO_SHARE), 3)
            work += weight
            pieces.append(_new(audio_id(index), AUDIO, [index], weight))
    pieces.append(_new(STITCH_ID, STITCH, [entry[0] for entry in outputs],
                       round(max(2.0, work * STITCH_SHARE), 3), state=WAITING))
    if len(pieces) > MAX_PIECES:
        raise ValueError(f"{len(pieces)} pieces is more than {MAX_PIECES} (segment_seconds_for says how long)")
    return pieces


def _fields(segment):
    if isinstance(segment, dict):
        return {k: segment[k] for k in SEGMENT_FIELDS}
    return {k: getattr(segment, k) for k in SEGMENT_FIELDS}


def _new(piece_id, kind, outputs, weight, state=PENDING, **extra):
    return {"id": piece_id, "kind": kind, "outputs": list(outputs), **extra, "weight": weight,
            "state": state, "encoder_id": None, "attempt": 0, "heartbeat_at": None, "progress": 0}


def find(pieces, piece_id):
    """The piece ``piece_id`` of ``pieces``; None when there is none."""
    return next((p for p in pieces or () if p["id"] == piece_id), None)


def _replace(pieces, piece_id, **changes):
    found = False
    out = []
    for p in pieces:
        if p["id"] == piece_id:
            p = {**p, **changes}
            found = True
        out.append(dict(p))
    if not found:
        raise KeyError(f"no piece {piece_id!r}")
    return out


def piece_lost(piece, lease_seconds, now=None):
    """Whether the encoder running ``piece`` is lost: RUNNING and silent
    (its heartbeat_at) for more than ``lease_seconds``; a piece with no
    heartbeat written counts as lost."""
    if piece["state"] != RUNNING:
        return False
    silent = age_seconds(piece.get("heartbeat_at"), now)
    return silent is None or silent > lease_seconds


def claim_decision(piece, lease_seconds, max_attempts, now=None):
    """What a new delivery of ``piece``'s message means:

    - "claim": it may be taken (PENDING, or RUNNING on a lost encoder);
    - "give_up": it may be taken but was tried ``max_attempts`` times already;
    - "wait": it is RUNNING on a live encoder, or the stitch still waits:
      leave the message, it comes back;
    - "done": it is DONE; the message goes.
    """
    state = piece["state"]
    if state == DONE:
        return "done"
    if state == WAITING or (state == RUNNING and not piece_lost(piece, lease_seconds, now)):
        return "wait"
    if piece["attempt"] >= max_attempts:
        return "give_up"
    return "claim"


def claimed(pieces, piece_id, encoder_id, now):
    """``pieces`` with ``piece_id`` RUNNING on ``encoder_id``, one attempt more."""
    piece = find(pieces, piece_id)
    return _replace(pieces, piece_id, state=RUNNING, encoder_id=encoder_id, attempt=piece["attempt"] + 1,
                    heartbeat_at=now, progress=0)


def holds(pieces, piece_id, encoder_id, attempt):
    """Whether ``encoder_id`` still holds attempt ``attempt`` of ``piece_id``."""
    piece = find(pieces, piece_id)
    return (piece is not None and piece["state"] == RUNNING and piece["encoder_id"] == encoder_id
            and piece["attempt"] == attempt)


def beat(pieces, piece_id, now, progress=None):
    """``pieces`` with ``piece_id``'s heartbeat (and progress, never backwards) written."""
    piece = find(pieces, piece_id)
    changes = {"heartbeat_at": now}
    if progress is not None:
        changes["progress"] = max(piece["progress"], max(0, min(100, int(progress))))
    return _replace(pieces, piece_id, **changes)


def finished(pieces, piece_id):
    """(``pieces`` with ``piece_id`` DONE, whether that made the stitch due).

    The stitch is due when this write makes the last segment or audio piece
    DONE: the stitch goes from WAITING to PENDING in the same write, so
    whoever wrote it (and no one else) queues it."""
    out = _replace(pieces, piece_id, state=DONE, progress=100)
    stitch = find(out, STITCH_ID)
    due = (piece_id != STITCH_ID and stitch is not None and stitch["state"] == WAITING
           and all(p["state"] == DONE for p in out if p["kind"] != STITCH))
    if due:
        out = _replace(out, STITCH_ID, state=PENDING)
    return out, due


def released(pieces, piece_id):
    """``pieces`` with ``piece_id`` handed back (PENDING, the attempt not counted)."""
    piece = find(pieces, piece_id)
    return _replace(pieces, piece_id, state=PENDING, encoder_id=None,
                    attempt=max(0, piece["attempt"] - 1), progress=0)


def to_queue(pieces):
    """The pieces that need a queue message: PENDING, or RUNNING (their
    message may be lost with a lost planner; a duplicate is harmless)."""
    return [p for p in pieces if p["state"] in (PENDING, RUNNING)]


def overall(pieces):
    """The job's percent: its pieces' progress weighed by their predicted seconds."""
    total = sum(p["weight"] for p in pieces) or 1
    return int(sum(p["weight"] * (100 if p["state"] == DONE else p["progress"]) for p in pieces) // total)


def remaining_seconds(pieces):
    """Predicted seconds of work left: the weights of the pieces not DONE."""
    return sum(p["weight"] * (100 - p["progress"]) / 100 for p in pieces if p["state"] != DONE)


def counts(pieces):
    """{state: how many pieces are in it}."""
    out = {}
    for p in pieces:
        out[p["state"]] = out.get(p["state"], 0) + 1
    return out
