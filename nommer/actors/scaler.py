"""The Scaler owns the Fleet: on each tick it compares unfinished work with
fleet capacity and launches encoders within the configured bounds, and ends
the machines whose encoder never started (``boot_timeout``)."""

import time

from nommer.actors import addresses, base
from nommer.actors.messages import EncoderGone, Retire, Workload
from nommer.actors.ticker import Tick, Ticker
from nommer.core.metrics import FeederMetrics
from nommer.core.scaling import encoders_to_start, unbooted


class Scaler(base.Child):
    address = addresses.SCALER
    name = "scaler"

    def __init__(self, config, fleet, store=None, metrics=None):
        super().__init__()
        self.config = config
        self.metrics = metrics or FeederMetrics()
        self.failure_seen = None  # the time of the last failed launch counted
        self.fleet = fleet
        # Read for the encoders' heartbeats only; None: no boot check.
        self.store = store
        self.unfinished = 0
        self.oldest_pending = None  # epoch seconds; spot or on demand (fleet.note_wait)
        self.ticker = None
        self.booted = set()  # members seen heartbeating: never ended for a slow boot

    def on_start(self):
        self.ticker = Ticker(self.actor_ref, self.config.scale_interval, "scaler").start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message):
        if isinstance(message, Workload):
            first = self.unfinished == 0 and message.unfinished > 0
            self.unfinished = message.unfinished
            self.oldest_pending = message.oldest_pending
            if first:
                self._scale()  # the first job of a quiet spell should not wait a tick
        elif isinstance(message, Tick):
            self._scale()
        elif isinstance(message, Retire):
            if self.fleet.retire(message.encoder_id):
                self.log.info("encoder retired", encoder_id=message.encoder_id)
        else:
            super().on_receive(message)

    def _scale(self):
        members = [m for m in self.fleet.members() if m.state in ("starting", "running")]
        dead = {m.id for m in self._end_unbooted(members)}
        running = [m for m in members if m.id not in dead]
        count = encoders_to_start(
            self.unfinished if self.config.autoscale else 0,
            len(running), self.config.jobs_per_encoder,
            self.config.job_overflow_threshold, self.config.encoders_max,
            self.config.min_encoders,
        )
        if count:
            self.fleet.note_wait(None if self.oldest_pending is None
                                 else max(0.0, time.time() - self.oldest_pending))
            launched = self.fleet.launch(count)
            self._count_launches(launched)
            if launched:  # none while failed launches back off: that is logged by the fleet
                self.log.info("encoders launched", count=len(launched),
                              ids=[m.id for m in launched], unfinished=self.unfinished)

    def _count_launches(self, launched):
        self.metrics.encoders_launched(len(launched))
        failure = (self.fleet.problems().get("launch_error") or {}).get("at")
        if failure and failure != self.failure_seen:
            self.failure_seen = failure
            self.metrics.encoder_launch_failed()

    def _end_unbooted(self, members):
        """End the members whose encoder did not heartbeat within
        ``boot_timeout`` of launch; returns them (capacity that never comes)."""
        current = {m.id for m in members}
        self.booted &= current
        if self.store is None or not unbooted(members, self.booted, self.config.boot_timeout):
            return []  # nothing old enough to be in doubt: no need to read the store
        try:
            heartbeating = {e["id"] for e in self.store.encoders()}
        except Exception:
            # Without the heartbeats nothing can be told apart; next tick.
            self.log.exception("cannot read the encoders' heartbeats")
            return []
        self.booted |= heartbeating & current
        ended = []
        for member in unbooted(members, self.booted, self.config.boot_timeout):
            reason = (f"did not start within boot_timeout ({self.config.boot_timeout:g} s) "
                      "of its launch")
            self.log.error("encoder never started; ending its machine", encoder_id=member.id,
                           started_at=member.started_at, boot_timeout=self.config.boot_timeout)
            if self.fleet.retire(member.id):
                ended.append(member)
                # tell: the Reaper hands back any job it holds.
                base.tell(addresses.REAPER, EncoderGone(member.id, reason))
        return ended

    def members(self):
        return [m.__dict__ for m in self.fleet.members()]

    def problems(self):
        return self.fleet.problems()

    def retry(self):
        """The operator fixed what made launches fail: launch again now."""
        self.fleet.retry_launches()
        self._scale()
        return self.fleet.problems()
