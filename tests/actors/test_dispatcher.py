"""The Dispatcher queues each job at its priority: on the SQLite queue the
encoders then get the higher priority first. It deletes the state changes
dealt with in batches."""

import json

from nommer.actors.dispatcher import ACK_LINGER, Dispatcher
from nommer.actors.messages import Ack, Enqueue
from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_db import GroupCommit
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue

from ..e2e.farm import wait_for


def queues(tmp_path):
    """The new-job and state-change queues, in one SQLite file."""
    path = str(tmp_path / "nommer.sqlite3")
    return SqliteWorkQueue(path, "new-jobs"), SqliteWorkQueue(path, "changes")


def dispatcher_config(tmp_path):
    return config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "state_check_interval": 0.2})


def test_jobs_are_queued_at_their_priority(tmp_path):
    new_jobs, state_changes = queues(tmp_path)
    dispatcher = Dispatcher.start(dispatcher_config(tmp_path), new_jobs, state_changes)
    try:
        for job_id, priority in (("low", -10), ("normal", 0), ("high", 50), ("normal-2", 0)):
            dispatcher.tell(Enqueue(job_id, priority))
        assert dispatcher.proxy().depth().get()["new_jobs"] == (4, 0)  # all sent by now
        taken = [json.loads(m.body)["job_id"] for m in new_jobs.receive(max_messages=10)]
    finally:
        dispatcher.stop()
        new_jobs.close()
        state_changes.close()
    assert taken == ["high", "normal", "normal-2", "low"]


def test_acknowledged_changes_are_deleted_together(tmp_path):
    new_jobs, state_changes = queues(tmp_path)
    for n in range(13):
        state_changes.send(json.dumps({"job_id": f"j{n}"}))
    held = state_changes.receive(max_messages=10, visibility_timeout=60) \
        + state_changes.receive(max_messages=3, visibility_timeout=60)
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path),
                                                    "state_check_interval": 0.2})
    group = GroupCommit.of(state_changes.db.path)
    dispatcher = Dispatcher.start(config, new_jobs, state_changes)
    try:
        writes = group.writes
        for message in held[:12]:
            dispatcher.tell(Ack(message.receipt))
        # ACK_BATCH at once, the rest when the first of them has waited ACK_LINGER
        assert dispatcher.proxy().depth().get()["state_changes"] == (0, 3)
        wait_for(lambda: state_changes.depth() == (0, 1), ACK_LINGER + 2, "the rest deleted")
        assert group.writes - writes == 2  # two deletes for twelve changes
        dispatcher.tell(Ack(held[12].receipt))
    finally:
        dispatcher.stop()  # deletes what it holds back
    try:
        assert state_changes.depth() == (0, 0)
    finally:
        new_jobs.close()
        state_changes.close()


def test_a_failed_delete_of_acknowledged_changes_neither_crashes_it_nor_keeps_it_from_stopping(tmp_path):
    new_jobs, state_changes = queues(tmp_path)
    for n in range(3):
        state_changes.send(json.dumps({"job_id": f"j{n}"}))
    held = state_changes.receive(max_messages=3, visibility_timeout=60)
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path),
                                                    "state_check_interval": 0.2})
    calls = []

    def unreachable(receipts):
        calls.append(list(receipts))
        raise OSError("the queue is out of reach")

    real, state_changes.delete_many = state_changes.delete_many, unreachable
    dispatcher = Dispatcher.start(config, new_jobs, state_changes)
    try:
        dispatcher.tell(Ack(held[0].receipt))
        wait_for(lambda: calls, ACK_LINGER + 2, "the delete tried")
        # still at work: it answers, and takes the next acknowledgements
        assert dispatcher.proxy().depth().get()["state_changes"] == (0, 3)
        state_changes.delete_many = real
        dispatcher.tell(Ack(held[1].receipt))
    finally:
        dispatcher.stop()
    try:
        assert calls == [[held[0].receipt]]
        assert state_changes.depth() == (0, 2)  # the first comes back after its lease
        assert not dispatcher.is_alive()
    finally:
        new_jobs.close()
        state_changes.close()


def test_a_dispatcher_that_crashed_leaves_no_thread_behind(tmp_path):
    # on_stop is not called after a crash: the alarm (nothing due) and the
    # listener would run beside the next Dispatcher's for ever.
    new_jobs, state_changes = queues(tmp_path)
    dispatcher = Dispatcher.start(dispatcher_config(tmp_path), new_jobs, state_changes)
    try:
        alarm = dispatcher.proxy().alarm.get()
        listener = dispatcher.proxy().listener.get()
        assert alarm._thread.is_alive() and listener.is_alive()
        dispatcher.tell("a message it does not know")
        wait_for(lambda: not dispatcher.is_alive(), 5, "the crash")
        wait_for(lambda: not alarm._thread.is_alive() and not listener.is_alive(), 5,
                 "the alarm's and the listener's threads to end")
    finally:
        if dispatcher.is_alive():
            dispatcher.stop()
        new_jobs.close()
        state_changes.close()
