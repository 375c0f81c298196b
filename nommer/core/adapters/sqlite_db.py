"""One SQLite file shared by several processes and threads.

The store and the queue adapters keep their tables in the same file. WAL lets
readers run beside the one writer. With ``synchronous=FULL`` (the default,
the ``sqlite_synchronous`` setting) a commit returns once the WAL is synced
to disk: it survives the death of the process and a power cut. ``NORMAL``
appends to the WAL without an fsync: a commit survives the death of the
process (SIGKILL included) as soon as it returns, and a power cut may lose
the last commits, never corrupt the file. Each thread gets its own connection for
reading, because a connection must not be used by two threads at once.

Writes are committed in groups (see :class:`GroupCommit`): the writes that
threads of one process make at the same moment share one transaction, so a
burst of submissions costs one commit per group instead of one per write.
Every writer still returns only after its own write is committed. The
groups of one database are all run on its one writing connection (only one
group runs at a time), whose page cache stays warm between them, where the
connection of whichever thread led would have to read again the pages that
other connections changed.
"""

import collections
import os
import random
import sqlite3
import threading
import time
import weakref

from nommer.core.errors import TransientError
from nommer.core.retrying import deadline_at

BUSY_TIMEOUT = 30.0
# The longest one try waits inside SQLite for another connection's lock;
# the tries go on (SqliteDatabase._retrying) until the busy timeout, or the
# thread's deadline (nommer.core.retrying.deadline), runs out.
LOCK_WAIT = 0.1


def is_busy(error):
    """True for the errors that mean "another connection holds the lock, try again"."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and (
        "locked" in text or "busy" in text
    )


Written = collections.namedtuple("Written", "rowcount lastrowid")
Written.__doc__ = "What a committed statement did: rows changed and the last row id inserted."


# PRAGMA synchronous values a database may be opened with.
SYNCHRONOUS = ("FULL", "NORMAL")

class CommitFailed(sqlite3.DatabaseError):
    """The transaction of a group could not be committed: nothing of it is
    stored, whichever write caused it."""


class _Statement:
    """One statement of a group."""

    __slots__ = ("sql", "params")

    def __init__(self, sql, params):
        self.sql = sql
        self.params = params

    def run(self, conn):
        cursor = conn.execute(self.sql, self.params)
        return Written(cursor.rowcount, cursor.lastrowid)


class _Work:
    """A function of the connection, run in its group's transaction. When
    it raises, the group's transaction is rolled back and run again without
    it (see GroupCommit._run), so that only what it did is undone."""

    __slots__ = ("work",)

    def __init__(self, work):
        self.work = work

    def run(self, conn):
        return self.work(conn)


class _Pending:
    """A write waiting for its group's commit, and then its outcome.
    ``wake`` is held until the writer's turn comes: its write is done, or
    it is to lead the next group."""

    __slots__ = ("write", "database", "result", "error", "done", "wake", "until")

    def __init__(self, write, database, until):
        self.write = write
        self.database = database  # the SqliteDatabase it was written through
        self.result = None
        self.error = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()
        self.until = until  # the writer's deadline (time.monotonic), or None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """The writes that threads of one process make to one database file at
    the same moment, committed in one transaction.

    A writer adds its write to ``_pending``. When no group is being
    committed it leads: it takes every pending write and commits them in one
    transaction on its database's writing connection (or, when that
    database was closed meanwhile, another open one's of the group), then
    wakes their writers. Otherwise
    it waits, and either its write was in the group just committed, or it
    leads the next group with whatever arrived in the meantime. A writer alone
    commits at once, so grouping adds no wait; under load the group is as
    large as the writers that arrived during the last commit (at most one
    write per waiting thread, so there is no limit to keep).

    Each writer returns only after the commit of its own write, or raises
    its own error: a statement or work that fails is undone alone (a
    statement is atomic; the transaction is run again without a work that
    failed) and the rest of the group commits; when SQLite ends the whole transaction over one write (a
    full disk), that write gets the error and the others run again in a new
    transaction; when the commit itself fails, nothing of the group is
    stored and every writer in it gets that error.

    A writer with a deadline (nommer.core.retrying.deadline: an HTTP
    request's thread) waits no longer: a group with its write in it gives
    up trying to take a lock another process holds when the first deadline
    in the group passes (each of its writers gets a TransientError, worth
    another try), and a writer still waiting for its group when its deadline
    passes takes its write back and gets a TransientError, nothing written.

    Threads: every writing thread of the process enters :meth:`commit`;
    ``_lock`` guards ``_pending``, ``_leading`` and the counters. The leader
    runs the transaction without holding ``_lock``, so writers keep arriving
    while it commits. A waiting writer sleeps on its own ``wake`` lock; the
    leader sets each outcome, then ``done``, then releases the ``wake`` of
    each writer of its group (no other thread is woken for nothing) and of
    the first writer waiting for the next group, which leads it.
    """

    _groups = {}  # (path, synchronous, pid): GroupCommit
    _groups_lock = threading.Lock()

    def __init__(self, path=""):
        self.path = path
        self._lock = threading.Lock()
        self._pending = []
        self._leading = False
        self._leader = None  # the thread id of the leader while it commits
        #: groups committed and writes in them, for tests and benchmarks
        self.groups = 0
        self.writes = 0

    @classmethod
    def of(cls, path, synchronous="FULL"):
        """The group of the file at ``path`` (absolute) in this process for
        the databases opened with ``synchronous``; the store and the queues
        of one file share it. A group commits on its leader's connection, so
        a database that syncs each commit never shares one with a database
        that does not. A forked child gets its own: the parent's may have
        been mid-commit at the fork."""
        key = (path, synchronous, os.getpid())
        group = cls._groups.get(key)
        if group is None:
            with cls._groups_lock:
                group = cls._groups.setdefault(key, cls(path))
        return group

    def commit(self, write, database):
        """Commit ``write`` (a :class:`_Statement` or :class:`_Work`),
        written through ``database`` (a :class:`SqliteDatabase` of this
        file), in a group; returns its result once committed, or raises its
        error. A leader runs its group on its own database's writing
        connection, or, when that database was closed meanwhile, on that of
        another database of the group still open."""
        if self._leader == threading.get_ident():
            # A work that writes through the database instead of its
            # connection would wait for its own group's commit for ever.
            raise RuntimeError("a write inside a group's transaction: use the connection given to the work")
        until = deadline_at()
        pending = _Pending(write, database, until)
        with self._lock:
            self._pending.append(pending)
            leads = not self._leading
            self._leading = True
        if not leads:
            # released by a leader: done, or to lead
            if until is None:
                pending.wake.acquire()
            elif not pending.wake.acquire(timeout=max(0.0, until - time.monotonic())):
                self._withdraw(pending)
            if pending.done:
                return pending.outcome()
        self._leader = threading.get_ident()
        # Give up the GIL once before taking the group: threads that are a
        # few statements away from their own write join this group instead
        # of waiting a whole commit for the next (it doubles the group in a
        # burst of submissions); with none, this returns at once.
        time.sleep(0)
        with self._lock:
            group, self._pending = self._pending, []
        try:
            self._lead(group, database)
        finally:
            self._leader = None
            with self._lock:
                self.groups += 1
                self.writes += len(group)
                # Wake exactly the writers of this group, and the first
                # writer that arrived meanwhile to lead the next one.
                for p in group:
                    p.done = True
                    if p is not pending:
                        p.wake.release()
                if self._pending:
                    self._pending[0].wake.release()
                else:
                    self._leading = False
        return pending.outcome()

    def _withdraw(self, pending):
        """The deadline of ``pending``'s writer passed while it waited: take
        its write back and raise TransientError, unless a leader has taken
        it into a group already; then wait for that group's outcome (a group
        gives up at the first deadline in it)."""
        with self._lock:
            if any(p is pending for p in self._pending):
                self._pending = [p for p in self._pending if p is not pending]
                if pending.wake.acquire(blocking=False):
                    # Woken meanwhile to lead the next group: pass that on.
                    if self._pending:
                        self._pending[0].wake.release()
                    else:
                        self._leading = False
                raise TransientError(f"database {self.path} was kept busy by other writes past "
                                     "this write's deadline; nothing was written")
        pending.wake.acquire()  # in a group now: its outcome comes soon

    @staticmethod
    def _lead(group, own):
        """Run ``group`` on the writing connection of ``own`` or, when it is
        closed, of the first database of the group still open; each write
        fails when every one is closed."""
        for database in dict.fromkeys([own] + [p.database for p in group]):
            conn = database._use()
            if conn is None:
                continue  # closed
            try:
                GroupCommit._commit(group, conn, database._retrying)
            finally:
                database._using.release()
            return
        for p in group:
            p.error = sqlite3.ProgrammingError(f"database {own.path} is closed")

    @staticmethod
    def _commit(group, conn, retrying):
        """Run ``group``'s transaction; sets each write's outcome."""
        until = [p.until for p in group if p.until is not None]
        try:
            retrying(lambda: GroupCommit._run(conn, group), until=min(until) if until else None)
        except TransientError as error:
            for p in group:
                p.error = error  # locked too long: worth another try, by each
        except BaseException as error:
            # Nothing of the group is stored. Each writer gets a CommitFailed,
            # never the error as it came: an IntegrityError at COMMIT (a
            # deferred constraint) must not read as the writer's own.
            failed = CommitFailed(f"the commit of {len(group)} writes failed, none was stored: {error}")
            failed.__cause__ = error
            for p in group:
                p.error = failed
            if not isinstance(error, Exception):
                raise  # an interrupt of the leader's own thread goes on up

    @staticmethod
    def _run(conn, group):
        """Run every write of ``group`` in one transaction and commit it.
        Sets each write's result or error. Raises (after a rollback) when
        the transaction could not begin or commit: a busy lock, to be tried
        again whole, or an error that every write of the group shares.

        A write that fails gets its error and the transaction runs again
        without it (no savepoint per write: two statements fewer for each
        of the writes that succeed, which is nearly all). The writes before
        it run again, and each answers with what its last run did, the one
        committed: another connection may have committed between the
        rollback and the new BEGIN, so that a run again finds other rows.
        """
        todo = group
        while todo:
            failed = None
            conn.execute("BEGIN IMMEDIATE")
            try:
                for p in todo:
                    p.result = p.error = None
                    try:
                        p.result = p.write.run(conn)
                    except Exception as error:
                        if is_busy(error):
                            raise  # the whole group again, after a pause
                        p.error = error
                        if isinstance(p.write, _Statement) and conn.in_transaction:
                            continue  # atomic: it did nothing
                        failed = p
                        break
                if failed is None:
                    conn.execute("COMMIT")
                    return
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            todo = [p for p in todo if p is not failed]


class _Holder:
    """Owns one thread's connection; a connection cannot be weakly referenced."""

    def __init__(self, conn, pid):
        self.conn = conn
        self.pid = pid


class SqliteDatabase:
    """Connections to one SQLite file, one per thread, with retries on a busy lock."""

    def __init__(self, path, busy_timeout=BUSY_TIMEOUT, synchronous="FULL"):
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
        self.path = os.path.abspath(os.fspath(path))
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._local = threading.local()
        # Weak, so a finished thread's connection is closed with its thread-local.
        self._holders = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._writer = None  # (connection, pid): the one that runs the groups' transactions
        # Held while a group runs on the writing connection: close() waits
        # for it. Reentrant, so that a close from inside a group's work
        # cannot wait for itself.
        self._using = threading.RLock()

    def connection(self):
        """This thread's connection, opened on first use."""
        if self._closed:
            raise sqlite3.ProgrammingError(f"database {self.path} is closed")
        holder = getattr(self._local, "holder", None)
        # After a fork the inherited connection belongs to the parent.
        if holder is None or holder.pid != os.getpid():
            holder = _Holder(self._retrying(self._open), os.getpid())
            weakref.finalize(holder, holder.conn.close)
            self._local.holder = holder
            with self._lock:
                self._holders.add(holder)
        return holder.conn

    def _open(self):
        # isolation_level=None: no implicit BEGIN; transactions are explicit.
        conn = sqlite3.connect(
            self.path,
            timeout=min(self.busy_timeout, LOCK_WAIT),
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
        except BaseException:
            conn.close()
            raise
        return conn

    def read(self, sql, params=()):
        """All rows of one query."""
        return self._retrying(lambda: self.connection().execute(sql, params).fetchall())

    def write(self, sql, params=()):
        """Run one statement and commit it, in a group with the writes other
        threads make at the same time (see :class:`GroupCommit`); returns its
        :class:`Written` (``rowcount``, ``lastrowid``) once committed.

        A statement is atomic by itself: when it fails (a constraint), only
        it is undone, its caller gets the error and the others of the group
        commit.
        """
        return self._group_write(_Statement(sql, params))

    def transaction(self, work):
        """Run ``work(connection)`` atomically and commit; returns what it returns.

        It runs inside a transaction that took the write lock before its
        first statement (``BEGIN IMMEDIATE``), so what ``work`` reads cannot
        change before it writes, possibly beside other threads' writes of the
        same group: when ``work`` raises, only what it did is undone (the
        group's transaction runs again without it). On a busy lock, or when
        another write of the group raises, the group runs again, so ``work``
        must have no effect outside the database, and it must use only the
        connection it is given.
        """
        return self._group_write(_Work(work))

    def _group_write(self, write):
        # The connection first: a closed database fails here, before the
        # write joins a group that another thread's writes share.
        self._writing()
        return GroupCommit.of(self.path, self.synchronous).commit(write, self)

    def _use(self):
        """The writing connection, held (``_using``) for one group to run
        on, or None, holding nothing, when this database is closed."""
        self._using.acquire()
        writer = self._writer
        if self._closed or writer is None or writer[1] != os.getpid():
            self._using.release()
            return None
        return writer[0]

    def _writing(self):
        """The connection this database runs its groups' transactions on,
        opened on first use: only a group's leader uses it, and one group
        runs at a time."""
        if self._closed:
            raise sqlite3.ProgrammingError(f"database {self.path} is closed")
        writer = self._writer
        # After a fork the inherited connection belongs to the parent.
        if writer is None or writer[1] != os.getpid():
            with self._lock:
                if self._closed:  # closed meanwhile: open nothing close() would miss
                    raise sqlite3.ProgrammingError(f"database {self.path} is closed")
                writer = self._writer
                if writer is None or writer[1] != os.getpid():
                    writer = self._writer = (self._retrying(self._open), os.getpid())
        return writer[0]

    def ensure_schema(self, statements):
        """Create the tables and indexes that do not exist yet."""

        def create(conn):
            for statement in statements:
                conn.execute(statement)

        self.transaction(create)

    def _retrying(self, call, until=None):
        # Each try waits inside SQLite for a while (LOCK_WAIT), and some lock
        # conflicts (opening WAL, a checkpoint) come back at once, so retry
        # until the busy timeout, or the thread's deadline, runs out.
        started = time.monotonic()
        deadline = started + self.busy_timeout
        until = deadline_at() if until is None else until
        if until is not None:
            deadline = min(deadline, until)
        pause = 0.005
        while True:
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                if time.monotonic() + pause > deadline:
                    # SQLite's form of throttling: worth retrying later.
                    waited = max(time.monotonic() - started, 0.0)
                    raise TransientError(
                        f"database {self.path} stayed locked for {waited:.3g} s"
                    ) from error
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.25)

    def close(self):
        """Close every thread's connection; the database cannot be used
        after. A group running on its writing connection (with writes of
        other databases of the file, maybe) ends first; groups after it
        run on another database's."""
        self._closed = True
        with self._using:
            with self._lock:
                holders = list(self._holders)
                writer, self._writer = self._writer, None
            if writer is not None and writer[1] == os.getpid():
                writer[0].close()
        for holder in holders:
            if holder.pid == os.getpid():
                holder.conn.close()
