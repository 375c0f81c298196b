"""The SQLite queue opens a file made before priorities: the column is
added, messages already queued keep their order at priority 0. A receiving
thread keeps its doorbell socket between its waits."""

import os
import sqlite3
import threading
import time

import pytest

from nommer.core.adapters.sqlite_queue import SqliteWorkQueue

OLD_SCHEMA = """CREATE TABLE queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at REAL NOT NULL
)"""


def test_a_file_without_priorities_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_SCHEMA)
        conn.executemany("INSERT INTO queue_messages (queue, body, visible_at, sent_at)"
                         " VALUES ('work', ?, 0, 0)", [("old-1",), ("old-2",)])
    queue = SqliteWorkQueue(str(path), "work")
    try:
        queue.send("urgent", priority=5)
        queue.send("later", priority=-5)
        bodies = [m.body for m in queue.receive(max_messages=10)]
    finally:
        queue.close()
    assert bodies == ["urgent", "old-1", "old-2", "later"]
    again = SqliteWorkQueue(str(path), "work")  # opening it once more changes nothing
    again.close()


def test_a_priority_that_is_not_a_whole_number_is_refused(tmp_path):
    queue = SqliteWorkQueue(str(tmp_path / "q.sqlite3"), "work")
    try:
        for wrong in ("high", 1.5, True, None):
            with pytest.raises(ValueError, match="priority"):
                queue.send("x", priority=wrong)
        assert queue.depth() == (0, 0)
    finally:
        queue.close()


@pytest.fixture
def queue(tmp_path):
    made = SqliteWorkQueue(str(tmp_path / "q.sqlite3"), "work")
    yield made
    made.close()


def sockets(queue):
    try:
        return sorted(os.listdir(queue.bell.folder))
    except FileNotFoundError:
        return []


def send_later(queue, body, delay):
    timer = threading.Timer(delay, queue.send, (body,))
    timer.start()
    return timer


def test_a_thread_keeps_one_socket_for_its_waits_until_the_queue_closes(queue):
    assert queue.receive(wait_seconds=0.05) == []
    [kept] = sockets(queue)
    send_later(queue, "a", 0.1)
    assert [m.body for m in queue.receive(wait_seconds=5)] == ["a"]
    assert queue.receive(wait_seconds=0.05) == []
    assert sockets(queue) == [kept]

    queue.close()

    assert sockets(queue) == []


def test_rings_between_waits_do_not_end_the_next_wait(queue):
    assert queue.receive(wait_seconds=0.05) == []  # the thread's socket is made
    for n in range(5):  # rung while nobody waits; taken without a wait
        queue.send(f"m{n}")
    assert len(queue.receive(max_messages=10)) == 5
    attempts = queue.receive_attempts
    started = time.monotonic()

    assert queue.receive(wait_seconds=0.6) == []

    assert time.monotonic() - started >= 0.55
    # the first look, the one after listening, the one when the wait is over
    assert queue.receive_attempts - attempts <= 3


def test_a_kept_socket_whose_file_went_is_made_again(queue):
    assert queue.receive(wait_seconds=0.05) == []
    [kept] = sockets(queue)
    os.unlink(os.path.join(queue.bell.folder, kept))  # a cleaner of /tmp went by
    send_later(queue, "a", 0.3)
    started = time.monotonic()

    assert [m.body for m in queue.receive(wait_seconds=5)] == ["a"]

    # rung, not found by the fallback look a second later
    assert time.monotonic() - started < 0.8
    assert len(sockets(queue)) == 1 and sockets(queue) != [kept]


def test_closing_while_a_thread_waits_ends_its_wait_and_leaves_no_socket(queue):
    result = {}
    thread = threading.Thread(target=lambda: result.update(got=queue.receive(wait_seconds=10)))
    thread.start()
    time.sleep(0.2)
    assert len(sockets(queue)) == 1

    queue.close()
    thread.join(3)

    assert not thread.is_alive() and result["got"] == []
    assert sockets(queue) == []


def test_a_ring_that_cannot_reach_the_waiters_folder_is_dropped_and_the_message_stays(tmp_path):
    """A ring is a hint: when the waiters' folder cannot be read (here a file
    stands where it should be), sending still commits and returns, and the
    message is there for the next receive."""
    from nommer.core.adapters.sqlite_queue import Doorbell

    bell = Doorbell("a queue whose bells cannot be reached")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    bell.folder = str(blocker / "bells")  # listdir fails with NotADirectoryError
    bell.ring()  # returns without raising
    queue = SqliteWorkQueue(tmp_path / "q.sqlite3", "bells-unreachable")
    try:
        queue.bell = bell
        queue.send("kept")
        assert [m.body for m in queue.receive(max_messages=5)] == ["kept"]
    finally:
        queue.close()
