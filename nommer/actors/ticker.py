"""Periodic work as messages: a Ticker thread tells an actor ``Tick`` every
``interval`` seconds, so no actor ever sleeps."""

import dataclasses
import threading

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
