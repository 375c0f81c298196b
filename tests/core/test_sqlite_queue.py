"""The SQLite queue opens a file made before priorities: the column is
added, messages already queued keep their order at priority 0."""

import sqlite3

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
    import pytest

    queue = SqliteWorkQueue(str(tmp_path / "q.sqlite3"), "work")
    try:
        for wrong in ("high", 1.5, True, None):
            with pytest.raises(ValueError, match="priority"):
                queue.send("x", priority=wrong)
        assert queue.depth() == (0, 0)
    finally:
        queue.close()
