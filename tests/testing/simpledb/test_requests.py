"""Requests boto3 would not send: malformed values, missing or unknown actions."""

from .helpers import post


def test_malformed_booleans_are_refused(server, sdb, domain):
    status, code, message = post(server.url, Action="PutAttributes", DomainName=domain,
                                 ItemName="i", **{"Attribute.1.Name": "a",
                                                  "Attribute.1.Value": "b",
                                                  "Attribute.1.Replace": "perhaps"})
    assert (status, code) == (400, "InvalidParameterValue")
    assert "perhaps" in message


def test_actions_must_be_given_and_known(server):
    assert post(server.url, DomainName="things")[:2] == (400, "MissingAction")
    status, code, message = post(server.url, Action="DropEverything")
    assert (status, code) == (400, "InvalidAction")
    assert "DropEverything" in message


def test_get_requests_are_answered_too(server, sdb, domain):
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/?Action=ListDomains", timeout=10) as answer:
        body = answer.read().decode("utf-8")
    assert answer.status == 200
    assert f"<DomainName>{domain}</DomainName>" in body
    assert 'xmlns="http://sdb.amazonaws.com/doc/2009-04-15/"' in body


def test_only_one_expected_condition_is_allowed(server, sdb, domain):
    status, code, _ = post(server.url, Action="PutAttributes", DomainName=domain, ItemName="i",
                           **{"Attribute.1.Name": "a", "Attribute.1.Value": "b",
                              "Expected.1.Name": "a", "Expected.1.Exists": "false",
                              "Expected.2.Name": "c", "Expected.2.Exists": "false"})
    assert (status, code) == (400, "MultipleExpectedNames")
    # The numbered form of a single condition is accepted.
    status, code, _ = post(server.url, Action="PutAttributes", DomainName=domain, ItemName="i",
                           **{"Attribute.1.Name": "a", "Attribute.1.Value": "b",
                              "Expected.1.Name": "a", "Expected.1.Exists": "false"})
    assert (status, code) == (200, None)
    status, code, _ = post(server.url, Action="PutAttributes", DomainName=domain, ItemName="i",
                           **{"Attribute.1.Name": "a", "Attribute.1.Value": "c",
                              "Expected.1.Name": "a", "Expected.1.Exists": "false"})
    assert (status, code) == (409, "ConditionalCheckFailed")


def test_a_stopped_server_closes_kept_alive_connections(server, sdb):
    import botocore.exceptions
    import pytest

    sdb.create_domain(DomainName="before")
    server.stop()
    with pytest.raises(botocore.exceptions.BotoCoreError):
        sdb.list_domains()
