"""The SpotWatcher: on a spot instance, looks at the instance metadata
service every ``spot_check_interval`` seconds for an interruption notice or a
rebalance recommendation, and calls ``on_notice`` once when one comes."""

import pykka

from nommer.actors import base
from nommer.actors.ticker import Tick, Ticker
from nommer.core.encoder.spot import SpotWatch


class SpotWatcher(base.ReportsStart, pykka.ThreadingActor):
    def __init__(self, core, imds, on_notice):
        super().__init__()
        self.core = core
        self.watch = SpotWatch(imds)
        self.on_notice = on_notice
        self.ticker = None
        self.noticed = False
        self.failures = 0

    def on_start(self):
        # The first look at once: a notice may be there already.
        self.ticker = Ticker(self.actor_ref, self.core.config.spot_check_interval, "spot").start()

    def on_stop(self):
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message):
        if isinstance(message, Tick):
            self._look()

    def _look(self):
        if self.noticed:
            return
        try:
            notice = self.watch.check()
            self.failures = 0
        except Exception as e:
            self.failures += 1
            if self.failures == 1:  # once per spell: the next look tries again
                self.core.log.warning("cannot look for a spot interruption notice", error=str(e))
            return
        if notice is not None:
            self.noticed = True
            self.core.log.warning("spot interruption notice: handing back all work",
                                  **notice.to_dict())
            self.on_notice(notice)
