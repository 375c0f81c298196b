"""Writes that threads make to one SQLite file at the same moment share one
transaction (GroupCommit), and each writer still gets its own answer: its
write committed, or its own error with nothing of it stored. Real SQLite
files, real threads.

A group is made deterministic by holding the leader of one group inside a
transaction while the other writers arrive: they wait, and the next leader
commits all of them together."""

import sqlite3
import threading
import time

import pytest

from nommer.core.adapters.sqlite_db import GroupCommit
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.errors import AlreadyExists, NotFound
from nommer.core.model.jobs import Job



def a_job(name, size=0):
    outputs = [{"destination": f"file:///out/{name}.mp4", "preset": "mp4-h264-360p"}]
    if size:
        outputs[0]["options"] = ["-metadata", "comment=" + "x" * size]
    return Job.new(f"file:///in/{name}.mov", outputs)


@pytest.fixture
def parts(tmp_path):
    path = tmp_path / "nommer.sqlite3"
    store = SqliteJobStore(path)
    queue = SqliteWorkQueue(path, "new-jobs")
    yield store, queue, GroupCommit.of(store.db.path)
    queue.close()
    store.close()


def waiting_writers(group, count, timeout=10):
    """Wait until ``count`` writes wait for the group being committed."""
    deadline = time.monotonic() + timeout
    while True:
        with group._lock:
            if len(group._pending) >= count:
                return
        assert time.monotonic() < deadline, f"{count} writers never arrived"
        time.sleep(0.005)


class Held:
    """A transaction that leads a group and stays open until released, so
    that the writes made meanwhile form the next group."""

    def __init__(self, db):
        self.inside = threading.Event()
        self.release = threading.Event()

        def work(conn):
            self.inside.set()
            assert self.release.wait(10)

        self.thread = threading.Thread(target=db.transaction, args=(work,))
        self.thread.start()
        assert self.inside.wait(10)

    def end(self):
        self.release.set()
        self.thread.join(10)


def run_all(calls):
    """Start one thread per call; returns {index: ("ok", result) or ("error", exception)}
    once all have returned."""
    outcomes = {}

    def run(i, call):
        try:
            outcomes[i] = ("ok", call())
        except Exception as e:  # each writer's own answer is the point
            outcomes[i] = ("error", e)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    return threads, outcomes


def test_many_threads_submitting_are_all_committed_in_fewer_transactions(parts):
    store, queue, group = parts
    groups_before, writes_before = group.groups, group.writes
    made = []
    lock = threading.Lock()

    def submit(worker):
        for n in range(25):
            job = store.create(a_job(f"{worker}-{n}"))
            queue.send(job.id)
            with lock:
                made.append(job.id)

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(made) == 400
    # every answered job is stored and queued, committed: a fresh connection sees them
    fresh = sqlite3.connect(store.db.path)
    try:
        stored = {row[0] for row in fresh.execute("SELECT id FROM jobs")}
        queued = [row[0] for row in fresh.execute("SELECT body FROM queue_messages")]
    finally:
        fresh.close()
    assert stored == set(made)
    assert sorted(queued) == sorted(made)
    assert group.writes - writes_before == 800
    assert group.groups - groups_before <= 800


def test_writes_made_while_a_group_commits_are_committed_together(parts):
    store, queue, group = parts
    held = Held(store.db)
    threads, outcomes = run_all([lambda n=n: store.create(a_job(f"g{n}")) for n in range(8)])
    waiting_writers(group, 8)
    before = group.groups
    held.end()
    for t in threads:
        t.join(10)

    assert all(kind == "ok" for kind, _ in outcomes.values())
    assert group.groups - before == 2  # the held one, then all eight at once
    assert store.counts() == {"PENDING": 8}


def test_each_writer_of_a_group_gets_its_own_error_and_the_others_commit(parts):
    store, queue, group = parts
    taken = store.create(a_job("taken"))
    held = Held(store.db)
    duplicate = Job.new(taken.source, list(taken.outputs), job_id=taken.id)
    calls = [lambda n=n: store.create(a_job(f"ok{n}")) for n in range(3)]
    calls.insert(1, lambda: store.create(duplicate))
    calls.append(lambda: queue.send("fine"))
    threads, outcomes = run_all(calls)
    waiting_writers(group, len(calls))
    held.end()
    for t in threads:
        t.join(10)

    kind, error = outcomes[1]
    assert kind == "error" and isinstance(error, AlreadyExists), outcomes[1]
    for i in (0, 2, 3):
        kind, job = outcomes[i]
        assert kind == "ok"
        assert store.get(job.id).version == 1
    assert outcomes[4][0] == "ok"
    assert queue.depth() == (1, 0)
    assert store.get(taken.id) == taken  # the first one stands, untouched


def test_a_work_that_fails_is_undone_alone(parts):
    store, queue, group = parts
    held = Held(store.db)

    def half_then_fail(conn):
        conn.execute("INSERT INTO queue_messages (queue, body, visible_at, sent_at)"
                     " VALUES ('new-jobs', 'half', 0, 0)")
        raise RuntimeError("changed its mind")

    threads, outcomes = run_all([
        lambda: store.create(a_job("before")),
        lambda: store.db.transaction(half_then_fail),
        lambda: queue.send("after"),
    ])
    waiting_writers(group, 3)
    held.end()
    for t in threads:
        t.join(10)

    assert outcomes[0][0] == "ok" and outcomes[2][0] == "ok"
    kind, error = outcomes[1]
    assert kind == "error" and str(error) == "changed its mind"
    assert [m.body for m in queue.receive(max_messages=10)] == ["after"]
    assert store.get(outcomes[0][1].id).state.value == "PENDING"


def test_the_writes_before_one_that_fails_run_again_and_answer_with_what_was_committed(parts):
    store, queue, group = parts
    held = Held(store.db)

    def insert(body):
        return lambda conn: conn.execute(
            "INSERT INTO queue_messages (queue, body, visible_at, sent_at)"
            " VALUES ('new-jobs', ?, 0, 0)", (body,)).lastrowid

    def doomed(conn):
        insert("doomed")(conn)
        raise RuntimeError("changed its mind")

    calls = [lambda: queue.send("one"), lambda: store.db.transaction(insert("two")),
             lambda: store.db.transaction(doomed), lambda: queue.send("three")]
    threads, outcomes = [], {}
    for n, call in enumerate(calls):  # joining the group in this order
        more, got = run_all([call])
        threads += more
        outcomes[n] = got
        waiting_writers(group, n + 1)
    held.end()
    for t in threads:
        t.join(10)

    rows = dict(store.db.read("SELECT body, id FROM queue_messages"))
    assert sorted(rows) == ["one", "three", "two"]
    assert outcomes[0][0] == ("ok", str(rows["one"]))
    assert outcomes[1][0] == ("ok", rows["two"])
    assert outcomes[2][0][0] == "error" and str(outcomes[2][0][1]) == "changed its mind"
    assert outcomes[3][0] == ("ok", str(rows["three"]))
    assert group.writes >= 4


def test_a_group_whose_commit_fails_stores_nothing_and_every_writer_hears_of_it(parts, tmp_path):
    store, queue, group = parts
    # A deferred constraint is checked at COMMIT: one write breaks the commit
    # of the whole group, which must then leave nothing of any of them.
    store.db.transaction(lambda conn: conn.execute(
        "CREATE TABLE IF NOT EXISTS owners (id TEXT PRIMARY KEY)"))
    store.db.transaction(lambda conn: conn.execute(
        "CREATE TABLE IF NOT EXISTS owned (owner TEXT REFERENCES owners (id)"
        " DEFERRABLE INITIALLY DEFERRED)"))
    # On the connections that run the groups, whichever writer leads (and
    # before a transaction: inside one the pragma does nothing).
    store.db._writing().execute("PRAGMA foreign_keys = ON")
    queue.db._writing().execute("PRAGMA foreign_keys = ON")
    held = Held(store.db)

    jobs = [a_job(f"lost{n}") for n in range(3)]
    calls = [lambda j=j: store.create(j) for j in jobs]
    calls.append(lambda: store.db.write("INSERT INTO owned (owner) VALUES ('nobody')"))
    calls.append(lambda: queue.send("lost too"))
    threads, outcomes = run_all(calls)
    waiting_writers(group, len(calls))
    held.end()
    for t in threads:
        t.join(10)

    assert all(kind == "error" for kind, _ in outcomes.values()), outcomes
    assert all("FOREIGN KEY" in str(error) for _, error in outcomes.values()), outcomes
    for job in jobs:
        with pytest.raises(NotFound):
            store.get(job.id)
    assert queue.depth() == (0, 0)
    # and the file goes on taking writes
    after = store.create(a_job("after"))
    assert store.get(after.id).version == 1


def test_a_write_that_ends_the_whole_transaction_fails_alone(parts):
    store, queue, group = parts
    # A full disk: SQLite may end the whole transaction over one write.
    # The others of its group are written again and committed.
    pages = store.db.read("PRAGMA page_count")[0][0]
    held = Held(store.db)

    for db in (store.db, queue.db):  # the connections that run the groups
        db._writing().execute(f"PRAGMA max_page_count = {pages + 40}")

    small = [a_job(f"small{n}") for n in range(4)]
    huge = a_job("huge", size=2_000_000)
    calls = [lambda j=j: store.create(j) for j in small[:2]]
    calls.append(lambda: store.create(huge))
    calls += [lambda j=j: store.create(j) for j in small[2:]]
    threads, outcomes = run_all(calls)
    waiting_writers(group, len(calls))
    held.end()
    for t in threads:
        t.join(10)

    kind, error = outcomes[2]
    assert kind == "error" and "full" in str(error), outcomes[2]
    for i in (0, 1, 3, 4):
        assert outcomes[i][0] == "ok", outcomes[i]
    for job in small:
        assert store.get(job.id).version == 1
    with pytest.raises(NotFound):
        store.get(huge.id)


def test_every_group_runs_on_the_databases_one_writing_connection_whichever_thread_leads(parts):
    store, _queue, group = parts
    # A TEMP table lives in one connection only: a write that finds it ran
    # on the connection that made it.
    store.db._writing().execute("CREATE TEMP TABLE seen (thread TEXT)")
    held = Held(store.db)
    calls = [lambda n=n: store.db.transaction(
        lambda conn, n=n: conn.execute("INSERT INTO temp.seen VALUES (?)", (f"writer {n}",)).rowcount)
        for n in range(5)]
    threads, outcomes = run_all(calls)
    waiting_writers(group, len(calls))
    held.end()
    for t in threads:
        t.join(10)
    # and a writer alone, in this thread, after the others
    assert store.db.transaction(lambda conn: conn.execute("INSERT INTO temp.seen VALUES ('alone')").rowcount) == 1

    assert outcomes == {n: ("ok", 1) for n in range(5)}, outcomes
    rows = store.db._writing().execute("SELECT thread FROM temp.seen ORDER BY thread").fetchall()
    assert [r[0] for r in rows] == ["alone"] + [f"writer {n}" for n in range(5)]
    # A thread's own connection, which reads, does not have it.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.db.read("SELECT * FROM temp.seen")


def test_a_closed_database_closes_its_writing_connection_and_refuses_writes(tmp_path):
    store = SqliteJobStore(tmp_path / "nommer.sqlite3")
    writing = store.db._writing()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        writing.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError, match="is closed"):
        store.db.write("SELECT 1")


def test_a_forked_child_has_a_group_of_its_own(parts):
    store, _queue, group = parts
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own group, and it can write
        try:
            os.close(read)
            mine = GroupCommit.of(store.db.path)
            job = store.create(a_job("child"))
            os.write(write, f"{mine is not group} {job.id}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    different, job_id = answer.split()
    assert different == "True"
    assert store.get(job_id).version == 1


def test_a_work_that_writes_through_the_database_fails_instead_of_waiting_for_itself(parts):
    store, queue, _group = parts

    def nested(conn):
        conn.execute("INSERT INTO queue_messages (queue, body, visible_at, sent_at)"
                     " VALUES ('new-jobs', 'inner', 0, 0)")
        queue.send("through the database")  # would wait for this very group

    with pytest.raises(RuntimeError, match="inside a group's transaction"):
        store.db.transaction(nested)
    assert queue.depth() == (0, 0)  # the work was undone
    queue.send("later")  # and the file takes writes
    assert queue.depth() == (1, 0)


def lock_from_another_connection(path):
    """The file's write lock, held by a connection of its own (as another
    process would hold it) until the returned connection rolls back."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_writer_with_a_deadline_gives_up_on_a_lock_held_elsewhere_and_writes_nothing(parts):
    from nommer.core.errors import TransientError
    from nommer.core.retrying import deadline

    store, queue, group = parts
    other = lock_from_another_connection(store.db.path)
    job = a_job("late")
    try:
        started = time.monotonic()
        with deadline(0.3), pytest.raises(TransientError, match="stayed locked"):
            store.create_queued(job, lambda s: [(queue, "late", 0)])
        # its deadline, not the store's busy timeout (30 s)
        assert time.monotonic() - started < 5
    finally:
        other.rollback()
        other.close()
    with pytest.raises(NotFound):
        store.get(job.id)
    assert queue.depth() == (0, 0)
    store.create(a_job("after"))  # the file is usable again at once


def test_a_writer_waiting_behind_a_stuck_group_takes_its_write_back_at_its_deadline(parts):
    from nommer.core.errors import TransientError
    from nommer.core.retrying import deadline

    store, queue, group = parts
    other = lock_from_another_connection(store.db.path)
    try:
        # a leader with no deadline, waiting for the lock (busy timeout: 30 s)
        threads, outcomes = run_all([lambda: store.create(a_job("patient"))])
        waiting = time.monotonic() + 10
        while not (group._leading and not group._pending):  # its group taken
            assert time.monotonic() < waiting, "the first writer never led"
            time.sleep(0.005)
        hurried = a_job("hurried")
        with deadline(0.3), pytest.raises(TransientError, match="past this write's deadline"):
            store.create(hurried)
        assert not outcomes  # the patient writer still waits
    finally:
        other.rollback()
        other.close()
    for t in threads:
        t.join(10)
    assert outcomes[0][0] == "ok"
    assert store.counts() == {"PENDING": 1}
    with pytest.raises(NotFound):
        store.get(hurried.id)
    store.create(a_job("next"))  # the group goes on without the write taken back
    assert store.counts() == {"PENDING": 2}


@pytest.mark.parametrize("setting, pragma", [("FULL", 2), ("NORMAL", 1)])
def test_the_embedded_store_and_queues_commit_as_sqlite_synchronous_says(tmp_path, setting, pragma):
    from nommer.core import backends, config as config_mod

    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "sqlite_synchronous": setting})
    parts = backends.build(config)
    try:
        parts.store.create(a_job("durable"))  # a connection of this thread is open
        for db in (parts.store.db, parts.new_jobs.db, parts.state_changes.db):
            db.write("SELECT 1")
            for conn in (db.connection(), db._writing()):  # reading, and running the groups
                assert conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        parts.close()


def test_a_synchronous_mode_sqlite_cannot_keep_is_refused_by_name(tmp_path):
    from nommer.core import config as config_mod
    from nommer.core.errors import ConfigError

    with pytest.raises(ConfigError, match="sqlite_synchronous") as refused:
        config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "sqlite_synchronous": "OFF"})
    assert "FULL" in str(refused.value) and "NORMAL" in str(refused.value)
    with pytest.raises(ValueError, match="synchronous must be one of FULL, NORMAL, not 'OFF'"):
        SqliteJobStore(tmp_path / "x.sqlite3", synchronous="OFF")
    assert not (tmp_path / "x.sqlite3").exists()


def test_a_write_of_a_full_database_is_committed_full_when_a_normal_one_of_the_same_file_leads(tmp_path):
    # Two databases of one file in one process, one syncing each commit and
    # one not: a write of the first must not be committed on the second's
    # connection, where it would not survive a power cut.
    path = tmp_path / "nommer.sqlite3"
    store = SqliteJobStore(path, synchronous="FULL")
    queue = SqliteWorkQueue(path, "new-jobs", synchronous="NORMAL")
    try:
        group = GroupCommit.of(queue.db.path, "NORMAL")
        held = Held(queue.db)  # a group of the NORMAL database runs
        threads, outcomes = run_all([lambda: queue.send("first")])
        waiting_writers(group, 1)  # the NORMAL writer leads the next group
        more, synced = run_all([lambda: store.db.transaction(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])])
        full = GroupCommit.of(store.db.path, "FULL")
        waiting = time.monotonic() + 10
        while True:  # the FULL writer waits: beside the NORMAL one, or leading a group of its own
            with group._lock:
                if len(group._pending) >= 2 or full._leading:
                    break
            assert time.monotonic() < waiting, "the FULL writer never arrived"
            time.sleep(0.005)
        held.end()
        for t in threads + more:
            t.join(10)
        assert outcomes[0][0] == "ok", outcomes
        assert synced == {0: ("ok", 2)}, synced  # 2: FULL
    finally:
        queue.close()
        store.close()


@pytest.fixture
def two_queues(tmp_path):
    """Two queues of one file, each its own database, and their group."""
    path = tmp_path / "nommer.sqlite3"
    first, second = SqliteWorkQueue(path, "first"), SqliteWorkQueue(path, "second")
    yield first, second, GroupCommit.of(first.db.path)
    first.close()
    second.close()


def test_closing_a_database_waits_for_the_group_running_on_its_connection(two_queues):
    first, second, group = two_queues
    inside, release, outcome = threading.Event(), threading.Event(), {}

    def work(conn):  # leads a group on the first's connection, and stays in it
        conn.execute("INSERT INTO queue_messages (queue, body, visible_at, receive_count, sent_at)"
                     " VALUES ('first', 'held', 0, 0, 0)")
        inside.set()
        assert release.wait(10)
        return "held"

    held = threading.Thread(target=lambda: outcome.update(held=first.db.transaction(work)))
    held.start()
    assert inside.wait(10)
    threads, outcomes = run_all([lambda: second.send("of the second")])
    waiting_writers(group, 1)
    closing = threading.Thread(target=first.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive(), "close() did not wait for the group running on its connection"

    release.set()
    held.join(10)
    closing.join(10)
    for t in threads:
        t.join(10)

    assert outcome == {"held": "held"}  # committed, not cut off by the close
    assert outcomes[0][0] == "ok", outcomes[0]
    assert second.depth() == (1, 0)
    assert second.db.read("SELECT body FROM queue_messages WHERE queue = 'first'") == [("held",)]


def test_a_group_whose_leaders_database_was_closed_runs_on_another_open_one(two_queues):
    first, second, group = two_queues
    held = Held(second.db)
    # The first's write waits first, so it leads the next group; the
    # second's waits in it.
    threads, outcomes = run_all([lambda: first.send("of the first")])
    waiting_writers(group, 1)
    more, more_outcomes = run_all([lambda: second.send("of the second")])
    waiting_writers(group, 2)
    first.close()  # nothing runs on its connection: at once
    held.end()
    for t in threads + more:
        t.join(10)

    # Both written before the close: both committed, on the second's connection.
    assert outcomes[0][0] == "ok" and more_outcomes[0][0] == "ok", (outcomes, more_outcomes)
    assert second.depth() == (1, 0)
    assert sorted(second.db.read("SELECT body FROM queue_messages")) == [("of the first",), ("of the second",)]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        first.send("after the close")
