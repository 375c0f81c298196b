"""The Scaler tells the fleet how long the oldest pending job has waited
before it launches, so that the EC2 fleet can choose on-demand over spot
(``on_demand_after``)."""

import time

from nommer.actors.messages import Workload
from nommer.actors.scaler import Scaler
from nommer.actors.ticker import Tick
from nommer.core import config as config_mod
from nommer.core.ports.fleet import Fleet, Member
from nommer.core.model.jobs import utcnow


class RecordingFleet(Fleet):
    """A fleet that launches nothing real and notes what it was told."""

    def __init__(self):
        self.calls = []
        self.started = []

    def note_wait(self, seconds):
        self.calls.append(("note_wait", seconds))

    def launch(self, count):
        self.calls.append(("launch", count))
        made = [Member(f"m{len(self.started) + n}", "starting", utcnow()) for n in range(count)]
        self.started += made
        return made

    def members(self):
        return list(self.started)

    def retire(self, member_id):
        return False


def test_the_scaler_says_how_long_the_oldest_job_waited_before_launching(tmp_path):
    fleet = RecordingFleet()
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "max_encoders": 3,
                                                    "scale_interval": 3600})
    scaler = Scaler.start(config, fleet)
    try:
        scaler.tell(Workload(1, backlog_seconds=60.0, oldest_pending=time.time() - 90))
        scaler.ask(Tick("scaler"))
        scaler.tell(Workload(100, backlog_seconds=100 * 600.0, oldest_pending=None))
        scaler.ask(Tick("scaler"))
    finally:
        scaler.stop()

    launches = [i for i, call in enumerate(fleet.calls) if call[0] == "launch"]
    assert len(launches) >= 2
    for i in launches:  # each launch comes right after the wait it is for
        assert fleet.calls[i - 1][0] == "note_wait"
    waited = [fleet.calls[i - 1][1] for i in launches]
    assert 89 <= waited[0] < 100
    assert waited[-1] is None
