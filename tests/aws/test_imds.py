"""IMDSv2 against a loopback stand-in (tests/aws/imds_server.py): the real
instance metadata service answers only inside an EC2 instance."""

import time

import pytest

from nommer.core.adapters.imds import Imds, ImdsUnavailable
from tests.aws.imds_server import ImdsServer
from tests.aws.moto_server import free_port


def test_identity_takes_a_token_first_and_sends_it_with_every_read():
    with ImdsServer("i-0abc1234def567890", "eu-west-3") as server:
        identity = Imds(server.url).identity()

    assert (identity.instance_id, identity.region) == ("i-0abc1234def567890", "eu-west-3")
    assert server.requests[0] == ("PUT", "/latest/api/token", True)
    assert sorted(server.requests[1:]) == [
        ("GET", "/latest/meta-data/instance-id", True),
        ("GET", "/latest/meta-data/placement/region", True)]


def test_no_metadata_service_is_found_out_quickly():
    started = time.monotonic()
    with pytest.raises(ImdsUnavailable) as e:
        Imds(f"http://127.0.0.1:{free_port()}", timeout=1.0).identity()
    assert time.monotonic() - started < 2.5
    assert "not on EC2?" in str(e.value)


def test_a_refusal_is_reported_with_its_status():
    with ImdsServer("i-0abc1234def567890", "eu-west-3") as server, \
            pytest.raises(ImdsUnavailable) as e:
        server.accept_tokens = False
        Imds(server.url).identity()
    assert "answered HTTP 401" in str(e.value)


def test_a_strange_instance_id_is_refused():
    with ImdsServer("<html>captive portal</html>", "eu-west-3") as server, \
            pytest.raises(ImdsUnavailable) as e:
        Imds(server.url).identity()
    assert "unexpected instance id" in str(e.value)
