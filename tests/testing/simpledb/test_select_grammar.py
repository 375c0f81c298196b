"""Select's grammar beyond the guide's examples: quoting, operators, keywords
and the expressions SimpleDB refuses."""

import pytest

from nommer.testing.simpledb import start_server

from .books import load
from .helpers import refusal


@pytest.fixture(scope="module")
def books(boto_session):
    server, url = start_server()
    client = boto_session.client("sdb", endpoint_url=url)
    load(client)
    client.create_domain(DomainName="odd-names.1")
    client.put_attributes(DomainName="odd-names.1", ItemName="quoted", Attributes=[
        {"Name": "limit", "Value": "It's"},
        {"Name": "with space", "Value": 'say "hi"'},
        {"Name": "back`tick", "Value": "100% sure"},
        {"Name": "back`tick", "Value": "100 percent"},
    ])
    yield client
    server.stop()


def names(sdb, expression):
    return sorted(item["Name"] for item in sdb.select(SelectExpression=expression)
                  .get("Items", []))


@pytest.mark.parametrize("expression, expected", [
    ("SELECT * FROM mydomain WHERE Title = 'Tropic of Cancer'", ["0802131786"]),
    ("sElEcT itemName() fRoM `mydomain` wHeRe ITEMNAME() = '0802131786'", ["0802131786"]),
    ("select * from mydomain where Title = \"Heaven's Gonna Burn Your Eyes\"", ["B000SF3NGK"]),
    ("select * from mydomain where Title = 'Heaven''s Gonna Burn Your Eyes'", ["B000SF3NGK"]),
    ("select * from mydomain where Year != '2007'",
     ["0385333498", "0802131786", "1579124585", "B000SF3NGK"]),
    # Bounds: < and > leave the value itself out, <=, >= and between take it.
    ("select * from mydomain where Year < '2002'", ["0385333498", "0802131786", "1579124585"]),
    ("select * from mydomain where Year > '2002'", ["B00005JPLW", "B000T9886K"]),
    ("select * from mydomain where Year between '1934' and '1959'",
     ["0385333498", "0802131786"]),
    ("select * from mydomain where Year >= '2002' and Year <= '2007'",
     ["B00005JPLW", "B000SF3NGK", "B000T9886K"]),
    # != holds when any value differs: only items whose every keyword is Book fail.
    ("select * from mydomain where Keyword != 'Book'",
     ["0385333498", "1579124585", "B00005JPLW", "B000T9886K"]),
    # not takes the items its inside does not match, those without Keyword too.
    ("select * from mydomain where not Keyword = 'Book'",
     ["B00005JPLW", "B000SF3NGK", "B000T9886K"]),
    ("select * from mydomain where Keyword is null", ["B000SF3NGK"]),
    ("select * from mydomain where Pages is not null",
     ["0385333498", "0802131786", "1579124585"]),
    ("select * from mydomain where Author like '%Miller'", ["0802131786"]),
    ("select * from mydomain where Title like 'The%of%'", ["0385333498"]),
    ("select * from mydomain where Author not like 'T%'",
     ["0385333498", "0802131786", "B00005JPLW", "B000T9886K"]),
    ("select * from mydomain where Keyword in ('CD', 'DVD')", ["B00005JPLW", "B000T9886K"]),
    ("select * from mydomain where itemName() in ('B000T9886K', 'nope')", ["B000T9886K"]),
    ("select * from mydomain where itemName() between '1' and 'B000'", ["1579124585"]),
    ("select * from mydomain where every(Rating) like '*%'",
     ["0802131786", "B000SF3NGK"]),
    ("select * from mydomain where Year = '2007' and (Keyword = 'CD' or Rating = '***')",
     ["B00005JPLW", "B000T9886K"]),
    ("select * from mydomain where not (Year < '2000' or Keyword = 'CD')",
     ["B00005JPLW", "B000SF3NGK"]),
    # Conditions on one attribute joined by and hold for one value, also when
    # other attributes' conditions stand between them.
    (("select * from mydomain where Keyword = 'Book' and Title = 'The Right Stuff' "
      "and Keyword = 'Hardcover'"), []),
    ("select * from mydomain where Year > '1975' and Title like 'The%' and Year < '1980'",
     ["1579124585"]),
    ("select * from mydomain where Year = '2007' intersection not Keyword = 'CD'",
     ["B00005JPLW"]),
    ("select * from `odd-names.1` where `limit` = 'It''s'", ["quoted"]),
    ("select * from `odd-names.1` where `with space` = \"say \"\"hi\"\"\"", ["quoted"]),
    ("select * from `odd-names.1` where `back``tick` like '100\\%%'", ["quoted"]),
    ("select * from `odd-names.1` where every(`back``tick`) like '100%'", ["quoted"]),
    ("select * from `odd-names.1` where `back``tick` like '100\\% percent'", []),
])
def test_expressions(books, expression, expected):
    assert names(books, expression) == expected


def test_sorting_on_a_multi_valued_attribute_and_item_names(books):
    expression = ("select itemName() from mydomain where Rating is not null "
                  "order by Rating desc")
    items = [item["Name"] for item in books.select(SelectExpression=expression)["Items"]]
    # Descending, an item sorts by its greatest value ('Not bad', 'Excellent',
    # '4 stars' twice, '*****', '****'), ties by item name in the same direction.
    assert items == ["B00005JPLW", "0385333498", "B000T9886K", "1579124585",
                     "B000SF3NGK", "0802131786"]
    expression = "select itemName() from mydomain order by itemName() desc limit 2"
    assert [item["Name"] for item in books.select(SelectExpression=expression)["Items"]] == [
        "B000T9886K", "B000SF3NGK"]


@pytest.mark.parametrize("expression, hint", [
    ("select * from mydomain where Year > 1985", "quoted value"),
    ("select * from mydomain where Title = 'unterminated", "Unterminated"),
    ("select * mydomain", "'from'"),
    ("select * from mydomain where", "attribute name"),
    ("select * from mydomain where Year = '2007' extra", "end of the expression"),
    ("select * from my-domain", "'-'"),
    ("select * from mydomain where every(Year) is null", "every()"),
    ("select * from mydomain where Year ~ '2007'", "'~'"),
    ("select * from mydomain where (Year = '2007'", "')'"),
    ("select * from mydomain where Year not = '2007'", "'like'"),
    ("delete from mydomain", "'select'"),
])
def test_malformed_expressions_are_invalid_query_expressions(books, expression, hint):
    code, status, message = refusal(books.select, SelectExpression=expression)
    assert (code, status) == ("InvalidQueryExpression", 400)
    assert hint in message


def test_expression_limits(books):
    comparisons = " or ".join(f"Year = '{1900 + n}'" for n in range(21))
    assert refusal(books.select, SelectExpression=f"select * from mydomain where "
                                                  f"{comparisons}")[:2] == (
        "InvalidNumberPredicates", 400)
    twenty = " or ".join(f"Year = '{1900 + n}'" for n in range(20))
    assert books.select(SelectExpression=f"select * from mydomain where {twenty}")
    values = ", ".join(f"'{n}'" for n in range(21))
    assert refusal(books.select, SelectExpression=f"select * from mydomain where "
                                                  f"Year in ({values})")[:2] == (
        "InvalidNumberValueTests", 400)
    attributes = ", ".join(f"a{n}" for n in range(257))
    assert refusal(books.select, SelectExpression=f"select {attributes} from mydomain")[:2] == (
        "TooManyRequestedAttributes", 400)
    for limit in (0, 2501):
        code, status, message = refusal(books.select,
                                        SelectExpression=f"select * from mydomain limit {limit}")
        assert (code, status) == ("InvalidParameterValue", 400)
        assert "2500" in message

