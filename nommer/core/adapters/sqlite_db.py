"""One SQLite file shared by several processes and threads.

The store and the queue adapters keep their tables in the same file. WAL lets
readers run beside the one writer; ``synchronous=NORMAL`` makes a commit an
append to the WAL without an fsync (a power cut may lose the last commits, never
corrupt the file). Each thread gets its own connection, because a connection must
not be used by two threads at once.
"""

import os
import random
import sqlite3
import threading
import time
import weakref

from nommer.core.errors import TransientError

BUSY_TIMEOUT = 30.0


def is_busy(error):
    """True for the errors that mean "another connection holds the lock, try again"."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and (
        "locked" in text or "busy" in text
    )


class _Holder:
    """Owns one thread's connection; a connection cannot be weakly referenced."""

    def __init__(self, conn, pid):
        self.conn = conn
        self.pid = pid


class SqliteDatabase:
    """Connections to one SQLite file, one per thread, with retries on a busy lock."""

    def __init__(self, path, busy_timeout=BUSY_TIMEOUT):
        self.path = os.path.abspath(os.fspath(path))
        self.busy_timeout = busy_timeout
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._local = threading.local()
        # Weak, so a finished thread's connection is closed with its thread-local.
        self._holders = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False

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
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def read(self, sql, params=()):
        """All rows of one query."""
        return self._retrying(lambda: self.connection().execute(sql, params).fetchall())

    def write(self, sql, params=()):
        """Run one statement in its own transaction; returns its cursor
        (``rowcount``, ``lastrowid``).

        A single statement is atomic by itself, which makes this the cheapest write.
        """
        return self._retrying(lambda: self.connection().execute(sql, params))

    def transaction(self, work):
        """Run ``work(connection)`` in a ``BEGIN IMMEDIATE`` transaction and commit.

        IMMEDIATE takes the write lock before the first read, so what ``work``
        reads cannot change before it writes. On a busy lock the whole of
        ``work`` runs again, so it must have no effect outside the database.
        """

        def attempt():
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return self._retrying(attempt)

    def ensure_schema(self, statements):
        """Create the tables and indexes that do not exist yet."""

        def create(conn):
            for statement in statements:
                conn.execute(statement)

        self.transaction(create)

    def _retrying(self, call):
        # The busy timeout already waits inside SQLite, but some lock conflicts
        # (opening WAL, a checkpoint) come back at once, so retry until it runs out.
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while True:
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                if time.monotonic() + pause > deadline:
                    # SQLite's form of throttling: worth retrying later.
                    raise TransientError(
                        f"database {self.path} stayed locked for {self.busy_timeout:g} s"
                    ) from error
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.25)

    def close(self):
        """Close every thread's connection; the database cannot be used after."""
        self._closed = True
        with self._lock:
            holders = list(self._holders)
        for holder in holders:
            if holder.pid == os.getpid():
                holder.conn.close()
