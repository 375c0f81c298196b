"""Spot interruption notices as an encoder reads them from IMDSv2 (the
loopback stand-in of the metadata service)."""

import pytest

from nommer.core.adapters.imds import Imds, ImdsUnavailable
from nommer.core.encoder.spot import SpotWatch
from tests.aws.imds_server import ImdsServer
from tests.aws.moto_server import free_port


def test_no_notice_until_ec2_gives_one_then_the_interruption():
    with ImdsServer("i-0abc1234def567890", "us-east-1", lifecycle="spot") as imds:
        watch = SpotWatch(Imds(imds.url))
        assert watch.market() == "spot"
        assert watch.check() is None
        imds.announce_interruption()
        notice = watch.check()
    assert (notice.kind, notice.action) == ("instance-action", "terminate")
    assert notice.time.endswith("Z") and notice.seen_at
    # IMDSv2: every look carried the session token, asked once.
    assert all(valid for method, _, valid in imds.requests)
    assert sum(1 for method, *_ in imds.requests if method == "PUT") == 1


def test_a_rebalance_recommendation_is_a_notice_too():
    with ImdsServer("i-0abc1234def567890", "us-east-1", lifecycle="spot") as imds:
        watch = SpotWatch(Imds(imds.url))
        assert watch.check() is None
        imds.recommend_rebalance()
        notice = watch.check()
    assert (notice.kind, notice.action) == ("rebalance", "rebalance")


def test_an_expired_token_is_asked_again():
    with ImdsServer("i-0abc1234def567890", "us-east-1", lifecycle="spot") as imds:
        watch = SpotWatch(Imds(imds.url))
        assert watch.check() is None
        imds.token = "another"  # the old one is refused now (401)
        imds.announce_interruption("stop")
        assert watch.check().action == "stop"


def test_on_demand_says_so_and_no_service_is_an_error():
    with ImdsServer("i-0abc1234def567890", "us-east-1") as imds:
        assert SpotWatch(Imds(imds.url)).market() == "on-demand"
    with pytest.raises(ImdsUnavailable):
        SpotWatch(Imds(f"http://127.0.0.1:{free_port()}", timeout=0.5)).check()
