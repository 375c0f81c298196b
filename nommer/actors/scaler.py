"""The Scaler owns the Fleet: on each tick it compares unfinished work with
fleet capacity and launches encoders within the configured bounds."""

from nommer.actors import base
from nommer.actors.messages import Retire, Workload
from nommer.actors.ticker import Tick, Ticker
from nommer.core.scaling import encoders_to_start


class Scaler(base.Child):
    name = "scaler"

    def __init__(self, config, fleet):
        super().__init__()
        self.config = config
        self.fleet = fleet
        self.unfinished = 0
        self.ticker = None

    def on_start(self):
        self.ticker = Ticker(self.actor_ref, self.config.scale_interval, "scaler").start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message):
        if isinstance(message, Workload):
            first = self.unfinished == 0 and message.unfinished > 0
            self.unfinished = message.unfinished
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
        running = [m for m in self.fleet.members() if m.state in ("starting", "running")]
        count = encoders_to_start(
            self.unfinished if self.config.autoscale else 0,
            len(running), self.config.jobs_per_encoder,
            self.config.job_overflow_threshold, self.config.encoders_max,
            self.config.min_encoders,
        )
        if count:
            launched = self.fleet.launch(count)
            self.log.info("encoders launched", count=len(launched),
                          ids=[m.id for m in launched], unfinished=self.unfinished)

    def members(self):
        return [m.__dict__ for m in self.fleet.members()]
