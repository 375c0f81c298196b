"""A domain: items, each a set of attribute name-value pairs.

An item is ``{attribute name: [values]}``; the values of one name are distinct
(SimpleDB keeps a name-value pair once) and keep the order they were first
put in. An item with no pair left does not exist. Changes are planned as new
dicts first and stored only when the whole plan is valid, so a refused call
(or a refused item of a batch) leaves the domain as it was.
"""

import time

from . import conditions, limits
from .errors import SdbError


def utf8_len(text):
    return len(text.encode("utf-8"))


def with_put(attributes, pairs):
    """The item that results from putting ``pairs`` (``(name, value, replace)``
    triples) on ``attributes``. A name put with ``replace`` loses its earlier
    values first, then gets every value this call sends for it."""
    result = {name: list(values) for name, values in attributes.items()}
    for name in {name for name, _, replace in pairs if replace}:
        result.pop(name, None)
    for name, value, _ in pairs:
        values = result.setdefault(name, [])
        if value not in values:
            values.append(value)
    if sum(len(values) for values in result.values()) > limits.MAX_PAIRS_PER_ITEM:
        raise SdbError("NumberItemAttributesExceeded",
                       f"Too many attributes in this item: the limit is "
                       f"{limits.MAX_PAIRS_PER_ITEM} name-value pairs.")
    return result


def without(attributes, targets):
    """The item that results from deleting ``targets`` from ``attributes``:
    None deletes every pair; ``(name, None)`` every value of ``name``;
    ``(name, value)`` that one pair. Deleting what is absent changes nothing."""
    if targets is None:
        return {}
    result = {name: list(values) for name, values in attributes.items()}
    for name, value in targets:
        if value is None:
            result.pop(name, None)
        elif value in result.get(name, ()):
            result[name].remove(value)
            if not result[name]:
                del result[name]
    return result


class Domain:
    """The items of one domain and the changes SimpleDB allows on them.
    Not thread-safe: the :class:`~.store.Store` holds the lock."""

    def __init__(self, name, items=None, created=None):
        self.name = name
        self.items = items if items is not None else {}
        self.created = created if created is not None else time.time()

    def attributes(self, item):
        """The item's ``{name: [values]}``, empty when it does not exist."""
        return self.items.get(item, {})

    def plan_put(self, item, pairs, expected=None):
        """The item after a PutAttributes, or SimpleDB's error; nothing changes."""
        current = self.attributes(item)
        conditions.check(current, expected)
        return with_put(current, pairs)

    def plan_delete(self, item, targets, expected=None):
        """The item after a DeleteAttributes, or SimpleDB's error; nothing changes."""
        current = self.attributes(item)
        conditions.check(current, expected)
        return without(current, targets)

    def store(self, item, attributes):
        """Keep a planned item (an empty one deletes the item)."""
        if attributes:
            self.items[item] = attributes
        else:
            self.items.pop(item, None)

    def get(self, item, names=None):
        """The item's ``(name, value)`` pairs, only those of ``names`` when given."""
        wanted = set(names) if names else None
        return [(name, value)
                for name, values in self.attributes(item).items()
                if wanted is None or name in wanted
                for value in values]

    def metadata(self):
        """DomainMetadata's counts and sizes, and the time they were taken."""
        names = {}
        value_count = value_bytes = 0
        for attributes in self.items.values():
            for name, values in attributes.items():
                names[name] = utf8_len(name)
                value_count += len(values)
                value_bytes += sum(utf8_len(value) for value in values)
        return {
            "ItemCount": len(self.items),
            "ItemNamesSizeBytes": sum(utf8_len(item) for item in self.items),
            "AttributeNameCount": len(names),
            "AttributeNamesSizeBytes": sum(names.values()),
            "AttributeValueCount": value_count,
            "AttributeValuesSizeBytes": value_bytes,
            "Timestamp": int(time.time()),
        }

    def to_json(self):
        return {"created": self.created, "items": self.items}

    @classmethod
    def from_json(cls, name, data):
        return cls(name, {item: {attr: list(values) for attr, values in attributes.items()}
                          for item, attributes in data["items"].items()},
                   data.get("created"))
