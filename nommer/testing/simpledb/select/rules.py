"""SimpleDB's rules for a parsed query beyond its grammar: its limits and the
rule that a sort attribute must be constrained by the where clause."""

from .. import limits
from ..errors import SdbError, invalid_value
from .syntax import comparisons


def check(query):
    """Raise SimpleDB's error for the first rule ``query`` breaks."""
    if isinstance(query.output, tuple) and len(query.output) > limits.MAX_REQUESTED_ATTRIBUTES:
        raise SdbError("TooManyRequestedAttributes",
                       f"Too many attributes requested: the limit is "
                       f"{limits.MAX_REQUESTED_ATTRIBUTES}.")
    found = list(comparisons(query.where))
    if len(found) > limits.MAX_COMPARISONS:
        raise SdbError("InvalidNumberPredicates",
                       f"Too many predicates in the query expression: {len(found)}, "
                       f"the limit is {limits.MAX_COMPARISONS}.")
    if any(len(comparison.values) > limits.MAX_VALUE_TESTS for comparison in found):
        raise SdbError("InvalidNumberValueTests",
                       f"Too many value tests per predicate in the query expression: "
                       f"the limit is {limits.MAX_VALUE_TESTS}.")
    _check_limit(query)
    _check_sort(query, found)


def _check_limit(query):
    if query.limit is None:
        return
    upper = None if query.output == "count(*)" else limits.SELECT_MAX_LIMIT
    if query.limit < 1 or (upper is not None and query.limit > upper):
        bounds = f"between 1 and {upper}" if upper else "at least 1"
        raise invalid_value("Limit", query.limit, f"Limit must be {bounds}.")


def _check_sort(query, found):
    sort = query.order_by
    if sort is None or sort.attribute is None:
        return
    constrained = {comparison.subject.attribute for comparison in found
                   if comparison.op != "is null"}
    if sort.attribute not in constrained:
        raise SdbError(
            "InvalidSortExpression",
            f"The sort attribute ({sort.attribute}) must be present in at least one of the "
            "predicates, and the predicate cannot contain the is null operator.")
