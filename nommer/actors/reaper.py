"""The Reaper re-queues jobs whose encoder went silent, abandons jobs stuck
too long, ends jobs whose queue message was dead-lettered, and has silent
encoders retired."""

from nommer.actors import addresses, base
from nommer.actors.messages import EncoderGone, Enqueue, Report, Retire
from nommer.actors.ticker import Tick, Ticker
from nommer.core.encoder.scratch import Scratch
from nommer.core.feeder.reaping import Reaping
from nommer.core.model.messages import state_change


class Reaper(base.Child):
    address = addresses.REAPER
    name = "reaper"

    def __init__(self, config, store, new_jobs=None, storage=None):
        super().__init__()
        self.config = config
        self.store = store
        scratch = Scratch(config, storage) if storage is not None else None
        self.reaping = Reaping(config, store, new_jobs, scratch)
        self.ticker = None

    def on_start(self):
        self.ticker = Ticker(self.actor_ref, self.config.reap_interval, "reaper",
                             first=self.config.reap_interval).start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message):
        if isinstance(message, Tick):
            self.sweep()
        elif isinstance(message, EncoderGone):
            self._tell_changes(self.reaping.encoder_gone(message.encoder_id, message.reason))
        else:
            super().on_receive(message)

    def sweep(self):
        result = self.reaping.sweep()
        self._tell_changes(result)
        for encoder_id in result.lost_encoders:
            self.log.warning("encoder stopped heartbeating", encoder_id=encoder_id)
            base.tell(addresses.SCALER, Retire(encoder_id))
            self.store.forget_encoder(encoder_id)
        return {"requeued": len(result.requeued), "failed": len(result.failed),
                "abandoned": len(result.abandoned), "lost_encoders": len(result.lost_encoders)}

    def _tell_changes(self, result):
        for job in result.changed:
            self.log.info("job reaped", job_id=job.id, state=job.state.value, details=job.details)
            base.tell(addresses.DISPATCHER, Report(state_change(job)))
        for job in result.requeued:
            base.tell(addresses.DISPATCHER, Enqueue(job.id, job.priority))
