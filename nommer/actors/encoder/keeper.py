"""The Keeper: heartbeats the encoder and its jobs, extends their queue
leases, stops work on canceled jobs, ends the encoder after the idle time,
and gives up when the job store and the queue have been out of reach for
``lost_contact_timeout``."""

import os
import time

import pykka

from nommer.actors import base

from nommer.actors.ticker import Tick, Ticker
from nommer.core.model.jobs import utcnow
from nommer.core.feeder.scaling import idle_limit


class Keeper(base.ReportsStart, pykka.ThreadingActor):
    def __init__(self, core, on_idle, started_at=None, on_lost_contact=None):
        super().__init__()
        self.core = core
        self.config = core.config
        self.on_idle = on_idle  # called once when idle time is up
        self.idle_since = time.monotonic()
        self.last_heartbeat = 0.0
        self.started_at = started_at or utcnow()
        self.ticker = None
        self.idle_reported = False
        self.on_lost_contact = on_lost_contact  # called once when contact is lost for good
        self.lost_reported = False

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
        self._check_contact()
        self._check_idle()

    def _check_contact(self):
        silent = time.monotonic() - self.core.last_contact
        if (self.on_lost_contact is not None and not self.lost_reported
                and silent >= self.config.lost_contact_timeout):
            self.lost_reported = True
            self.core.log.error("no contact with the job store or the queue; giving up",
                                silent_seconds=round(silent, 1),
                                lost_contact_timeout=self.config.lost_contact_timeout)
            self.on_lost_contact()

    def _heartbeat(self):
        try:
            self.core.store.heartbeat(self.core.encoder_id, {
                "pid": os.getpid(),
                "started_at": self.started_at,
                **self.core.heartbeat_fields(),
            })
            self.core.made_contact()
            self.core.heartbeat_jobs()
        except Exception:
            self.core.log.exception("heartbeat failed")
        finally:
            # Timed from the end: a heartbeat that took long (the store out
            # of reach, retried) is not repeated by the ticks that queued
            # meanwhile, so they drain at once instead of piling up.
            self.last_heartbeat = time.monotonic()

    def _check_idle(self):
        if self.core.in_flight():
            self.idle_since = time.monotonic()
            return
        idle = time.monotonic() - self.idle_since
        if (self.config.idle_terminate and not self.idle_reported
                and idle >= idle_limit(self.config)):
            self.idle_reported = True
            self.core.log.info("idle; stopping", idle_seconds=round(idle, 1))
            self.on_idle()
