"""Select's pages: the limit clause, NextToken, the 1 MB cut and the time budget."""

import pytest

from nommer.testing.simpledb import start_server

from .books import load
from .helpers import refusal


def fill(sdb, domain, count):
    """Items ``item0000``... each with ``n`` (its number, zero-padded) and ``parity``."""
    sdb.create_domain(DomainName=domain)
    for start in range(0, count, 25):
        sdb.batch_put_attributes(DomainName=domain, Items=[
            {"Name": f"item{n:04d}", "Attributes": [
                {"Name": "n", "Value": f"{n:04d}"},
                {"Name": "parity", "Value": "even" if n % 2 == 0 else "odd"}]}
            for n in range(start, min(start + 25, count))])


def flat(pages):
    return [name for page in pages for name in page]


def pages(sdb, expression):
    """Every page of ``expression``, following NextToken, as lists of item names."""
    found, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        answer = sdb.select(SelectExpression=expression, ConsistentRead=True, **kwargs)
        found.append([item["Name"] for item in answer.get("Items", [])])
        token = answer.get("NextToken")
        if not token:
            return found
        assert len(found) < 100, "paging does not end"


def test_default_limit_is_100_and_next_token_walks_the_rest(sdb):
    fill(sdb, "numbers", 250)
    found = pages(sdb, "select * from numbers")
    assert [len(page) for page in found] == [100, 100, 50]
    assert flat(found) == [f"item{n:04d}" for n in range(250)]


def test_the_limit_clause_sets_the_page_size(sdb):
    fill(sdb, "numbers", 30)
    found = pages(sdb, "select itemName() from numbers where parity = 'odd' limit 4")
    assert [len(page) for page in found] == [4, 4, 4, 3]
    assert flat(found) == [f"item{n:04d}" for n in range(1, 30, 2)]


def test_sorted_pages_continue_in_order(sdb):
    fill(sdb, "numbers", 40)
    found = pages(sdb, "select * from numbers where n >= '0010' order by n desc limit 7")
    assert flat(found) == [f"item{n:04d}" for n in range(39, 9, -1)]
    assert [len(page) for page in found] == [7, 7, 7, 7, 2]


def test_a_last_full_page_has_no_next_token(sdb):
    fill(sdb, "numbers", 10)
    answer = sdb.select(SelectExpression="select * from numbers limit 10")
    assert len(answer["Items"]) == 10
    assert "NextToken" not in answer


def test_pages_neither_skip_nor_repeat_when_items_change(sdb):
    fill(sdb, "numbers", 20)
    first = sdb.select(SelectExpression="select itemName() from numbers limit 10")
    sdb.delete_attributes(DomainName="numbers", ItemName="item0000")
    sdb.put_attributes(DomainName="numbers", ItemName="item0000a",
                       Attributes=[{"Name": "n", "Value": "new"}])
    rest = sdb.select(SelectExpression="select itemName() from numbers limit 10",
                      NextToken=first["NextToken"])
    assert [item["Name"] for item in rest["Items"]] == [f"item{n:04d}" for n in range(10, 20)]


def test_count_and_select_share_tokens(sdb):
    fill(sdb, "numbers", 30)
    counted = sdb.select(SelectExpression="select count(*) from numbers "
                                          "where parity = 'even' limit 10")
    assert counted["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "10"}]
    rest = sdb.select(SelectExpression="select itemName() from numbers where parity = 'even'",
                      NextToken=counted["NextToken"])
    assert [item["Name"] for item in rest["Items"]] == [
        f"item{n:04d}" for n in range(20, 30, 2)]
    counted = sdb.select(SelectExpression="select count(*) from numbers where parity = 'even'",
                         NextToken=counted["NextToken"])
    assert counted["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "5"}]
    assert "NextToken" not in counted


def test_bad_tokens_are_refused(sdb):
    fill(sdb, "numbers", 5)
    token = sdb.select(SelectExpression="select * from numbers limit 2")["NextToken"]
    for bad in ("garbage!", "eyJub3QiOiAidGhpcyJ9", token[:-4]):
        assert refusal(sdb.select, SelectExpression="select * from numbers limit 2",
                       NextToken=bad)[:2] == ("InvalidNextToken", 400), bad
    # A token belongs to its where clause and order.
    assert refusal(sdb.select, SelectExpression="select * from numbers where n > '0' limit 2",
                   NextToken=token)[:2] == ("InvalidNextToken", 400)


def test_an_answer_stops_before_one_megabyte(sdb):
    sdb.create_domain(DomainName="heavy")
    value = "x" * 1000
    for n in range(5):
        sdb.put_attributes(DomainName="heavy", ItemName=f"big{n}", Attributes=[
            {"Name": f"a{k:03d}", "Value": value} for k in range(256)])
    first = sdb.select(SelectExpression="select * from heavy")
    size = len(first["Items"]) * 256 * len(value)
    assert 0 < len(first["Items"]) < 5
    assert size < 1024 * 1024
    assert "NextToken" in first
    rest = sdb.select(SelectExpression="select * from heavy", NextToken=first["NextToken"])
    assert [item["Name"] for item in first["Items"] + rest["Items"]] == [
        f"big{n}" for n in range(5)]
    assert all(len(item["Attributes"]) == 256 for item in rest["Items"])


@pytest.fixture
def hasty(boto_session):
    """A server whose Select has no time at all: each page looks at one item."""
    server, url = start_server(query_timeout=0.0)
    client = boto_session.client("sdb", endpoint_url=url)
    load(client)
    yield client
    server.stop()


def test_a_query_out_of_time_answers_what_it_has_with_a_token(hasty):
    found = pages(hasty, "select * from mydomain where Year > '1985'")
    assert len(found) == 6
    assert sorted(flat(found)) == ["B00005JPLW", "B000SF3NGK", "B000T9886K"]
    counts, token = [], None
    while True:
        answer = hasty.select(SelectExpression="select count(*) from mydomain",
                              **({"NextToken": token} if token else {}))
        counts.append(int(answer["Items"][0]["Attributes"][0]["Value"]))
        token = answer.get("NextToken")
        if not token:
            break
    assert sum(counts) == 6


def test_a_sorted_query_out_of_time_is_a_request_timeout(hasty):
    assert refusal(hasty.select, SelectExpression="select * from mydomain "
                   "where Year > '1985' order by Year")[:2] == ("RequestTimeout", 408)
