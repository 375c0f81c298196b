"""CreateDomain, DeleteDomain, ListDomains and DomainMetadata."""

import time

from nommer.testing.simpledb import limits

from .helpers import put, refusal


def test_created_domains_are_listed_in_order_and_deleted(sdb):
    for name in ("zeta", "alpha", "mid.dle-1"):
        sdb.create_domain(DomainName=name)
    assert sdb.list_domains()["DomainNames"] == ["alpha", "mid.dle-1", "zeta"]
    sdb.delete_domain(DomainName="mid.dle-1")
    assert sdb.list_domains()["DomainNames"] == ["alpha", "zeta"]


def test_create_and_delete_are_idempotent(sdb, domain):
    put(sdb, domain, "kept", colour="red")
    sdb.create_domain(DomainName=domain)
    assert sdb.get_attributes(DomainName=domain, ItemName="kept")["Attributes"] == [
        {"Name": "colour", "Value": "red"}]
    sdb.delete_domain(DomainName=domain)
    sdb.delete_domain(DomainName=domain)
    assert "DomainNames" not in sdb.list_domains()


def test_list_domains_pages_with_next_token(sdb):
    names = [f"domain{n:02d}" for n in range(7)]
    for name in reversed(names):
        sdb.create_domain(DomainName=name)
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        answer = sdb.list_domains(MaxNumberOfDomains=3, **kwargs)
        seen += answer["DomainNames"]
        pages += 1
        token = answer.get("NextToken")
        if not token:
            break
    assert seen == names
    assert pages == 3


def test_list_domains_refuses_bad_arguments(sdb, domain):
    assert refusal(sdb.list_domains, MaxNumberOfDomains=0)[:2] == ("InvalidParameterValue", 400)
    assert refusal(sdb.list_domains, MaxNumberOfDomains=101)[:2] == (
        "InvalidParameterValue", 400)
    assert refusal(sdb.list_domains, NextToken="%%not a token%%")[:2] == (
        "InvalidNextToken", 400)


def test_domain_names_follow_simpledb_rules(sdb):
    for bad in ("ab", "has space", "x" * 256, "slash/es"):
        code, status, message = refusal(sdb.create_domain, DomainName=bad)
        assert (code, status) == ("InvalidParameterValue", 400), bad
        assert "DomainName" in message
    sdb.create_domain(DomainName="a_b")
    sdb.create_domain(DomainName="x" * 255)
    assert len(sdb.list_domains()["DomainNames"]) == 2


def test_the_domain_count_is_limited(sdb):
    for n in range(limits.MAX_DOMAINS):
        sdb.create_domain(DomainName=f"d{n:04d}")
    assert refusal(sdb.create_domain, DomainName="one-too-many")[:2] == (
        "NumberDomainsExceeded", 409)
    sdb.create_domain(DomainName="d0000")  # an existing one is still fine


def test_metadata_counts_items_names_and_values(sdb, domain):
    before = int(time.time())
    put(sdb, domain, "item1", colour=["red", "blue"], size="L")
    put(sdb, domain, "item22", colour="green", weight="10kg")
    metadata = sdb.domain_metadata(DomainName=domain)
    assert metadata["ItemCount"] == 2
    assert metadata["ItemNamesSizeBytes"] == len("item1") + len("item22")
    assert metadata["AttributeNameCount"] == 3
    assert metadata["AttributeNamesSizeBytes"] == len("colour") + len("size") + len("weight")
    assert metadata["AttributeValueCount"] == 5
    assert metadata["AttributeValuesSizeBytes"] == len("redblueLgreen10kg")
    assert before <= metadata["Timestamp"] <= int(time.time())


def test_actions_on_a_missing_domain_answer_no_such_domain(sdb):
    calls = [
        (sdb.domain_metadata, {}),
        (sdb.put_attributes, {"ItemName": "i", "Attributes": [{"Name": "a", "Value": "b"}]}),
        (sdb.batch_put_attributes,
         {"Items": [{"Name": "i", "Attributes": [{"Name": "a", "Value": "b"}]}]}),
        (sdb.get_attributes, {"ItemName": "i"}),
        (sdb.delete_attributes, {"ItemName": "i"}),
        (sdb.batch_delete_attributes, {"Items": [{"Name": "i"}]}),
    ]
    for call, kwargs in calls:
        assert refusal(call, DomainName="missing", **kwargs) == (
            "NoSuchDomain", 400, "The specified domain does not exist."), call
    assert refusal(sdb.select, SelectExpression="select * from missing")[:2] == (
        "NoSuchDomain", 400)
