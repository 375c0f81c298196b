"""A feeder running in this test's process answers /fleet and /health in
exactly the shapes nommer.core.feeder.api_types declares: the keys they require,
no key they do not declare, values of their types. tests/http's ServiceApi
builds its answers from the same types, so the double and the feeder
cannot drift apart."""

import pykka
import pytest

from nommer.actors.gateway import ActorGateway
from nommer.core import config as config_mod
from nommer.core.feeder.api_types import FleetReport, HealthReport, mismatches
from nommer.feeder import Feeder

from ..e2e.farm import farm_env, wait_for
from ..e2e.feeder import call


@pytest.fixture
def running_feeder(tmp_path):
    # One encoder kept running, so /fleet has a member and a heartbeat.
    media = tmp_path / "media"
    media.mkdir()
    env = farm_env(tmp_path / "data", [media], port=0, scale_interval=0.3, min_encoders=1)
    feeder = Feeder(config_mod.load(environ={k: v for k, v in env.items() if k.startswith("NOMMER_")})).start()
    host, port = feeder.address()
    try:
        yield f"http://{host}:{port}"
    finally:
        feeder.stop()
        assert pykka.ActorRegistry.get_all() == []


def test_the_gateways_fleet_and_health_have_exactly_the_declared_shapes(running_feeder):
    gateway = ActorGateway(timeout=10, intake=None)

    def settled():
        fleet = gateway.fleet()
        return fleet if (fleet["members"] and fleet["encoders"] and fleet["scaler"]["decision"]) else None
    fleet = wait_for(settled, 30, "the encoder to heartbeat")
    ok, health = gateway.health()

    assert mismatches(fleet, FleetReport) == []
    assert ok and mismatches(health, HealthReport) == []
    assert set(health["actors"]) == {"job_tracker", "notifier", "dispatcher", "scaler", "reaper", "http_front"}
    # and as the HTTP API passes them on, in JSON
    assert mismatches(call(running_feeder, "GET", "/fleet")[1], FleetReport) == []
    assert mismatches(call(running_feeder, "GET", "/health")[1], HealthReport) == []
