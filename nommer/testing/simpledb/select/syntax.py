"""The parsed form of a select expression.

Plain frozen dataclasses: equal expressions compare and ``repr`` equal, which
the paging tokens use to recognise the query they belong to.
"""

from dataclasses import dataclass

ITEM_NAME = "itemName()"


@dataclass(frozen=True)
class Subject:
    """What a comparison looks at: an attribute's values, or the item's name
    when ``attribute`` is None. ``every`` asks all values to match."""

    attribute: str | None
    every: bool = False


@dataclass(frozen=True)
class Comparison:
    """``op`` is one of = != > >= < <= like, "not like", between, in,
    "is null", "is not null"; ``values`` are its constants."""

    subject: Subject
    op: str
    values: tuple


@dataclass(frozen=True)
class Not:
    expression: object


@dataclass(frozen=True)
class And:
    left: object
    right: object


@dataclass(frozen=True)
class Or:
    left: object
    right: object


@dataclass(frozen=True)
class Intersection:
    left: object
    right: object


@dataclass(frozen=True)
class Query:
    """``output`` is "*", ITEM_NAME, "count(*)" or a tuple of attribute names.
    ``limit`` is None when the expression has no limit clause."""

    output: object
    domain: str
    where: object = None
    order_by: Subject | None = None
    descending: bool = False
    limit: int | None = None


def comparisons(expression):
    """Every Comparison in ``expression``, left to right."""
    if expression is None:
        return
    if isinstance(expression, Comparison):
        yield expression
    elif isinstance(expression, Not):
        yield from comparisons(expression.expression)
    else:
        yield from comparisons(expression.left)
        yield from comparisons(expression.right)
