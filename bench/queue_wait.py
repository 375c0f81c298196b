"""A waiting receive on the SQLite queue: the receiving thread's CPU for
each message it waited for, was woken by the doorbell for, took and
deleted, as the feeder's Dispatcher and the encoder's Puller do.

One thread receives with ``wait_seconds`` while another sends a message
every few milliseconds, so that every receive waits; the receiving thread's
CPU time (time.thread_time) is divided by the messages.

    python bench/queue_wait.py [MESSAGES] [ROUNDS]
"""

import os
import pathlib
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from nommer.core.adapters.sqlite_queue import SqliteWorkQueue  # noqa: E402

GAP = 0.003  # seconds between two sends: longer than a receive takes


def once(messages):
    """The receiving thread's CPU microseconds a message."""
    with tempfile.TemporaryDirectory(prefix="nommer-bench-queue-") as tmp:
        path = os.path.join(tmp, "q.sqlite3")
        receiver = SqliteWorkQueue(path, "work", synchronous="NORMAL")
        sender = SqliteWorkQueue(path, "work", synchronous="NORMAL")
        used = {}

        def receive():
            got, started = 0, time.thread_time()
            while got < messages:
                for message in receiver.receive(max_messages=1, wait_seconds=5):
                    receiver.delete(message.receipt)
                    got += 1
            used["cpu"] = time.thread_time() - started

        thread = threading.Thread(target=receive)
        thread.start()
        for n in range(messages):
            time.sleep(GAP)
            sender.send(str(n))
        thread.join()
        receiver.close()
        sender.close()
    return used["cpu"] / messages * 1e6


def main(messages=400, rounds=3):
    results = [once(messages) for _ in range(rounds)]
    return {"messages": messages, "rounds": rounds, "us_per_message": min(results), "all": results,
            "load": os.getloadavg()[0]}


if __name__ == "__main__":
    r = main(*(int(a) for a in sys.argv[1:3]))
    print(f"{r['us_per_message']:.0f} us of the receiving thread's CPU a message waited for "
          f"(best of {r['rounds']}: {', '.join(f'{x:.0f}' for x in r['all'])}); load average {r['load']:.1f}")
