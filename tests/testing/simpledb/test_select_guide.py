"""The Developer Guide's Select examples, on its sample data set, with the
results the guide gives for them."""

import pytest

from nommer.testing.simpledb import start_server

from .books import BOOKS, load
from .helpers import refusal


@pytest.fixture(scope="module")
def books(boto_session):
    # Read-only queries share one server and data set.
    server, url = start_server()
    client = boto_session.client("sdb", endpoint_url=url)
    load(client)
    yield client
    server.stop()


def names(sdb, expression):
    return [item["Name"] for item in sdb.select(SelectExpression=expression).get("Items", [])]


SIMPLE = [
    ("select * from mydomain where Title = 'The Right Stuff'", ["1579124585"]),
    ("select * from mydomain where Year > '1985'",
     ["B000T9886K", "B00005JPLW", "B000SF3NGK"]),
    ("select * from mydomain where Rating like '****%'",
     ["0385333498", "1579124585", "0802131786", "B000SF3NGK"]),
    ("select * from mydomain where Pages < '00320'", ["1579124585", "0802131786"]),
]
RANGE = [
    ("select * from mydomain where Year > '1975' and Year < '2008'",
     ["1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"]),
    ("select * from mydomain where Year between '1975' and '2008'",
     ["1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"]),
    ("select * from mydomain where Rating = '***' or Rating = '*****'",
     ["0385333498", "B00005JPLW", "B000SF3NGK"]),
    (("select * from mydomain where (Year > '1950' and Year < '1960') "
      "or Year like '193%' or Year = '2007'"),
     ["0385333498", "0802131786", "B000T9886K", "B00005JPLW"]),
]
MULTI_VALUED = [
    ("select * from mydomain where Rating = '4 stars' or Rating = '****'",
     ["1579124585", "0802131786", "B000T9886K"]),
    # Each comparison of one attribute is tried on one value at a time, and no
    # single value equals both.
    ("select * from mydomain where Keyword = 'Book' and Keyword = 'Hardcover'", []),
    ("select * from mydomain where every(Keyword) in ('Book', 'Paperback')",
     ["0385333498", "0802131786"]),
]
MULTIPLE_ATTRIBUTES = [
    ("select * from mydomain where Rating = '****'", ["0802131786", "1579124585"]),
    ("select * from mydomain where every(Rating) = '****'", ["0802131786"]),
    ("select * from mydomain where Keyword = 'Book' intersection Keyword = 'Hardcover'",
     ["1579124585"]),
]


@pytest.mark.parametrize("expression, expected",
                         SIMPLE + RANGE + MULTI_VALUED + MULTIPLE_ATTRIBUTES)
def test_guide_queries(books, expression, expected):
    assert sorted(names(books, expression)) == sorted(expected)


SORTED = [
    ("select * from mydomain where Year < '1980' order by Year asc",
     ["0802131786", "0385333498", "1579124585"]),
    ("select * from mydomain where Year < '1980' order by Year",
     ["0802131786", "0385333498", "1579124585"]),
    (("select * from mydomain where Year = '2007' intersection Author is not null "
      "order by Author desc"), ["B00005JPLW", "B000T9886K"]),
    ("select * from mydomain where Year < '1980' order by Year limit 2",
     ["0802131786", "0385333498"]),
    ("select itemName() from mydomain where itemName() like 'B000%' order by itemName()",
     ["B00005JPLW", "B000SF3NGK", "B000T9886K"]),
]


@pytest.mark.parametrize("expression, expected", SORTED)
def test_guide_sort_queries(books, expression, expected):
    assert names(books, expression) == expected


def test_sorting_on_an_unconstrained_attribute_is_refused(books):
    code, status, message = refusal(books.select,
                                    SelectExpression="select * from mydomain order by Year asc")
    assert (code, status) == ("InvalidSortExpression", 400)
    assert "Year" in message
    # The guide's is-null rule: the sort attribute must be constrained by a
    # predicate other than "is null".
    assert refusal(books.select, SelectExpression="select * from mydomain "
                   "where Author is null order by Title")[0] == "InvalidSortExpression"
    assert names(books, "select * from mydomain where Author is null "
                        "and Title is not null order by Title") == []


@pytest.mark.parametrize("expression, count", [
    ("select count(*) from mydomain where Title = 'The Right Stuff'", "1"),
    ("select count(*) from mydomain where Year > '1985'", "3"),
    ("select count(*) from mydomain limit 500", "6"),
    ("select count(*) from mydomain limit 4", "4"),
])
def test_guide_count_queries(books, expression, count):
    items = books.select(SelectExpression=expression)["Items"]
    assert items == [{"Name": "Domain", "Attributes": [{"Name": "Count", "Value": count}]}]


def test_select_star_returns_every_value_of_every_attribute(books):
    items = books.select(SelectExpression="select * from mydomain "
                                          "where itemName() = '0385333498'")["Items"]
    assert len(items) == 1
    found = {}
    for pair in items[0]["Attributes"]:
        found.setdefault(pair["Name"], []).append(pair["Value"])
    assert {name: sorted(values) for name, values in found.items()} == {
        name: sorted(values) for name, values in BOOKS["0385333498"].items()}


def test_an_attribute_list_returns_only_those_attributes(books):
    items = books.select(SelectExpression="select Title, Year from mydomain "
                                          "where Year < '1960'")["Items"]
    assert {item["Name"]: sorted((a["Name"], a["Value"]) for a in item["Attributes"])
            for item in items} == {
        "0385333498": [("Title", "The Sirens of Titan"), ("Year", "1959")],
        "0802131786": [("Title", "Tropic of Cancer"), ("Year", "1934")],
    }


def test_item_name_output_has_no_attributes(books):
    items = books.select(SelectExpression="select itemName() from mydomain "
                                          "where Year = '2007'")["Items"]
    assert sorted(items, key=lambda item: item["Name"]) == [
        {"Name": "B00005JPLW"}, {"Name": "B000T9886K"}]
