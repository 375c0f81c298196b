"""The Keeper: heartbeats the encoder and its jobs, extends their queue
leases, stops work on canceled jobs, and ends the encoder after the idle time."""

import os
import time

import pykka

from nommer.actors.ticker import Tick, Ticker
from nommer.core.jobs import utcnow


class Keeper(pykka.ThreadingActor):
    def __init__(self, core, on_idle, started_at=None):
        super().__init__()
        self.core = core
        self.config = core.config
        self.on_idle = on_idle  # called once when idle time is up
        self.idle_since = time.monotonic()
        self.last_heartbeat = 0.0
        self.started_at = started_at or utcnow()
        self.ticker = None
        self.idle_reported = False

    def on_start(self):
        interval = min(self.config.cancel_check_interval, self.config.heartbeat_interval)
        self.ticker = Ticker(self.actor_ref, interval, "keeper").start()
        self._heartbeat()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message):
        if isinstance(message, Tick):
            self._tick()

    def _tick(self):
        try:
            self.core.check_canceled()
        except Exception:
            self.core.log.exception("cancel check failed")
        if time.monotonic() - self.last_heartbeat >= self.config.heartbeat_interval:
            self._heartbeat()
        self._check_idle()

    def _heartbeat(self):
        self.last_heartbeat = time.monotonic()
        tasks = self.core.in_flight()
        try:
            self.core.store.heartbeat(self.core.encoder_id, {
                "pid": os.getpid(),
                "started_at": self.started_at,
                "jobs": [t.id for t in tasks],
                "slots": self.config.jobs_per_encoder,
                **self.core.stats,
            })
            self.core.heartbeat_jobs()
        except Exception:
            self.core.log.exception("heartbeat failed")

    def _check_idle(self):
        if self.core.in_flight():
            self.idle_since = time.monotonic()
            return
        idle = time.monotonic() - self.idle_since
        if (self.config.idle_terminate and not self.idle_reported
                and idle >= self.config.max_inactivity):
            self.idle_reported = True
            self.core.log.info("idle; stopping", idle_seconds=round(idle, 1))
            self.on_idle()
