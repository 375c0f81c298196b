"""The job record and its state machine.

A :class:`Job` is immutable: a change makes a new record with
:meth:`Job.transition` or :meth:`Job.with_changes`, and the JobStore writes it
only if the stored version is still the one it was read at.
"""

import dataclasses
import datetime
import enum
import os
import threading
import time

from nommer.core.model import outputs
from nommer.core.errors import InvalidTransition


class State(str, enum.Enum):
    PENDING = "PENDING"
    DOWNLOADING = "DOWNLOADING"
    ENCODING = "ENCODING"
    UPLOADING = "UPLOADING"
    FINISHED = "FINISHED"
    ERROR = "ERROR"
    ABANDONED = "ABANDONED"
    CANCELED = "CANCELED"

    def __str__(self):
        return self.value

    @property
    def is_final(self):
        return self in FINAL_STATES


FINAL_STATES = frozenset({State.FINISHED, State.ERROR, State.ABANDONED, State.CANCELED})
UNFINISHED_STATES = frozenset(State) - FINAL_STATES
RUNNING_STATES = frozenset({State.DOWNLOADING, State.ENCODING, State.UPLOADING})

# Forward through the pipeline; back to PENDING when the encoder was lost or
# released the job; from any unfinished state to a final failure.
_FAILURES = {State.ERROR, State.ABANDONED, State.CANCELED}
TRANSITIONS = {
    State.PENDING: {State.DOWNLOADING} | _FAILURES,
    State.DOWNLOADING: {State.ENCODING, State.PENDING} | _FAILURES,
    State.ENCODING: {State.UPLOADING, State.PENDING} | _FAILURES,
    State.UPLOADING: {State.FINISHED, State.PENDING} | _FAILURES,
    State.FINISHED: set(),
    State.ERROR: set(),
    State.ABANDONED: set(),
    State.CANCELED: set(),
}


def can_transition(current, new):
    return State(new) in TRANSITIONS[State(current)]


def utcnow():
    """The current time as sortable ISO 8601 text (UTC, microseconds)."""
    # isoformat: the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), in half the time
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text):
    if not text:
        return None
    if len(text) == 27 and text[10] == "T" and text[-1] == "Z":
        # utcnow's own form: fromisoformat reads it tens of times faster
        # than strptime, which a burst of submissions calls for each job.
        try:
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            pass  # strptime says what is wrong
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC
    )


def age_seconds(text, now=None):
    """Seconds since the ISO time ``text``; None when there is no time."""
    when = parse_time(text)
    if when is None:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    return (now - when).total_seconds()


def time_ago(seconds):
    """The time ``seconds`` before now, as :func:`utcnow` writes it (so
    that stored times compare with it as text)."""
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.isoformat(timespec="microseconds")[:-6] + "Z"


MAX_HISTORY = 12


def bounded_history(history):
    """``history`` with its first entry (the submission) and the latest
    MAX_HISTORY - 1 kept."""
    history = tuple(tuple(h) for h in history)
    if len(history) <= MAX_HISTORY:
        return history
    return history[:1] + history[-(MAX_HISTORY - 1):]


class _RandomPool:
    """Bytes of os.urandom read 4 KiB at a time: a burst of submissions
    makes one system call per thousand ids, not one per id. A forked child
    reads its own (the parent's pool would repeat the parent's ids)."""

    SIZE = 4096

    def __init__(self):
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0
        self._pid = None

    def take(self, n):
        with self._lock:
            if self._at + n > len(self._pool) or self._pid != os.getpid():
                self._pool, self._at, self._pid = os.urandom(self.SIZE), 0, os.getpid()
            start, self._at = self._at, self._at + n
            return self._pool[start:self._at]


_RANDOM = _RandomPool()


def new_job_id():
    """A time-sortable id: 12 hex digits of milliseconds, then 8 random ones."""
    return f"{int(time.time() * 1000):012x}{_RANDOM.take(4).hex()}"


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    source: str
    outputs: tuple  # of dicts: destination, preset or options, result
    notify_url: str | None = None
    notify_format: str = "json"  # "form" for media-nommer's receivers
    state: State = State.PENDING
    details: str = ""
    error_code: str | None = None
    progress: int = 0  # overall percent, 0..100
    phases: dict | None = None  # percent per phase: download, encode, upload
    progress_events: bool = False  # whether notify_url also gets job.progress events
    # -50 to 50, MediaConvert's range: higher is taken first, FIFO within one.
    priority: int = 0
    attempt: int = 0
    encoder_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: str | None = None
    probe: dict | None = None
    # The submitted URIs, encrypted, when any carries a credential; source,
    # outputs and notify_url then hold them with the secrets hidden.
    sealed: str | None = None
    notifications: tuple = ()  # of dicts: state, attempts, status, delivered_at or error
    # What nommer did that the submission did not say (media-nommer's options
    # translated...), apart from ``details``, which says what went wrong.
    notes: tuple = ()  # of str
    # (state, at) of each state the job entered, oldest first; the first and
    # the latest MAX_HISTORY - 1 are kept, so a job released many times stays small.
    history: tuple = ()
    # Accelerated encoding (docs/accelerated.md): DISABLED, ENABLED or
    # PREFERRED, None for the farm's ``acceleration`` setting; and, once
    # planned, the pieces of the work (nommer/core/model/pieces.py).
    acceleration: str | None = None
    pieces: tuple = ()  # of dicts
    version: int = 0

    @classmethod
    def new(cls, source, outputs, notify_url=None, job_id=None, notify_format="json",
            sealed=None, progress_events=False, priority=0, acceleration=None):
        now = utcnow()
        return cls(
            id=job_id or new_job_id(),
            source=source,
            # Each output has a state of its own (see nommer/core/model/outputs.py).
            outputs=tuple({**o, "state": o.get("state") or "PENDING"} for o in outputs),
            notify_url=notify_url,
            notify_format=notify_format,
            sealed=sealed,
            progress_events=progress_events,
            priority=priority,
            acceleration=acceleration,
            created_at=now,
            updated_at=now,
            history=((State.PENDING.value, now),),
        )

    @property
    def is_final(self):
        return self.state.is_final

    def with_version(self, version):
        """The same record at ``version`` (what a store writes): its fields
        copied as they are, where dataclasses.replace would build the whole
        record again field by field, on every write."""
        copy = object.__new__(Job)
        copy.__dict__.update(self.__dict__)
        copy.__dict__["version"] = version
        return copy

    def with_changes(self, **changes):
        """The same state with other fields changed (progress, details...)."""
        if "state" in changes and State(changes["state"]) != self.state:
            raise ValueError("use transition() to change the state")
        for name in ("outputs", "notifications", "pieces"):
            if name in changes:
                changes[name] = tuple(dict(o) for o in changes[name])
        return dataclasses.replace(self, updated_at=utcnow(), **changes)

    def transition(self, new_state, **changes):
        """A new record in ``new_state``; refuses what the state machine does not allow."""
        new_state = State(new_state)
        if not can_transition(self.state, new_state):
            raise InvalidTransition(
                f"job {self.id} cannot go from {self.state} to {new_state}"
            )
        now = utcnow()
        if new_state == State.DOWNLOADING and "started_at" not in changes:
            changes["started_at"] = now
        if new_state.is_final:
            changes.setdefault("finished_at", now)
            changes["outputs"] = outputs.settled(changes.get("outputs", self.outputs), new_state.value)
            if new_state == State.FINISHED:
                changes.setdefault("progress", 100)
                changes.setdefault("phases", {"download": 100, "encode": 100, "upload": 100})
        for name in ("outputs", "pieces"):
            if name in changes:
                changes[name] = tuple(dict(o) for o in changes[name])
        if new_state != self.state:
            changes["history"] = bounded_history(self.history + ((new_state.value, now),))
        return dataclasses.replace(self, state=new_state, updated_at=now, **changes)

    def to_dict(self):
        # Field by field: dataclasses.asdict deep-copies, and this runs on
        # every write.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["state"] = self.state.value
        data["outputs"] = [dict(o) for o in self.outputs]
        data["notifications"] = [dict(n) for n in self.notifications]
        data["notes"] = list(self.notes)
        data["history"] = [list(h) for h in self.history]
        data["pieces"] = [dict(p) for p in self.pieces]
        if self.probe is not None:
            data["probe"] = dict(self.probe)
        if self.phases is not None:
            data["phases"] = dict(self.phases)
        return data

    @classmethod
    def from_dict(cls, data):
        values = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        values["state"] = State(values.get("state", State.PENDING))
        values["outputs"] = tuple(dict(o) for o in values.get("outputs", ()))
        values["notifications"] = tuple(dict(n) for n in values.get("notifications", ()))
        values["notes"] = tuple(values.get("notes") or ())
        values["history"] = tuple(tuple(h) for h in values.get("history", ()))
        values["priority"] = int(values.get("priority") or 0)
        values["pieces"] = tuple(dict(p) for p in values.get("pieces") or ())
        values["acceleration"] = values.get("acceleration") or None
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Job))


def pending_since(job):
    """When ``job`` last became PENDING (epoch seconds): its latest history
    entry when that is PENDING, else its creation."""
    if job.history and job.history[-1][0] == State.PENDING.value:
        text = job.history[-1][1]
    else:
        text = job.created_at
    when = parse_time(text)
    return when.timestamp() if when else None


def oldest_pending(jobs):
    """The earliest pending_since of the PENDING ``jobs``; None when none is."""
    times = [t for t in (pending_since(j) for j in jobs if j.state == State.PENDING) if t is not None]
    return min(times) if times else None
