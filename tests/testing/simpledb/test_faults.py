"""Fault injection: a fraction of calls fail with SimpleDB's throttling error."""

import pytest

from nommer.testing.simpledb import start_server

from .helpers import refusal


def outcomes(sdb, calls):
    """For each of ``calls`` ListDomains, the error code or "ok"."""
    found = []
    for _ in range(calls):
        try:
            sdb.list_domains()
            found.append("ok")
        except sdb.exceptions.ClientError as error:
            found.append(error.response["Error"]["Code"])
    return found


@pytest.fixture
def flaky(make_client):
    servers = []

    def start(**options):
        server, url = start_server(**options)
        servers.append(server)
        return server, make_client(url)

    yield start
    for server in servers:
        server.stop()


def test_the_fail_rate_is_roughly_honoured(flaky):
    _, sdb = flaky(fail_rate=0.25, seed=11)
    found = outcomes(sdb, 400)
    assert set(found) == {"ok", "ServiceUnavailable"}
    assert 0.17 <= found.count("ServiceUnavailable") / len(found) <= 0.33


def test_the_same_seed_fails_the_same_calls(flaky):
    _, first = flaky(fail_rate=0.5, seed=3)
    _, second = flaky(fail_rate=0.5, seed=3)
    _, other = flaky(fail_rate=0.5, seed=4)
    pattern = outcomes(first, 40)
    assert outcomes(second, 40) == pattern
    assert outcomes(other, 40) != pattern


def test_a_throttled_call_is_a_503_that_changes_nothing(flaky):
    server, sdb = flaky(fail_rate=1.0)
    code, status, message = refusal(sdb.create_domain, DomainName="never")
    assert (code, status) == ("ServiceUnavailable", 503)
    assert "try again" in message
    server.fail_rate = 0.0
    assert "DomainNames" not in sdb.list_domains()


def test_the_rate_can_change_while_serving(flaky):
    server, sdb = flaky()
    assert outcomes(sdb, 10) == ["ok"] * 10
    server.fail_rate = 1.0
    assert outcomes(sdb, 10) == ["ServiceUnavailable"] * 10
    server.fail_rate = 0
    assert outcomes(sdb, 10) == ["ok"] * 10
    with pytest.raises(ValueError, match="between 0 and 1"):
        server.fail_rate = 1.5
