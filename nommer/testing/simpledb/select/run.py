"""Running a parsed, checked query on a domain, one page at a time."""

import time
from dataclasses import dataclass

from .. import limits
from ..domain import utf8_len
from ..errors import SdbError
from . import paging
from .evaluate import matches
from .syntax import ITEM_NAME


@dataclass
class Page:
    """One Select answer: ``items`` as ``(name, [(attribute, value)])`` and the
    token for the rest (None when nothing is left)."""

    items: list
    next_token: str | None


def _sort_key(query, name, attributes):
    """The item's place in the query's order, or None when the item lacks the
    sort attribute (SimpleDB returns only items that hold it). A multi-valued
    item sorts by its least value ascending, its greatest descending; ties go
    by item name in the same direction."""
    sort = query.order_by
    if sort is None or sort.attribute is None:
        return (name,)
    values = attributes.get(sort.attribute)
    if not values:
        return None
    return (max(values) if query.descending else min(values), name)


def _after(key, last, descending):
    return last is None or (key < last if descending else key > last)


def _scan(domain, query, last, deadline, clock):
    """``(key, name)`` of each matching item after ``last``, in order. When an
    unsorted scan runs out of time it ends with ``(key, None)``, ``key`` being
    the last item it examined; a sorted one (which must see every item before
    answering) raises RequestTimeout."""
    if query.order_by is None:
        names = [name for name in sorted(domain.items) if _after((name,), last, False)]
        for position, name in enumerate(names, 1):
            if matches(query.where, name, domain.items[name]):
                yield (name,), name
            if clock() > deadline and position < len(names):
                yield (name,), None
                return
        return
    found = []
    for name, attributes in domain.items.items():
        if matches(query.where, name, attributes):
            key = _sort_key(query, name, attributes)
            if key is not None:
                found.append((key, name))
        if clock() > deadline:
            raise SdbError("RequestTimeout",
                           f"A timeout occurred when attempting to query domain "
                           f"{domain.name} with the given query expression.")
    found.sort(reverse=query.descending)
    for key, name in found:
        if _after(key, last, query.descending):
            yield key, name


def _project(query, name, attributes):
    if query.output == ITEM_NAME:
        return name, []
    wanted = None if query.output == "*" else set(query.output)
    return name, [(attribute, value) for attribute, values in attributes.items()
                  if wanted is None or attribute in wanted for value in values]


def _size(item):
    """About how many bytes the item takes in the XML answer."""
    name, pairs = item
    return 30 + utf8_len(name) + sum(60 + utf8_len(a) + utf8_len(v) for a, v in pairs)


def run(domain, query, next_token=None, *, timeout=limits.QUERY_TIMEOUT,
        max_bytes=limits.MAX_RESPONSE_BYTES, clock=time.monotonic):
    """The page of ``query`` on ``domain`` that starts at ``next_token``.

    A page holds at most the query's limit (default 100) items and stops before
    ``max_bytes``; an unsorted query that runs past ``timeout`` seconds answers
    with what it found so far. Each of those ends the page with a NextToken.
    count(*) answers one item ``Domain`` with attribute ``Count``, counting up to
    the limit when there is one.
    """
    last = paging.decode(query, next_token)
    scan = _scan(domain, query, last, clock() + timeout, clock)
    if query.output == "count(*)":
        return _count(query, scan)
    limit = query.limit or limits.SELECT_DEFAULT_LIMIT
    items, size, last_key = [], 0, None
    for key, name in scan:
        if name is None:
            return Page(items, paging.encode(query, key))
        item = _project(query, name, domain.items[name])
        if items and size + _size(item) > max_bytes:
            return Page(items, paging.encode(query, last_key))
        items.append(item)
        size += _size(item)
        last_key = key
        if len(items) == limit:
            more = next(scan, None) is not None
            return Page(items, paging.encode(query, last_key) if more else None)
    return Page(items, None)


def _count(query, scan):
    count, token = 0, None
    for key, name in scan:
        if name is None:
            token = paging.encode(query, key)
            break
        count += 1
        if count == query.limit:
            if next(scan, None) is not None:
                token = paging.encode(query, key)
            break
    return Page([("Domain", [("Count", str(count))])], token)
