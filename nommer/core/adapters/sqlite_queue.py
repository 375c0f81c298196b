"""The WorkQueue on a SQLite table, with SQS's visibility-timeout semantics.

A message is hidden while ``visible_at`` is in the future. Receiving sets it to
now + timeout and a fresh receipt, so a consumer whose timeout lapsed loses the
message to the next receiver and its old receipt stops working.

A receiver that waits does not poll the table: it sleeps on a :class:`Doorbell`
that every ``send`` (in any process on this machine) rings after its commit.
"""

import hashlib
import itertools
import logging
import os
import secrets
import select
import socket
import stat
import threading
import time

from nommer.core.adapters.sqlite_db import SqliteDatabase
from nommer.core.ports.queue import Message, WorkQueue

log = logging.getLogger(__name__)

MAX_MESSAGES = 10  # SQS's limit, so callers behave the same on both
MAX_TIMEOUT = 12 * 3600  # SQS's limit
# A receiver re-checks the table at least this often: a message whose timeout
# lapses rings no bell, and a ring can be lost (a full socket buffer, a removed file).
FALLBACK_WAIT = 1.0
BELL_ROOT = f"/tmp/nommer-bells-{os.getuid()}"
# At most this many receiving threads of one queue keep their Listener
# between waits.
KEPT_LISTENERS = 8

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS queue_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,
        body TEXT NOT NULL,
        visible_at REAL NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt TEXT,
        sent_at REAL NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0
    )""",
    # Serves the next-visible peek and depth with one range scan.
    """CREATE INDEX IF NOT EXISTS queue_messages_visible
        ON queue_messages (queue, visible_at, id)""",
)
# A file made before priorities has the table without the column.
UPGRADE = "ALTER TABLE queue_messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"
SEND = ("INSERT INTO queue_messages (queue, body, visible_at, sent_at, priority)"
        " VALUES (?, ?, ?, ?, ?)")
PRIORITY_INDEX = """CREATE INDEX IF NOT EXISTS queue_messages_priority
    ON queue_messages (queue, priority DESC, visible_at, id)"""


def _private_dir(path):
    """Make ``path`` a folder only this user can enter; OSError when it is not."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    # /tmp is shared: refuse a folder (or symlink) someone else planted.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private folder of this user")


class _Sender:
    """One unbound datagram socket per process for ringing; sendto is thread-safe."""

    _lock = threading.Lock()
    _sock = None
    _pid = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._pid != os.getpid():
                cls._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # Never block a send on a waiter whose buffer is full; it is rung already.
                cls._sock.setblocking(False)
                cls._pid = os.getpid()
            return cls._sock


class Listener:
    """A bound socket in the doorbell's folder, kept by a receiving thread
    between its waits; rings that come between them are drained before the
    look that precedes the next wait."""

    _names = itertools.count()

    def __init__(self, folder):
        name = f"{os.getpid()}-{threading.get_native_id()}-{next(self._names)}"
        self.folder = folder
        self.path = os.path.join(folder, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self._bind()
        except BaseException:
            self.sock.close()
            raise

    def _bind(self):
        for tries_left in reversed(range(3)):
            _private_dir(os.path.dirname(self.folder))
            _private_dir(self.folder)
            try:
                # A file left by a crashed process whose pid came round again.
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            try:
                return self.sock.bind(self.path)
            except FileNotFoundError:
                # The last listener removed the folder after we made it.
                if not tries_left:
                    raise

    def drain(self):
        """Forget the rings that came so far."""
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, OSError):
                return

    def alive(self):
        """Whether its file is still there to be rung (a folder cleaned by
        someone else leaves the socket deaf)."""
        return os.path.exists(self.path)

    def wait(self, timeout):
        """Sleep until rung or ``timeout`` seconds pass; True when rung."""
        readable, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        rung = bool(readable)
        while rung:
            try:
                self.sock.recv(64)
            except BlockingIOError:
                break
        return rung

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        try:
            # Queues come and go (a test makes hundreds); leave no empty folders.
            os.rmdir(self.folder)
        except OSError:
            pass  # another waiter is in it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Doorbell:
    """Wakes every receiver waiting on one queue, in any process of this user.

    Each receiving thread binds a unix datagram socket in the queue's folder
    (see Listener); ringing sends one byte to every socket there.
    """

    def __init__(self, key):
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        # Short on purpose: a socket path must fit in 108 bytes.
        self.folder = os.path.join(BELL_ROOT, digest)

    def listen(self):
        """A Listener to wait on; OSError when the folder cannot be used."""
        return Listener(self.folder)

    def ring(self):
        """Wake the waiters; never raises: a ring is a hint, and a waiter
        not woken looks again after its wait (``poll_wait``) all the same."""
        try:
            names = os.listdir(self.folder)
            sock = _Sender.get()
        except OSError:
            return  # no waiter's folder, or none that can be reached
        for name in names:
            path = os.path.join(self.folder, name)
            try:
                sock.sendto(b"!", path)
            except ConnectionRefusedError:
                # Nobody is bound there any more: its process died without cleaning up.
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            except (FileNotFoundError, BlockingIOError):
                pass  # it stopped waiting, or it has a ring pending already
            except OSError:
                pass  # a ring is a hint; the fallback wait catches what it misses


def _is_number(value, kinds=(int, float)):
    return isinstance(value, kinds) and not isinstance(value, bool)


def _check_timeout(value):
    if not _is_number(value) or not 0 <= value <= MAX_TIMEOUT:
        raise ValueError(f"visibility timeout must be 0 to {MAX_TIMEOUT} seconds, not {value!r}")
    return value


def _message_id(receipt):
    """The message id a receipt names, or None when it is not a receipt of ours."""
    head, dot, _ = str(receipt).partition(".")
    return int(head) if dot and head.isdigit() else None


class SqliteWorkQueue(WorkQueue):
    """The queue ``name`` in the SQLite file at ``path``; several queues share a file.

    ``receive_attempts`` counts the times this object looked for messages in the
    table, so a test can tell waiting from spinning.
    """

    ordered = True
    prioritized = True

    def __init__(self, path, name, visibility_timeout=30.0, busy_timeout=30.0, synchronous="FULL"):
        self.db = SqliteDatabase(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self.db.ensure_schema(SCHEMA)
        self._upgrade()
        self.name = name
        self.visibility_timeout = _check_timeout(visibility_timeout)
        self.bell = Doorbell(f"{self.db.path}\0{name}")
        self.receive_attempts = 0
        self._closed = False
        # Each receiving thread's Listener between its waits, made at its
        # first and kept for the next: binding one costs far more than the
        # look at the table it spares. A Listener in a wait is out of the
        # dict, so close() leaves it to that receive to close.
        self._listeners = {}
        self._listeners_lock = threading.Lock()

    def _upgrade(self):
        columns = {row[1] for row in self.db.read("PRAGMA table_info(queue_messages)")}
        if "priority" not in columns:
            try:
                self.db.write(UPGRADE)
            except Exception:
                # Another process added it first.
                columns = {row[1] for row in self.db.read("PRAGMA table_info(queue_messages)")}
                if "priority" not in columns:
                    raise
        self.db.write(PRIORITY_INDEX)

    def send(self, body, priority=0):
        """See WorkQueue.send: a higher ``priority`` is received first."""
        cursor = self.db.write(SEND, self._row(body, priority))
        self.bell.ring()
        return str(cursor.lastrowid)

    def insert(self, conn, body, priority=0):
        """Add a message as :meth:`send` does, but inside the transaction
        of ``conn`` (a connection to this queue's file, as
        SqliteDatabase.transaction gives a work), so that it commits with
        whatever else that transaction writes; returns its id. No receiver
        is woken: call :meth:`ring` once the transaction is committed."""
        return str(conn.execute(SEND, self._row(body, priority)).lastrowid)

    def ring(self):
        """Wake the receivers waiting on this queue (after an insert's commit)."""
        self.bell.ring()

    def _row(self, body, priority):
        if not isinstance(body, str):
            raise TypeError(f"a message body is text, not {type(body).__name__}")
        if not _is_number(priority, int):
            raise ValueError(f"priority must be a whole number, not {priority!r}")
        now = time.time()
        return (self.name, body, now, now, priority)

    def receive(self, max_messages=1, visibility_timeout=None, wait_seconds=0.0):
        """See WorkQueue.receive. Messages come by priority, highest first, and
        within one in the order they became visible (sending order for fresh ones). ``max_messages`` is 1 to 10, as on SQS."""
        if not _is_number(max_messages, int) or not 1 <= max_messages <= MAX_MESSAGES:
            raise ValueError(f"max_messages must be 1 to {MAX_MESSAGES}, not {max_messages!r}")
        timeout = _check_timeout(
            self.visibility_timeout if visibility_timeout is None else visibility_timeout
        )
        deadline = time.monotonic() + wait_seconds
        messages, _ = self._take(max_messages, timeout)
        if messages or wait_seconds <= 0:
            return messages
        key, listener = self._listener()
        try:
            if listener is not None:
                listener.drain()  # rings of sends the look above saw, or older
            while not self._closed:
                # Listening before this look means a send committed after it rings us.
                messages, next_visible = self._take(max_messages, timeout)
                remaining = deadline - time.monotonic()
                if messages or remaining <= 0:
                    return messages
                pause = min(remaining, FALLBACK_WAIT)
                if next_visible is not None:
                    pause = min(pause, next_visible + 0.001)
                if listener is None:
                    time.sleep(pause)
                else:
                    listener.wait(pause)
            return []
        finally:
            self._done_waiting(key, listener)

    def _listener(self):
        """(key, this thread's Listener), made at its first wait; the
        Listener is None when the doorbell's folder cannot be used."""
        key = (os.getpid(), threading.get_ident())
        with self._listeners_lock:
            listener = self._listeners.pop(key, None)
        if listener is not None and not listener.alive():
            listener.close()
            listener = None
        if listener is None:
            try:
                listener = self.bell.listen()
            except OSError as error:
                # Without a doorbell the wait is a slow poll, which is late, not wrong.
                log.warning("queue %s waits without a doorbell: %s", self.name, error)
        return key, listener

    def _done_waiting(self, key, listener):
        with self._listeners_lock:
            # (a few receiving threads keep theirs; beyond them, threads come
            # and go, and each would leave its socket behind)
            if listener is not None and not self._closed and len(self._listeners) < KEPT_LISTENERS:
                self._listeners[key] = listener
                return
        if listener is not None:
            listener.close()

    def _take(self, count, timeout):
        """Receive up to ``count`` visible messages now. Returns them and, when
        there are none, the seconds until a hidden one shows again (None if none)."""
        self.receive_attempts += 1
        if self._closed:
            return [], None
        # A look without the write lock first: waiting receivers mostly find nothing.
        (first_visible,) = self.db.read(
            "SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?", (self.name,)
        )[0]
        if first_visible is None:
            return [], None
        if first_visible > time.time():
            return [], first_visible - time.time()
        return self.db.transaction(lambda conn: self._hide(conn, count, timeout)), None

    def _hide(self, conn, count, timeout):
        now = time.time()
        rows = conn.execute(
            "SELECT id, body, receive_count FROM queue_messages"
            " WHERE queue = ? AND visible_at <= ? ORDER BY priority DESC, visible_at, id LIMIT ?",
            (self.name, now, count),
        ).fetchall()
        messages = [
            Message(str(id_), body, f"{id_}.{secrets.token_hex(12)}", received + 1)
            for id_, body, received in rows
        ]
        conn.executemany(
            "UPDATE queue_messages SET visible_at = ?, receipt = ?,"
            " receive_count = receive_count + 1 WHERE id = ?",
            [(now + timeout, m.receipt, int(m.id)) for m in messages],
        )
        return messages

    def extend(self, receipt, visibility_timeout):
        """See WorkQueue.extend. As on SQS, a message whose timeout lapsed is no
        longer in flight and cannot be extended (but its last receipt can still
        delete it until someone receives it again)."""
        _check_timeout(visibility_timeout)
        message_id = _message_id(receipt)
        if message_id is None:
            return False
        now = time.time()
        changed = self.db.write(
            "UPDATE queue_messages SET visible_at = ?"
            " WHERE id = ? AND queue = ? AND receipt = ? AND visible_at > ?",
            (now + visibility_timeout, message_id, self.name, receipt, now),
        ).rowcount
        if changed and visibility_timeout == 0:
            self.bell.ring()  # released: a waiting receiver can have it now
        return bool(changed)

    def delete(self, receipt):
        message_id = _message_id(receipt)
        if message_id is None:
            return False
        return bool(
            self.db.write(
                "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?",
                (message_id, self.name, receipt),
            ).rowcount
        )

    def delete_many(self, receipts):
        """See WorkQueue.delete_many: one transaction for all."""
        receipts = list(receipts)
        ids = [_message_id(r) for r in receipts]
        if all(i is None for i in ids):
            return [False] * len(receipts)

        def work(conn):
            return [i is not None and bool(conn.execute(
                "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?",
                (i, self.name, r)).rowcount) for i, r in zip(ids, receipts)]

        return self.db.transaction(work)

    def depth(self):
        now = time.time()
        visible, hidden = self.db.read(
            "SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0)"
            " FROM queue_messages WHERE queue = ?",
            (now, now, self.name),
        )[0]
        return visible, hidden

    def close(self):
        """Release connections; a receive waiting in another thread returns [] within a second."""
        self._closed = True
        with self._listeners_lock:
            idle, self._listeners = list(self._listeners.values()), {}
        for listener in idle:  # those in a wait are closed as it ends
            listener.close()
        self.db.close()
