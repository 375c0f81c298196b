"""The Supervisor starts the feeder's actors in order, restarts a crashed one
from its factory with backoff, and gives up (the process exits non-zero, and
systemd starts it again) after too many restarts in a window."""

import dataclasses
import threading
import time

import pykka

from nommer.actors import addresses

from nommer.actors.base import ChildFailed, StartFailed, ping
from nommer.core import log
from nommer.core.feeder.api_types import ActorHealth
from nommer.core.backoff import Backoff

# 0.2 s after a first crash, doubling to 10 s while crashes come in a row.
RESTART_BACKOFF = Backoff(0.2, 10.0, jitter=0)


@dataclasses.dataclass(frozen=True)
class Restart:
    name: str


@dataclasses.dataclass
class ChildSpec:
    name: str
    factory: object  # () -> ActorRef
    ref: object = None
    restarts: int = 0
    recent: list = dataclasses.field(default_factory=list)  # restart times
    last_error: str = ""
    state: str = "stopped"
    failed_urn: str = ""  # the actor whose failure was counted last


class Supervisor(pykka.ThreadingActor):
    address = addresses.SUPERVISOR
    def __init__(self, specs, max_restarts, window, on_give_up):
        super().__init__()
        self.specs = {spec.name: spec for spec in specs}
        self.order = [spec.name for spec in specs]
        self.max_restarts = max_restarts
        self.window = window
        self.on_give_up = on_give_up
        self.stopping = False
        self.log = log.get("nommer.supervisor")

    # asked by run() -----------------------------------------------------------

    def start_children(self):
        """Start every child in order, each answering before the next starts;
        one that fails to start is restarted with backoff like one that
        crashed (and, failing too often, ends the feeder)."""
        for name in self.order:
            spec = self.specs[name]
            try:
                self._start(spec)
            except StartFailed as e:
                self._failed(ChildFailed(name, str(e)))
        return self.order

    def stop_children(self, timeout=15.0):
        """Stop the children in reverse order."""
        self.stopping = True
        for name in reversed(self.order):
            spec = self.specs[name]
            if spec.ref is not None and spec.ref.is_alive():
                try:
                    spec.ref.stop(timeout=timeout)
                except pykka.Timeout:
                    self.log.warning("actor did not stop in time", actor=name)
            spec.state = "stopped"

    def health(self) -> dict[str, ActorHealth]:
        return {
            name: {
                # "running" as far as the Supervisor knows, but gone: dead.
                "state": ("dead" if spec.state == "running" and (spec.ref is None or not spec.ref.is_alive())
                          else spec.state),
                "restarts": spec.restarts,
                "last_error": spec.last_error,
            }
            for name, spec in self.specs.items()
        }

    # events -------------------------------------------------------------------

    def on_receive(self, message):
        if isinstance(message, ChildFailed):
            self._failed(message)
        elif isinstance(message, Restart):
            spec = self.specs[message.name]
            if not self.stopping and spec.state == "restarting":
                try:
                    self._start(spec)
                    self.log.info("actor restarted", actor=spec.name, restarts=spec.restarts)
                except Exception as e:
                    self._failed(ChildFailed(spec.name, f"restart failed: {e}"))

    def _start(self, spec):
        spec.state = "starting"
        spec.ref = spec.factory()
        ping(spec.ref)  # its on_start ran, and it answers
        spec.state = "running"

    def _failed(self, message):
        spec = self.specs.get(message.name)
        if spec is None or self.stopping:
            return
        # One failure of one actor counts once: a child that crashes while
        # it is pinged fails the start here and reports its crash as well;
        # and the report of an actor already replaced is old news.
        current = spec.ref.actor_urn if spec.ref is not None else ""
        urn = message.urn or current
        if urn and urn == spec.failed_urn:
            return
        if message.urn and current and message.urn != current:
            return
        spec.failed_urn = urn
        now = time.monotonic()
        spec.last_error = message.error
        spec.recent = [t for t in spec.recent if now - t < self.window] + [now]
        if len(spec.recent) > self.max_restarts:
            spec.state = "failed"
            self.log.error("actor keeps crashing; giving up", actor=spec.name,
                           restarts=len(spec.recent) - 1, window=self.window)
            self.on_give_up(spec.name, message.error)
            return
        spec.restarts += 1
        spec.state = "restarting"
        delay = RESTART_BACKOFF.delay(len(spec.recent))
        self.log.warning("actor crashed; restarting", actor=spec.name,
                         delay=delay, error=message.error)
        timer = threading.Timer(delay, self._tell_restart, args=(spec.name,))
        timer.daemon = True
        timer.start()

    def _tell_restart(self, name):
        try:
            self.actor_ref.tell(Restart(name))
        except pykka.ActorDeadError:
            pass
