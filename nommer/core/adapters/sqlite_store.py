"""The JobStore on a SQLite file (the embedded default).

A job is one row: the fields that queries filter on in columns, the whole record
as JSON in ``data``. Writes are conditional on ``version`` and on the state
machine, both checked inside the one UPDATE statement, so no lock is held
between a read and a write. Jobs that finished more than ``retention_days``
ago are deleted on a create, in bounded rounds: once an hour, or on the next
create while a backlog remains.
"""

import datetime
import json
import sqlite3
import time

from nommer.core.adapters.sqlite_db import SqliteDatabase
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.errors import (
    AlreadyExists,
    InvalidTransition,
    NotFound,
    StaleWrite,
)
from nommer.core.model.jobs import FINAL_STATES, UNFINISHED_STATES, Job, State, utcnow
from nommer.core.ports.store import (
    PREDECESSORS,
    JobStore,
    check_limit,
    decode_cursor,
    encode_cursor,
    state_names,
)

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

INSERT = ("INSERT INTO jobs (id, state, created_at, updated_at, version, data)"
          " VALUES (?, ?, ?, ?, ?, ?)")

PURGE_EVERY = 3600.0  # seconds between two looks for expired jobs
PURGE_BATCH = 500  # jobs deleted per statement, so no write holds the lock long
PURGE_BATCHES = 10  # statements per round, so no create waits long


def _marks(items):
    return ",".join("?" * len(items))


def _job(data):
    return Job.from_dict(json.loads(data))


class SqliteJobStore(JobStore):
    """Jobs and encoder heartbeats in the SQLite file at ``path``."""

    def __init__(self, path, busy_timeout=30.0, retention_days=0, synchronous="FULL"):
        self.db = SqliteDatabase(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self.db.ensure_schema(SCHEMA)
        self.retention_days = retention_days
        self._next_purge = 0.0  # monotonic time of the next purge on create

    def create(self, job):
        stored = self._new(job)
        try:
            self.db.write(INSERT, self._row(stored))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"job {job.id} already exists") from None
        return stored

    def queues_here(self, *queues):
        """The SqliteWorkQueues behind ``queues`` (each bare or in a
        RetryingQueue) when every one keeps its messages in this store's
        file, so that :meth:`create_queued` and :meth:`update_queued` can
        write a job and its messages in one transaction; None otherwise (another backend, or a
        wrapper of the queue's calls that such a write would go around)."""
        bare = [getattr(q, "inner", q) for q in queues]
        if all(isinstance(q, SqliteWorkQueue) and q.db.path == self.db.path for q in bare):
            return tuple(bare)
        return None

    def create_queued(self, job, messages):
        """:meth:`create` the job and, in the same transaction, send each
        ``(queue, body, priority)`` of ``messages(stored)`` (the stored job:
        version 1), each queue one of :meth:`queues_here`; returns the
        stored job once all of it is committed. Nothing is written when any
        part fails. The receivers are not woken: ring each queue after."""
        stored = self._new(job)
        row = self._row(stored)
        sends = messages(stored)

        def work(conn):
            try:
                conn.execute(INSERT, row)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"job {job.id} already exists") from None
            for queue, body, priority in sends:
                if queue.db.path != self.db.path:
                    raise ValueError(f"queue {queue.name!r} is not in {self.db.path}")
                queue.insert(conn, body, priority)

        self.db.transaction(work)
        return stored

    def _new(self, job):
        if job.version != 0:
            raise ValueError(f"a new job has version 0, not {job.version}")
        if self.retention_days > 0 and time.monotonic() >= self._next_purge:
            # A full round may have left more behind: the next create goes on.
            full = self.purge_expired() == PURGE_BATCH * PURGE_BATCHES
            self._next_purge = time.monotonic() + (0.0 if full else PURGE_EVERY)
        return job.with_version(1)

    def get(self, job_id):
        rows = self.db.read("SELECT data FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no job {job_id}")
        return _job(rows[0][0])

    def versions(self, job_ids):
        """See JobStore.versions: one look at the version column, the records unread."""
        ids = list(dict.fromkeys(job_ids))
        found = {}
        for start in range(0, len(ids), 500):  # SQLite's limit of parameters is higher
            chunk = ids[start:start + 500]
            found.update(self.db.read(f"SELECT id, version FROM jobs WHERE id IN ({_marks(chunk)})", chunk))
        return found

    def update(self, job):
        """See JobStore.update; also raises InvalidTransition when the stored
        state may not move to ``job.state`` (a record forged past Job.transition)."""
        stored = job.with_version(job.version + 1)
        sql, params = self._update(job, stored)
        if self.db.write(sql, params).rowcount:
            return stored
        self._lost(job)

    def update_queued(self, job, messages):
        """:meth:`update` the job and, in the same transaction, send each
        ``(queue, body, priority)`` of ``messages(stored)`` (the stored job),
        each queue one of :meth:`queues_here`; nothing is sent when the
        write loses. The receivers are not woken: ring each queue after."""
        stored = job.with_version(job.version + 1)
        sql, params = self._update(job, stored)
        sends = messages(stored)
        for queue, _body, _priority in sends:
            if queue.db.path != self.db.path:
                raise ValueError(f"queue {queue.name!r} is not in {self.db.path}")

        def work(conn):
            if not conn.execute(sql, params).rowcount:
                return False
            for queue, body, priority in sends:
                queue.insert(conn, body, priority)
            return True

        if self.db.transaction(work):
            return stored
        self._lost(job)

    def _update(self, job, stored):
        """The conditional UPDATE that writes ``stored`` over ``job``."""
        allowed = PREDECESSORS[State(job.state)]
        return ("UPDATE jobs SET state = ?, created_at = ?, updated_at = ?, version = ?,"
                " data = ? WHERE id = ? AND version = ?"
                f" AND state IN ({_marks(allowed)})",
                (*self._row(stored)[1:], job.id, job.version, *allowed))

    def _lost(self, job):
        """Raise why the write of ``job`` changed nothing: only now is it
        worth a read to say."""
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
        check_limit(limit)
        where, params = [], []
        states = state_names(state)
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

    def idle(self, states, before):
        """See JobStore.idle: the rows are picked by SQLite (the state's
        index, then each row's updated_at), not read and decoded here."""
        names = sorted(State(s).value for s in states if not State(s).is_final)
        if not names:
            return []
        rows = self.db.read(
            f"SELECT data FROM jobs WHERE state IN ({_marks(names)}) AND updated_at < ? ORDER BY id",
            (*names, before),
        )
        return [_job(data) for (data,) in rows]

    def counts(self, states=None):
        if states is None:
            return dict(self.db.read("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
        names = state_names(states)
        rows = self.db.read(f"SELECT state, COUNT(*) FROM jobs WHERE state IN ({_marks(names)})"
                            " GROUP BY state", names)
        return dict(rows)

    def purge_expired(self, now=None, batches=None):
        """Delete the jobs that reached a final state more than
        ``retention_days`` ago (none when it is 0), at most ``batches`` ×
        PURGE_BATCH of them; returns how many."""
        if self.retention_days <= 0:
            return 0
        now = now or datetime.datetime.now(datetime.UTC)
        limit = (now - datetime.timedelta(days=self.retention_days)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        finals = sorted(s.value for s in FINAL_STATES)
        deleted = 0
        for _ in range(PURGE_BATCHES if batches is None else batches):
            # finished_at is sortable ISO text; the (state, id) index finds
            # the final jobs without reading the unfinished ones.
            gone = self.db.write(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                f" WHERE state IN ({_marks(finals)})"
                " AND json_extract(data, '$.finished_at') < ? LIMIT ?)",
                (*finals, limit, PURGE_BATCH),
            ).rowcount
            deleted += gone
            if gone < PURGE_BATCH:
                break
        return deleted

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
