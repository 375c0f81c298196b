"""Keeping the domains in a JSON file across restarts."""

import json

import pytest

from nommer.testing.simpledb import StoreFileError, start_server

from .books import BOOKS, load
from .helpers import attributes


@pytest.fixture
def restartable(make_client):
    """``restartable(path)`` starts a server persisting to ``path`` and returns
    ``(server, client)``; all are stopped afterwards."""
    servers = []

    def start(path):
        server, url = start_server(persist=path)
        servers.append(server)
        return server, make_client(url)

    yield start
    for server in servers:
        server.stop()


def test_domains_and_items_survive_a_restart(restartable, tmp_path):
    path = tmp_path / "simpledb.json"
    server, sdb = restartable(path)
    load(sdb)
    sdb.create_domain(DomainName="empty")
    sdb.put_attributes(DomainName="mydomain", ItemName="ünï\r\ncode", Attributes=[
        {"Name": "note", "Value": "<kept & whole>"}])
    sdb.delete_attributes(DomainName="mydomain", ItemName="B000SF3NGK")
    before = sdb.domain_metadata(DomainName="mydomain")
    server.stop()

    _, again = restartable(path)
    assert again.list_domains()["DomainNames"] == ["empty", "mydomain"]
    after = again.domain_metadata(DomainName="mydomain")
    assert {k: v for k, v in after.items() if k not in ("Timestamp", "ResponseMetadata")} == {
        k: v for k, v in before.items() if k not in ("Timestamp", "ResponseMetadata")}
    assert attributes(again, "mydomain", "0385333498") == {
        name: sorted(values) for name, values in BOOKS["0385333498"].items()}
    assert attributes(again, "mydomain", "ünï\r\ncode") == {"note": ["<kept & whole>"]}
    assert attributes(again, "mydomain", "B000SF3NGK") == {}
    found = again.select(SelectExpression="select itemName() from mydomain "
                                          "where Year < '1980' order by Year")["Items"]
    assert [item["Name"] for item in found] == ["0802131786", "0385333498", "1579124585"]


def test_every_change_leaves_one_complete_file(restartable, tmp_path):
    path = tmp_path / "simpledb.json"
    _, sdb = restartable(path)
    sdb.create_domain(DomainName="things")
    for n in range(5):
        sdb.put_attributes(DomainName="things", ItemName=f"i{n}",
                           Attributes=[{"Name": "n", "Value": str(n)}])
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert sorted(saved["domains"]["things"]["items"]) == [f"i{k}" for k in range(n + 1)]
    assert [p.name for p in tmp_path.iterdir()] == ["simpledb.json"]


def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreFileError, match="broken.json"):
        start_server(persist=path)
