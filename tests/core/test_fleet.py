"""What /fleet says of each member: its market, and interrupted once its
encoder got a spot interruption notice (from the heartbeat record)."""

from nommer.core.ports.fleet import merged_members

NOTICE = {"kind": "instance-action", "action": "terminate", "time": "2026-12-02T10:02:00Z",
          "seen_at": "2026-12-02T10:00:01.000000Z"}


def test_an_interrupted_encoder_makes_its_member_interrupted():
    members = [{"id": "i-1", "state": "running", "market": "spot"},
               {"id": "i-2", "state": "running", "market": "on-demand"},
               {"id": "i-3", "state": "starting", "market": "spot"}]
    encoders = [{"id": "i-1", "info": {"jobs": [], "market": "spot", "interrupted": NOTICE}},
                {"id": "i-2", "info": {"jobs": ["j"], "market": "on-demand"}}]

    merged = merged_members(members, encoders)

    assert [(m["id"], m["state"], m["market"]) for m in merged] == [
        ("i-1", "interrupted", "spot"), ("i-2", "running", "on-demand"), ("i-3", "starting", "spot")]
    assert merged[0]["interrupted"] == NOTICE
    assert "interrupted" not in merged[1]
    assert members[0]["state"] == "running"  # the fleet's own list is left as it was


def test_the_heartbeat_tells_the_market_the_fleet_does_not_know():
    merged = merged_members([{"id": "a", "state": "running", "market": ""}],
                            [{"id": "a", "info": {"market": "spot"}}])
    assert merged[0]["market"] == "spot"


def test_busy_until_is_the_longest_predicted_job_an_encoder_holds():
    import datetime

    from nommer.core.ports.fleet import busy_until

    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    encoders = [{"id": "a", "info": {"jobs": ["j1", "j2"]}}, {"id": "b", "info": {"jobs": []}},
                {"id": "c", "info": {"jobs": ["gone"]}}]
    until = busy_until(encoders, {"j1": 30.0, "j2": 90.5}, now)
    assert until == {"a": "2026-01-01T00:01:30.500000Z", "c": "2026-01-01T00:00:00.000000Z"}
