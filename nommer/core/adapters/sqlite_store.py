"""The JobStore on a SQLite file (the embedded default).

A job is one row: the fields that queries filter on in columns, the whole record
as JSON in ``data``. Writes are conditional on ``version`` and on the state
machine, both checked inside the one UPDATE statement, so no lock is held
between a read and a write.
"""

import base64
import binascii
import dataclasses
import json
import sqlite3

from nommer.core.adapters.sqlite_db import SqliteDatabase
from nommer.core.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StaleWrite,
)
from nommer.core.jobs import TRANSITIONS, UNFINISHED_STATES, Job, State, utcnow
from nommer.core.store import JobStore

MAX_PAGE = 1000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_state_id ON jobs (state, id)",
    """CREATE TABLE IF NOT EXISTS encoders (
        id TEXT PRIMARY KEY,
        last_seen TEXT NOT NULL,
        info TEXT NOT NULL
    )""",
)

# The states a job may be in before it moves to the key; staying put is allowed.
_PREDECESSORS = {
    state: sorted({state} | {s for s, nexts in TRANSITIONS.items() if state in nexts})
    for state in State
}

_CURSOR_PREFIX = b"j1:"


def encode_cursor(job_id):
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + job_id.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The job id a cursor names; InvalidInput when it is not one of ours."""
    try:
        raw = base64.b64decode(
            cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True
        )
        if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
            raise ValueError
        return raw[len(_CURSOR_PREFIX):].decode()
    except (TypeError, ValueError, binascii.Error):
        raise InvalidInput("cursor", "is not a cursor this list returned") from None


def _states(state):
    """The list of state names a ``state`` argument asks for; None for all."""
    if state is None:
        return None
    try:
        wanted = [state] if isinstance(state, str) else list(state)
        return sorted({State(s).value for s in wanted})
    except (TypeError, ValueError):
        raise InvalidInput(
            "state", f"must be one of {', '.join(s.value for s in State)}"
        ) from None


def _marks(items):
    return ",".join("?" * len(items))


def _job(data):
    return Job.from_dict(json.loads(data))


class SqliteJobStore(JobStore):
    """Jobs and encoder heartbeats in the SQLite file at ``path``."""

    def __init__(self, path, busy_timeout=30.0):
        self.db = SqliteDatabase(path, busy_timeout=busy_timeout)
        self.db.ensure_schema(SCHEMA)

    def create(self, job):
        if job.version != 0:
            raise ValueError(f"a new job has version 0, not {job.version}")
        stored = dataclasses.replace(job, version=1)
        try:
            self.db.write(
                "INSERT INTO jobs (id, state, created_at, updated_at, version, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                self._row(stored),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"job {job.id} already exists") from None
        return stored

    def get(self, job_id):
        rows = self.db.read("SELECT data FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no job {job_id}")
        return _job(rows[0][0])

    def update(self, job):
        """See JobStore.update; also raises InvalidTransition when the stored
        state may not move to ``job.state`` (a record forged past Job.transition)."""
        stored = dataclasses.replace(job, version=job.version + 1)
        allowed = _PREDECESSORS[State(job.state)]
        changed = self.db.write(
            "UPDATE jobs SET state = ?, created_at = ?, updated_at = ?, version = ?,"
            " data = ? WHERE id = ? AND version = ?"
            f" AND state IN ({_marks(allowed)})",
            (*self._row(stored)[1:], job.id, job.version, *allowed),
        ).rowcount
        if changed:
            return stored
        # The write lost; only now is it worth a read to say why.
        rows = self.db.read("SELECT state, version FROM jobs WHERE id = ?", (job.id,))
        if not rows:
            raise NotFound(f"no job {job.id}")
        state, version = rows[0]
        if version != job.version:
            raise StaleWrite(
                f"job {job.id} changed since it was read"
                f" (version {version}, not {job.version})"
            )
        raise InvalidTransition(f"job {job.id} cannot go from {state} to {job.state}")

    def list(self, state=None, limit=50, cursor=None):
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_PAGE}")
        where, params = [], []
        states = _states(state)
        if states is not None:
            where.append(f"state IN ({_marks(states)})")
            params += states
        if cursor is not None:
            where.append("id < ?")
            params.append(decode_cursor(cursor))
        sql = "SELECT id, data FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # One row more than asked tells whether there is a next page.
        rows = self.db.read(sql + " ORDER BY id DESC LIMIT ?", (*params, limit + 1))
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1][0]) if len(rows) > limit else None
        return [_job(data) for _, data in page], next_cursor

    def unfinished(self):
        states = sorted(s.value for s in UNFINISHED_STATES)
        rows = self.db.read(
            f"SELECT data FROM jobs WHERE state IN ({_marks(states)}) ORDER BY id",
            states,
        )
        return [_job(data) for (data,) in rows]

    def counts(self):
        rows = self.db.read("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return dict(rows)

    def heartbeat(self, encoder_id, info):
        self.db.write(
            "INSERT INTO encoders (id, last_seen, info) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
            " info = excluded.info",
            (encoder_id, utcnow(), json.dumps(info)),
        )

    def encoders(self):
        rows = self.db.read("SELECT id, last_seen, info FROM encoders ORDER BY id")
        return [
            {"id": id_, "last_seen": last_seen, "info": json.loads(info)}
            for id_, last_seen, info in rows
        ]

    def forget_encoder(self, encoder_id):
        self.db.write("DELETE FROM encoders WHERE id = ?", (encoder_id,))

    def close(self):
        self.db.close()

    @staticmethod
    def _row(job):
        return (
            job.id,
            State(job.state).value,
            job.created_at,
            job.updated_at,
            job.version,
            json.dumps(job.to_dict(), separators=(",", ":")),
        )
