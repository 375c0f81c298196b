"""The WorkQueue contract: every adapter must pass these.

Adapter-specific setup lives only in the ``queue_factory`` fixture; add an
adapter by adding a param there. Timeouts are whole seconds because SQS takes
no fractions. Adapters keep ``receive_attempts`` (how many times they asked
their backend for messages) so a test can tell waiting from spinning.
"""

import functools
import json
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import nommer

PROJECT_ROOT = pathlib.Path(nommer.__file__).resolve().parent.parent


# Seconds a release may take to reach a receiver that is waiting already.
# moto's server looks at a waiting long poll again only each second (a send
# wakes it at once), and SQS itself promises no bound; the point, that the
# receiver gets the message during its wait, holds for both.
RELEASE_REACHES_WAITER = {"sqlite": 0.3, "sqs": 1.3, "sqs-priority": 1.3}
# Each SQS call is an HTTP request to moto's server (about 20 ms); 60
# messages still make four consumers race, in a few seconds.
MESSAGES_TO_RACE = {"sqlite": 1000, "sqs": 60, "sqs-priority": 60}


def sqs_queue(prefix, name):
    from nommer.core.adapters.sqs_queue import SqsWorkQueue

    return SqsWorkQueue(prefix + name)


def sqs_priority_queue(prefix, name):
    from nommer.core.adapters.sqs_queue import SqsPriorityQueue

    return SqsPriorityQueue(prefix + name)


# sqs-priority: the new-job queue on AWS, one SQS queue per priority class.
@pytest.fixture(params=["sqlite", "sqs", "sqs-priority"])
def adapter(request):
    return request.param


@pytest.fixture
def queue_factory(adapter, request, tmp_path):
    """A picklable ``factory(name) -> WorkQueue``; child processes open the same queues with it."""
    if adapter == "sqlite":
        from nommer.core.adapters.sqlite_queue import SqliteWorkQueue

        return functools.partial(SqliteWorkQueue, str(tmp_path / "nommer.sqlite3"))
    if adapter == "sqs":
        request.getfixturevalue("aws_endpoint")
        # moto's server lives for the whole session: fresh queue names per test.
        return functools.partial(sqs_queue, f"t{uuid.uuid4().hex[:12]}-")
    if adapter == "sqs-priority":
        request.getfixturevalue("aws_endpoint")
        return functools.partial(sqs_priority_queue, f"t{uuid.uuid4().hex[:12]}-")
    raise AssertionError(adapter)


@pytest.fixture
def queue(queue_factory):
    queue = queue_factory("work")
    yield queue
    queue.close()


def spawn(factory, script):
    """A python process running ``script`` with ``factory`` unpickled as a global."""
    prelude = (
        "import json, pickle, sys, threading, time\n"
        "factory = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
    )
    paths = [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(script), pickle.dumps(factory).hex()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def expect_line(process, expected):
    line = process.stdout.readline().strip()
    assert line == expected, f"child said {line!r}"


def receive_in_thread(queue, **kwargs):
    """Start ``queue.receive(**kwargs)`` in a thread; returns a function that joins
    it and gives ``(messages, monotonic time it returned)``."""
    result = {}

    def run():
        result["messages"] = queue.receive(**kwargs)
        result["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(10)
        assert not thread.is_alive()
        return result["messages"], result["at"]

    return join


# --- basics ------------------------------------------------------------------------


def test_send_then_receive_round_trip(queue):
    body = json.dumps({"job_id": "0123abcd", "note": "ünïcode"})
    message_id = queue.send(body)

    [message] = queue.receive()

    assert (message.id, message.body, message.receive_count) == (message_id, body, 1)
    assert message.receipt


def test_receive_on_empty_queue_is_empty_list(queue):
    assert queue.receive() == []


def test_receive_takes_up_to_max_messages(queue):
    for n in range(5):
        queue.send(str(n))

    taken = queue.receive(max_messages=3)

    assert len(taken) == 3
    assert len({m.id for m in taken}) == 3
    assert queue.depth() == (2, 3)


def test_each_message_comes_out_once_and_in_order_where_promised(queue):
    for n in range(10):
        queue.send(str(n))

    bodies = [queue.receive()[0].body for _ in range(10)]

    assert sorted(bodies, key=int) == [str(n) for n in range(10)]
    # SQS's standard queues are best-effort first-in-first-out, not strict.
    if queue.ordered:
        assert bodies == [str(n) for n in range(10)]


# --- priorities ---------------------------------------------------------------------


def test_higher_priority_comes_out_first_where_kept(queue):
    sent = [("low-1", -5), ("normal-1", 0), ("high-1", 50), ("low-2", -50), ("high-2", 3),
            ("normal-2", 0)]
    for body, priority in sent:
        queue.send(body, priority=priority)

    bodies = [queue.receive()[0].body for _ in sent]

    assert sorted(bodies) == sorted(b for b, _ in sent)
    if queue.prioritized:
        classes = [b.split("-")[0] for b in bodies]
        assert classes == ["high", "high", "normal", "normal", "low", "low"]
    if queue.prioritized and queue.ordered:
        # By the priority itself, first-in-first-out within one.
        assert bodies == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]


def test_priority_order_holds_within_one_receive(queue):
    queue.send("low", priority=-1)
    queue.send("normal")
    queue.send("high", priority=1)

    taken = queue.receive(max_messages=2)

    if queue.prioritized:
        assert [m.body for m in taken] == ["high", "normal"]
    else:
        assert len(taken) == 2


def test_a_prioritized_message_is_extended_released_and_deleted_like_any(queue):
    queue.send("high", priority=10)
    [message] = queue.receive(visibility_timeout=30)
    assert queue.extend(message.receipt, 30)
    assert queue.depth() == (0, 1)
    assert queue.release(message.receipt)
    [again] = queue.receive(visibility_timeout=30)
    assert (again.id, again.receive_count) == (message.id, 2)
    assert queue.delete(again.receipt)
    assert queue.depth() == (0, 0)


def test_a_waiting_receive_gets_a_high_priority_message_sent_meanwhile(queue):
    from nommer.core.adapters.sqs_queue import PRIORITY_SLICE

    join = receive_in_thread(queue, wait_seconds=9)
    time.sleep(0.3)
    sent = time.monotonic()
    queue.send("urgent", priority=50)
    messages, returned = join()
    assert [m.body for m in messages] == ["urgent"]
    # On SQS a waiting receive long-polls the normal queue a slice at a time.
    assert returned - sent < PRIORITY_SLICE + 2


# --- visibility ---------------------------------------------------------------------


def test_received_message_hides_until_timeout_then_returns_with_new_receipt(queue):
    queue.send("a")
    [first] = queue.receive(visibility_timeout=1)
    assert queue.receive() == []
    assert queue.depth() == (0, 1)

    started = time.monotonic()
    [second] = queue.receive(visibility_timeout=30, wait_seconds=4)

    # It shows again when its timeout lapses; a waiting receive notices soon after.
    assert time.monotonic() - started < 2.0
    assert second.id == first.id
    assert second.receive_count == 2
    assert second.receipt != first.receipt
    if queue.refuses_stale_receipts:
        # SQS accepts an older receipt without saying whether it did anything,
        # so only an adapter that promises it is held to refusing one.
        assert not queue.delete(first.receipt)
        assert not queue.extend(first.receipt, 30)
    assert queue.delete(second.receipt)
    assert queue.depth() == (0, 0)


def test_extend_keeps_it_hidden_and_release_shows_it_at_once(queue):
    queue.send("a")
    [message] = queue.receive(visibility_timeout=1)

    assert queue.extend(message.receipt, 4)
    time.sleep(1.3)
    assert queue.receive() == []
    assert queue.depth() == (0, 1)

    assert queue.release(message.receipt)
    [again] = queue.receive()
    assert (again.id, again.receive_count) == (message.id, 2)


def test_delete_removes_it_for_good(queue):
    queue.send("a")
    queue.send("b")
    [message] = queue.receive()

    assert queue.delete(message.receipt)
    if queue.refuses_stale_receipts:
        # SQS answers a second delete of the same receipt with success.
        assert not queue.delete(message.receipt)
    assert queue.depth() == (1, 0)
    assert [m.body for m in queue.receive()] == ["b"]
    assert queue.receive() == []


def test_depth_counts_visible_and_in_flight(queue):
    assert queue.depth() == (0, 0)
    for n in range(4):
        queue.send(str(n))
    queue.receive(max_messages=3)

    assert queue.depth() == (1, 3)


def test_two_queues_in_one_place_are_independent(queue_factory):
    jobs, changes = queue_factory("jobs"), queue_factory("changes")
    try:
        jobs.send("job")

        assert changes.receive() == []
        assert changes.depth() == (0, 0)
        [message] = jobs.receive()
        assert not changes.delete(message.receipt)
        assert not changes.extend(message.receipt, 0)
        changes.send("change")
        assert jobs.depth() == (0, 1)
        assert jobs.delete(message.receipt)
        assert [m.body for m in changes.receive()] == ["change"]
    finally:
        jobs.close()
        changes.close()


# --- waiting ------------------------------------------------------------------------


def test_waiting_receive_wakes_at_once_when_another_process_sends(queue, queue_factory):
    child = spawn(
        queue_factory,
        """
        queue = factory("work")
        print("ready", flush=True)
        time.sleep(0.5)  # the parent is waiting by now
        print(time.time(), flush=True)
        queue.send("wake up")
        queue.close()
        """,
    )
    try:
        expect_line(child, "ready")
        attempts = queue.receive_attempts

        messages = queue.receive(wait_seconds=5)

        returned = time.time()
        sent = float(child.stdout.readline())
    finally:
        assert child.wait(10) == 0
    assert [m.body for m in messages] == ["wake up"]
    # Without a wake-up it would only notice at its next look, a second later.
    assert returned - sent < 0.3
    assert queue.receive_attempts - attempts <= 4


def test_waiting_receive_wakes_at_once_when_this_process_sends(queue, queue_factory):
    sender = queue_factory("work")
    try:
        join = receive_in_thread(queue, wait_seconds=5)
        time.sleep(0.3)
        sent = time.monotonic()
        sender.send("here")
        messages, returned = join()
    finally:
        sender.close()
    assert [m.body for m in messages] == ["here"]
    assert returned - sent < 0.3


def test_release_wakes_a_waiting_receiver(queue, queue_factory, adapter):
    other = queue_factory("work")
    try:
        queue.send("a")
        [held] = other.receive(visibility_timeout=30)
        join = receive_in_thread(queue, wait_seconds=5)
        time.sleep(0.3)
        released = time.monotonic()
        assert other.release(held.receipt)
        messages, returned = join()
    finally:
        other.close()
    assert [(m.id, m.receive_count) for m in messages] == [(held.id, 2)]
    assert returned - released < RELEASE_REACHES_WAITER[adapter]


def test_waiting_receive_gives_up_after_wait_without_spinning(queue):
    attempts = queue.receive_attempts
    started = time.monotonic()

    assert queue.receive(wait_seconds=2) == []

    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 2.7
    assert queue.receive_attempts - attempts <= 5


# --- concurrency --------------------------------------------------------------------


def test_racing_processes_each_get_every_message_once(queue, queue_factory, adapter):
    sent = {queue.send(f"m{n}") for n in range(MESSAGES_TO_RACE[adapter])}
    script = """
        queue = factory("work")
        taken, lost = [], []

        def consume():
            while messages := queue.receive(visibility_timeout=60):
                for message in messages:
                    taken.append(message.id)
                    # A delivery held by us alone can always be deleted.
                    if not queue.delete(message.receipt):
                        lost.append(message.id)

        print("ready", flush=True)
        sys.stdin.readline()
        threads = [threading.Thread(target=consume) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({"taken": taken, "lost": lost}), flush=True)
        queue.close()
        """
    children = [spawn(queue_factory, script) for _ in range(2)]
    try:
        for child in children:
            expect_line(child, "ready")
        for child in children:  # start together, so they race
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(child.stdout.readline()) for child in children]
    finally:
        for child in children:
            assert child.wait(20) == 0

    taken = [m for report in reports for m in report["taken"]]
    assert set(taken) == sent  # none lost
    assert all(report["taken"] for report in reports), "one process took everything: no race"
    assert [report["lost"] for report in reports] == [[], []]
    if queue.delivers_once:
        assert sorted(taken) == sorted(sent)  # each exactly once
        assert queue.depth() == (0, 0)
    else:
        # SQS's standard queues deliver at least once: now and then a message
        # is handed out twice, or stays in flight to be handed out again after
        # its timeout (moto's server does that under concurrent deletes). The
        # encoder's conditional claim absorbs both. Nothing may wait unseen.
        assert queue.depth()[0] == 0
