"""Periodic work as messages: a Ticker thread tells an actor ``Tick`` every
``interval`` seconds, and an Alarm tells it a message once, a while after
it was set, so no actor ever sleeps."""

import dataclasses
import threading
import time

import pykka


@dataclasses.dataclass(frozen=True)
class Tick:
    name: str = "tick"


class Ticker:
    def __init__(self, actor_ref, interval, name="tick", first=0.0):
        self._ref = actor_ref
        self._interval = interval
        self._first = first
        self._message = Tick(name)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ticker-{name}", daemon=True
        )

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopped.set()

    def _run(self):
        if self._stopped.wait(self._first):
            return
        while not self._stopped.is_set():
            try:
                self._ref.tell(self._message)
            except pykka.ActorDeadError:
                return
            if self._stopped.wait(self._interval):
                return


class Alarm:
    """Tells an actor a message once, some time after it was set: one thread
    for all of one actor's alarms (a threading.Timer would start a thread
    for each). A message set again while it is due keeps the earlier time.
    Messages must be hashable (a frozen dataclass)."""

    def __init__(self, actor_ref, name="alarm"):
        self._ref = actor_ref
        self._due = {}  # message: time.monotonic() when it is told
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"alarm-{name}", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def set(self, seconds, message):
        """Tell ``message`` in ``seconds``, unless it is set to be told sooner."""
        at = time.monotonic() + seconds
        with self._cv:
            before = self._due.get(message)
            if before is not None and before <= at:
                return
            soonest = min(self._due.values(), default=None)
            self._due[message] = at
            if soonest is None or at < soonest:
                self._cv.notify()  # else it wakes in time for this one anyway

    def stop(self):
        with self._cv:
            self._stopped = True
            self._cv.notify()

    def _run(self):
        while True:
            with self._cv:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    due = [m for m, at in self._due.items() if at <= now]
                    if due:
                        for message in due:
                            del self._due[message]
                        break
                    self._cv.wait(min(self._due.values()) - now if self._due else None)
            for message in due:
                try:
                    self._ref.tell(message)
                except pykka.ActorDeadError:
                    return
