"""The Scaler actor feeds the policy of nommer.core.feeder.scaling: it launches for
the predicted seconds of work, retires only idle encoders past the billing
minimum, and with media-nommer's policy retires none. A real SQLite store
holds the heartbeats; the fleet is a Fleet that records what it was told."""

import datetime
import threading

import pykka
import pytest

from nommer.actors.messages import Workload
from nommer.actors.scaler import Scaler
from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.ports.fleet import Fleet, Member

from ..e2e.farm import wait_for


def ago(seconds):
    at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RecordingFleet(Fleet):
    def __init__(self, members=()):
        self.lock = threading.Lock()
        self.live = {m.id: m for m in members}
        self.launched = []
        self.retired = []

    def launch(self, count):
        with self.lock:
            made = [Member(f"new-{len(self.launched) + i}", "starting", ago(0)) for i in range(count)]
            self.launched += made
            self.live.update((m.id, m) for m in made)
            return made

    def members(self):
        with self.lock:
            return list(self.live.values())

    def retire(self, member_id):
        with self.lock:
            self.retired.append(member_id)
            return self.live.pop(member_id, None) is not None


@pytest.fixture
def store(tmp_path):
    store = SqliteJobStore(tmp_path / "nommer.sqlite3")
    yield store
    store.close()


@pytest.fixture
def started():
    refs = []
    yield refs
    for ref in refs:
        ref.stop()
    pykka.ActorRegistry.stop_all()


def settings(**more):
    return config_mod.load(environ={}, overrides={
        "scale_interval": 0.1, "heartbeat_interval": 0.1, "max_encoders": 10,
        "jobs_per_encoder": 2, "target_wait": 100, "keep_warm": 0, **more})


def test_launches_for_the_predicted_seconds_not_the_job_count(store, started):
    fleet = RecordingFleet()
    scaler = Scaler.start(settings(), fleet, store)
    started.append(scaler)
    scaler.tell(Workload(unfinished=20, backlog_seconds=1000.0))  # ceil(1000 / 200) = 5
    wait_for(lambda: len(fleet.launched) == 5, 5, "five launches")
    # Booting ones count as capacity arriving: no more on the next looks.
    scaler.tell(Workload(unfinished=20, backlog_seconds=1000.0))
    wait_for(lambda: "5 there" in (scaler.proxy().decision().get(timeout=5) or {}).get("reason", ""),
             5, "a look that sees them")
    assert len(fleet.launched) == 5
    decision = scaler.proxy().decision().get(timeout=5)
    assert "1000 s of predicted work" in decision["reason"] and "5 booting" in decision["reason"]


def test_retires_only_idle_encoders_past_the_billing_minimum(store, started):
    old_idle = Member("old-idle", "running", ago(300))
    young_idle = Member("young-idle", "running", ago(5))
    busy = Member("busy", "running", ago(300))
    fleet = RecordingFleet([old_idle, young_idle, busy])
    store.heartbeat("old-idle", {"jobs": []})
    store.heartbeat("young-idle", {"jobs": []})
    store.heartbeat("busy", {"jobs": ["j1"]})
    scaler = Scaler.start(settings(), fleet, store)
    started.append(scaler)
    scaler.tell(Workload(unfinished=1, backlog_seconds=30.0))  # one encoder's worth: the busy one
    wait_for(lambda: fleet.retired, 5, "a retirement")
    for _ in range(5):  # later looks retire no other
        scaler.tell(Workload(unfinished=1, backlog_seconds=30.0))
    scaler.proxy().decision().get(timeout=5)
    assert fleet.retired == ["old-idle"]
    assert set(fleet.live) == {"young-idle", "busy"}


def test_media_nommer_policy_never_retires(store, started):
    fleet = RecordingFleet([Member("idle", "running", ago(300))])
    store.heartbeat("idle", {"jobs": []})
    scaler = Scaler.start(settings(scaling_policy="media-nommer"), fleet, store)
    started.append(scaler)
    scaler.tell(Workload(unfinished=0))
    wait_for(lambda: scaler.proxy().decision().get(timeout=5) is not None, 5, "a look")
    import time

    time.sleep(0.5)  # several ticks
    assert fleet.retired == [] and fleet.launched == []


def test_an_idle_encoder_is_kept_warm_while_jobs_keep_coming(store, started):
    fleet = RecordingFleet([Member("idle", "running", ago(300))])
    store.heartbeat("idle", {"jobs": []})
    # Seen idle 2 s (two heartbeat intervals) before it may be retired.
    scaler = Scaler.start(settings(keep_warm=120, heartbeat_interval=1), fleet, store)
    started.append(scaler)
    scaler.tell(Workload(unfinished=0, submitted=0))
    import time

    time.sleep(0.3)
    scaler.tell(Workload(unfinished=0, submitted=30))  # 30 jobs came and went
    time.sleep(2.5)
    decision = scaler.proxy().decision().get(timeout=5)
    assert fleet.retired == []
    assert "1 there" in decision["reason"] and "kept warm" in decision["reason"]
    assert " 0 kept warm" not in decision["reason"]
