"""The Puller takes jobs from the new-job queue while the encoder has free
slots, claims each, and hands it to the Fetcher."""

import threading

import pykka

from nommer.actors import base
from nommer.actors.encoder.messages import Pull, SlotFreed, Work
from nommer.core.backoff import Backoff

# A queue that fails at once is asked again after 0.1 s, doubling to 5 s.
RECEIVE_BACKOFF = Backoff(0.1, 5.0)


class Puller(base.ReportsStart, pykka.ThreadingActor):
    def __init__(self, core, fetcher, slots, wait_seconds):
        super().__init__()
        self.core = core
        self.fetcher = fetcher
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.errors = 0
        self.waiting_for_slot = False  # so that only one Pull loop ever runs
        self.timer = None

    def on_stop(self):
        if self.timer is not None:
            self.timer.cancel()

    def on_start(self):
        self.actor_ref.tell(Pull())

    def on_receive(self, message):
        if isinstance(message, SlotFreed):
            if self.waiting_for_slot:
                self.waiting_for_slot = False
                self.actor_ref.tell(Pull())
        elif isinstance(message, Pull):
            self._pull()

    def _pull(self):
        if not self.core.intake_open:
            return  # interrupted: takes nothing more
        free = self.slots - len(self.core.in_flight())
        if free <= 0:
            self.waiting_for_slot = True  # a SlotFreed brings the next Pull
            return
        try:
            # The long-poll wait is bounded (poll_wait), so a stop message
            # waits at most that long.
            messages = self.core.new_jobs.receive(
                max_messages=free,
                visibility_timeout=self.core.config.lease_seconds,
                wait_seconds=self.wait_seconds,
            )
            self.errors = 0
            self.core.made_contact()
        except Exception:
            self.errors += 1
            self.core.log.exception("queue receive failed", failures=self.errors)
            # The next Pull comes later, as a message: the actor never
            # sleeps, and a stop is taken at once.
            self.timer = threading.Timer(RECEIVE_BACKOFF.delay(self.errors), self._pull_later)
            self.timer.daemon = True
            self.timer.start()
            return
        for message in messages:
            if not self.core.intake_open:
                # Received while the encoder was told to go: back at once, unclaimed.
                try:
                    self.core.new_jobs.release(message.receipt)
                except Exception:
                    self.core.log.exception("release failed", body=message.body[:200])
                continue
            try:
                task = self.core.claim(message)
            except Exception:
                self.core.log.exception("claim failed", body=message.body[:200])
                continue
            if task is not None:
                self.fetcher.tell(Work(task))
        self.actor_ref.tell(Pull())

    def _pull_later(self):
        try:
            self.actor_ref.tell(Pull())
        except pykka.ActorDeadError:
            pass  # stopped meanwhile
