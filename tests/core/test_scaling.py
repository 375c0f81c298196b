import dataclasses

import pytest

from nommer.core.feeder.scaling import encoders_to_start


@pytest.mark.parametrize("unfinished, running, expected", [
    (0, 0, 0),        # nothing to do
    (1, 0, 1),        # no encoder and any job: start one
    (10, 0, 1),       # media-nommer starts one first, more on the next tick
    (3, 1, 0),        # 3 < capacity 2 + overflow 2
    (4, 1, 1),        # 4 >= 2 + 2: overage 2 -> one more
    (9, 1, 3),        # overage 7 -> ceil(7/2)=4, capped by max 4 - 1 running = 3
    (9, 4, 0),        # at the maximum
])
def test_media_nommer_rule(unfinished, running, expected):
    assert encoders_to_start(unfinished, running, jobs_per_encoder=2, overflow=2, maximum=4) == expected


def test_minimum_is_kept_even_without_work():
    assert encoders_to_start(0, 0, 2, 2, maximum=3, minimum=2) == 2
    assert encoders_to_start(0, 2, 2, 2, maximum=3, minimum=2) == 0


# The policies (nommer.core.feeder.scaling.decide) ------------------------------------

from nommer.core.feeder.scaling import (  # noqa: E402
    ArrivalRate, Encoder, Rules, View, decide, idle_limit, wanted_encoders,
)

WAIT = Rules(policy="wait-target", slots=2, minimum=0, maximum=10, target_wait=100.0,
             retire_idle_after=10.0, warm_horizon=0.0)


def test_wanted_encoders_is_backlog_over_target_wait_times_slots():
    # 1000 s of work, 100 s target, 2 slots: ceil(1000 / 200) = 5 ...
    assert wanted_encoders(1000.0, 20, WAIT) == 5
    assert wanted_encoders(1001.0, 20, WAIT) == 6
    # ... never more than the jobs can fill (one job, one slot) ...
    assert wanted_encoders(1000.0, 3, WAIT) == 2
    # ... at least one for any work, within the bounds.
    assert wanted_encoders(1.0, 1, WAIT) == 1
    assert wanted_encoders(0.0, 1, WAIT) == 1  # nothing predicted yet, still a job
    assert wanted_encoders(0.0, 0, WAIT) == 0
    assert wanted_encoders(10_000.0, 100, WAIT) == 10
    assert wanted_encoders(0.0, 0, dataclasses.replace(WAIT, minimum=2)) == 2


def test_a_long_film_counts_more_than_many_clips():
    film = decide(View(now=0, encoders=(), unfinished=2, backlog_seconds=7200.0), WAIT)
    clips = decide(View(now=0, encoders=(), unfinished=20, backlog_seconds=150.0), WAIT)
    assert (film.launch, clips.launch) == (1, 1)
    many = decide(View(now=0, encoders=(), unfinished=40, backlog_seconds=3000.0), WAIT)
    assert many.launch == 10 and "3000 s of predicted work" in many.reason


def test_booting_encoders_count_as_capacity_arriving():
    booting = tuple(Encoder(f"e{i}", launched_at=0, booted=False) for i in range(3))
    decision = decide(View(now=30, encoders=booting, unfinished=20, backlog_seconds=1000.0), WAIT)
    assert decision.launch == 2 and decision.desired == 5
    assert "3 booting" in decision.reason


def test_an_idle_encoder_is_retired_only_past_the_billing_minimum_and_when_not_needed():
    idle_old = Encoder("old", launched_at=0, jobs=0, idle_since=40)
    idle_young = Encoder("young", launched_at=30, jobs=0, idle_since=40)
    busy = Encoder("busy", launched_at=0, jobs=2)
    view = View(now=70, encoders=(idle_old, idle_young, busy), unfinished=2, backlog_seconds=50.0)
    # One wanted (the busy one): 'young' billed 40 s < 60 s, so it is kept.
    assert decide(view, WAIT).retire == ("old",)
    # Seen idle only 5 s: maybe it just finished and a job is on its way.
    just = dataclasses.replace(view, now=45, encoders=(dataclasses.replace(idle_old, idle_since=40), busy))
    assert decide(just, WAIT).retire == ()
    # Work predicted for it: kept.
    needed = dataclasses.replace(view, unfinished=6, backlog_seconds=590.0)
    assert decide(needed, WAIT).retire == ()


def test_a_busy_encoder_is_never_retired():
    busy = tuple(Encoder(f"b{i}", launched_at=0, jobs=1) for i in range(4))
    assert decide(View(now=1000, encoders=busy, unfinished=4, backlog_seconds=1.0), WAIT).retire == ()


def test_idle_encoders_are_kept_warm_for_the_jobs_the_submission_rate_predicts():
    warm = dataclasses.replace(WAIT, warm_horizon=120.0)
    idle = tuple(Encoder(f"i{i}", launched_at=0, idle_since=100) for i in range(3))
    quiet = View(now=500, encoders=idle, unfinished=0, arrival_rate=0.0)
    assert len(decide(quiet, warm).retire) == 3
    # 90 jobs an hour: 3 expected within 120 s, 2 encoders of 2 slots kept.
    busy = dataclasses.replace(quiet, arrival_rate=90 / 3600)
    assert len(decide(busy, warm).retire) == 1


def test_media_nommer_policy_is_its_rule_and_never_retires():
    rules = Rules(policy="media-nommer", slots=2, overflow=2, maximum=4)
    idle = (Encoder("a", launched_at=0, idle_since=0),)
    assert decide(View(now=1000, encoders=idle, unfinished=4), rules).launch == 1
    assert decide(View(now=1000, encoders=idle, unfinished=0), rules).retire == ()


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown scaling policy 'nope'"):
        decide(View(now=0, encoders=(), unfinished=0), Rules(policy="nope"))


def test_arrival_rate_follows_submissions():
    rate = ArrivalRate(window=60.0)
    assert rate.observe(0, 0) == 0.0
    for t in range(10, 1201, 10):
        value = rate.observe(t, t // 10)  # one job every 10 s
    assert value == pytest.approx(0.1, rel=0.01)
    assert rate.observe(1200, 120) == value  # no time passed: unchanged


# Its settings -------------------------------------------------------------------

from nommer.core import config as config_mod  # noqa: E402
from nommer.core.errors import ConfigError  # noqa: E402


@pytest.mark.parametrize("key, value, says", [
    ("scaling_policy", "cheapest", "must be one of wait-target, media-nommer"),
    ("target_wait", "0", "must be at least 1"),
    ("target_wait", "soon", "must be a number"),
    ("keep_warm", "-1", "must be at least 0"),
    ("default_job_seconds", "-5", "must be at least 0"),
])
def test_bad_scaling_settings_are_refused_naming_the_key(key, value, says):
    with pytest.raises(ConfigError) as e:
        config_mod.load(environ={f"NOMMER_{key.upper()}": value})
    assert f"'{key}'" in str(e.value) and says in str(e.value)


def test_rules_come_from_the_settings():
    config = config_mod.load(environ={}, overrides={
        "scaling_policy": "media-nommer", "target_wait": 30, "jobs_per_encoder": 3,
        "max_encoders": 7, "min_encoders": 1, "keep_warm": 45, "heartbeat_interval": 4})
    rules = Rules.from_config(config)
    assert (rules.policy, rules.target_wait, rules.slots, rules.maximum, rules.minimum,
            rules.warm_horizon, rules.retire_idle_after) == ("media-nommer", 30.0, 3, 7, 1, 45.0, 8.0)
    assert Rules.from_config(config_mod.load(environ={})).policy == "wait-target"


def test_an_idle_encoder_stops_itself_later_when_the_scaler_keeps_some_warm():
    base = {"max_inactivity": 60, "keep_warm": 90}
    assert idle_limit(config_mod.load(environ={}, overrides=base)) == 150
    assert idle_limit(config_mod.load(environ={}, overrides={**base, "scaling_policy": "media-nommer"})) == 60
    assert idle_limit(config_mod.load(environ={}, overrides={**base, "idle_terminate": False})) == 0
