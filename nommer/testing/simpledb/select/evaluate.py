"""Whether an item matches a where clause.

All comparisons are lexicographic on strings (numbers must be zero-padded by
the client, as with SimpleDB). An attribute may hold several values, and
SimpleDB evaluates a predicate against one value at a time:

- a comparison is true when any value of its attribute satisfies it (``!=``
  and ``not like`` too); with ``every(attr)`` all values must, and there must
  be at least one; an absent attribute satisfies only ``is null``;
- the conditions an ``and`` joins that each look at one and the same attribute
  must all hold for a single value of it: so ``Keyword = 'Book' and Keyword =
  'Hardcover'`` matches nothing, while ``Keyword = 'Book' intersection
  Keyword = 'Hardcover'`` matches items that hold both values, and ``Year >
  '1975' and Year < '2008'`` needs one Year in that range;
- otherwise ``intersection`` and ``and`` intersect the items each side
  matches, ``or`` unites them, ``not`` takes the items the inside does not match.
"""

import functools
import re

from .syntax import And, Comparison, Intersection, Not, Or


@functools.lru_cache(maxsize=256)
def _like(pattern):
    r"""A regex for a like pattern: ``%`` is any run of characters, ``\%`` a
    literal percent sign."""
    parts = re.split(r"(\\%|%)", pattern)
    return re.compile("".join(
        ".*" if part == "%" else "%" if part == "\\%" else re.escape(part)
        for part in parts), re.DOTALL)


def _test(op, values, value):
    """Whether one present ``value`` satisfies ``op`` with ``values``."""
    if op == "=":
        return value == values[0]
    if op == "!=":
        return value != values[0]
    if op == ">":
        return value > values[0]
    if op == ">=":
        return value >= values[0]
    if op == "<":
        return value < values[0]
    if op == "<=":
        return value <= values[0]
    if op == "like":
        return _like(values[0]).fullmatch(value) is not None
    if op == "not like":
        return _like(values[0]).fullmatch(value) is None
    if op == "between":
        return values[0] <= value <= values[1]
    if op == "in":
        return value in values
    if op == "is not null":
        return True
    if op == "is null":
        return False
    raise ValueError(f"unknown operator {op!r}")


def _subject_values(subject, name, attributes):
    if subject.attribute is None:
        return [name]
    return attributes.get(subject.attribute, [])


@functools.lru_cache(maxsize=1024)
def _single_attribute(expression):
    """The attribute every comparison of an and/or group looks at, or None when
    the group mixes attributes, uses every(), or holds anything but and/or."""
    if isinstance(expression, Comparison):
        subject = expression.subject
        return None if subject.every or subject.attribute is None else subject.attribute
    if isinstance(expression, (And, Or)):
        left = _single_attribute(expression.left)
        return left if left is not None and left == _single_attribute(expression.right) else None
    return None


def _on_value(expression, value):
    """An and/or group of comparisons on one attribute, against one value
    (None standing for the absent attribute)."""
    if isinstance(expression, And):
        return _on_value(expression.left, value) and _on_value(expression.right, value)
    if isinstance(expression, Or):
        return _on_value(expression.left, value) or _on_value(expression.right, value)
    if value is None:
        return expression.op == "is null"
    return _test(expression.op, expression.values, value)


def _conjuncts(expression):
    if isinstance(expression, And):
        return _conjuncts(expression.left) + _conjuncts(expression.right)
    return (expression,)


@functools.lru_cache(maxsize=1024)
def _grouped(conjunction):
    """The conditions of an ``and`` chain: ``({attribute: conditions on it alone}, others)``."""
    groups, others = {}, []
    for condition in _conjuncts(conjunction):
        attribute = _single_attribute(condition)
        if attribute is None:
            others.append(condition)
        else:
            groups.setdefault(attribute, []).append(condition)
    return groups, others


def matches(expression, name, attributes):
    """Whether the item ``name`` with ``attributes`` (``{name: [values]}``)
    satisfies ``expression`` (None matches every item)."""
    if expression is None:
        return True
    if isinstance(expression, Comparison):
        values = _subject_values(expression.subject, name, attributes)
        if expression.subject.every:
            return bool(values) and all(
                _test(expression.op, expression.values, value) for value in values)
        return any(_on_value(expression, value) for value in values or [None])
    if isinstance(expression, And):
        groups, others = _grouped(expression)
        for attribute, conditions in groups.items():
            if not any(all(_on_value(condition, value) for condition in conditions)
                       for value in attributes.get(attribute) or [None]):
                return False
        return all(matches(condition, name, attributes) for condition in others)
    if isinstance(expression, Or):
        return (matches(expression.left, name, attributes)
                or matches(expression.right, name, attributes))
    if isinstance(expression, Intersection):
        return (matches(expression.left, name, attributes)
                and matches(expression.right, name, attributes))
    if isinstance(expression, Not):
        return not matches(expression.expression, name, attributes)
    raise TypeError(f"not an expression: {expression!r}")
