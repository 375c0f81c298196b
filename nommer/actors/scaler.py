"""The Scaler owns the Fleet: on each tick it builds a view of the work
(unfinished jobs and their predicted encoder-seconds, from the JobTracker)
and of the fleet (members, their heartbeats), hands it to the policy of
``nommer.core.feeder.scaling.decide`` and carries out what it decides: launches,
and retirements of idle encoders. It also ends the machines whose encoder
never started (``boot_timeout``). The simulator (``nommer.sim``) calls the
same ``decide``."""

import time

from nommer.actors import addresses, base
from nommer.actors.messages import EncoderGone, Retire, Workload
from nommer.actors.ticker import Tick, Ticker
from nommer.core.feeder.metrics import FeederMetrics
from nommer.core.feeder.scaling import ArrivalRate, Encoder, Rules, View, decide, launch_time, unbooted


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
        self.backlog_seconds = 0.0
        self.submitted = 0
        self.arrivals = ArrivalRate()
        self.rules = Rules.from_config(config)
        self.idle_since = {}  # encoder id: when it was first seen holding nothing
        self.last_decision = None
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
            self.backlog_seconds = message.backlog_seconds
            self.submitted = message.submitted
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
        view = self._view(running)
        decision = decide(view, self.rules)
        self.last_decision = {"at": view.now, "launch": decision.launch,
                              "retire": list(decision.retire), "desired": decision.desired,
                              "reason": decision.reason}
        if decision.launch:
            self.fleet.note_wait(None if self.oldest_pending is None
                                 else max(0.0, time.time() - self.oldest_pending))
            launched = self.fleet.launch(decision.launch)
            self._count_launches(launched)
            if launched:  # none while failed launches back off: that is logged by the fleet
                self.log.info("encoders launched", count=len(launched),
                              ids=[m.id for m in launched], unfinished=self.unfinished,
                              reason=decision.reason)
        for encoder_id in decision.retire:
            if self.fleet.retire(encoder_id):
                self.idle_since.pop(encoder_id, None)
                self.log.info("idle encoder retired", encoder_id=encoder_id, reason=decision.reason)

    def _view(self, running):
        """The farm as the policy sees it. The heartbeats (read only for the
        policy that retires) say which members booted and what they hold."""
        now = time.time()
        beats = {}
        if self.store is not None and self.rules.policy != "media-nommer" and running:
            try:
                beats = {e["id"]: e for e in self.store.encoders()}
            except Exception:
                # Without them no encoder is known idle: nothing is retired.
                self.log.exception("cannot read the encoders' heartbeats")
        current = {m.id for m in running}
        self.idle_since = {k: v for k, v in self.idle_since.items() if k in current}
        encoders = []
        for member in running:
            beat = beats.get(member.id)
            jobs = len((beat.get("info") or {}).get("jobs") or ()) if beat else 0
            if beat is None or jobs:
                self.idle_since.pop(member.id, None)
            else:
                self.idle_since.setdefault(member.id, now)
            launched = launch_time(member.started_at)
            encoders.append(Encoder(
                id=member.id, launched_at=launched.timestamp() if launched else now,
                booted=beat is not None or member.id in self.booted,
                jobs=jobs, idle_since=self.idle_since.get(member.id)))
        return View(now=now, encoders=tuple(encoders), unfinished=self.unfinished,
                    backlog_seconds=self.backlog_seconds,
                    arrival_rate=self.arrivals.observe(now, self.submitted))

    def decision(self):
        """The last decision and its reason (for /fleet)."""
        return self.last_decision

    def look(self):
        """Take a look now (as a tick does) and return its decision."""
        self._scale()
        return self.last_decision

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
