"""Reading the Query API's form parameters (``Attribute.1.Name=...``) into the
values the store takes, refusing malformed ones with SimpleDB's errors."""

import re

from . import limits
from .conditions import Expected
from .domain import utf8_len
from .errors import SdbError, invalid_value, missing


def _shown(value):
    """A value short enough to quote in an error message."""
    return value if len(value) <= 40 else value[:40] + "..."


def required(params, key):
    value = params.get(key)
    if value is None:
        raise missing(key)
    return value


def boolean(params, key, default=False):
    value = params.get(key)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise invalid_value(key, value, "It must be true or false.")
    return value.lower() == "true"


def integer(params, key, default, low, high):
    value = params.get(key)
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]+", value) or not low <= int(value) <= high:
        raise invalid_value(key, value, f"{key} must be between {low} and {high}.")
    return int(value)


def indexed(params, prefix):
    """``prefix.N[.rest]`` parameters as ``[(N, {rest: value})]`` sorted by N
    (``rest`` is "" for ``prefix.N`` itself)."""
    pattern = re.compile(re.escape(prefix) + r"\.([0-9]+)(?:\.(.+))?\Z")
    groups = {}
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            groups.setdefault(int(match.group(1)), {})[match.group(2) or ""] = value
    return sorted(groups.items())


def checked_name(parameter, value):
    """``value`` when it is a valid item or attribute name, else InvalidParameterValue."""
    if value == "":
        raise invalid_value(parameter, value, "It must not be empty.")
    return checked_value(parameter, value)


def checked_value(parameter, value):
    if utf8_len(value) > limits.MAX_NAME_BYTES:
        raise invalid_value(parameter, _shown(value),
                            f"Value exceeds maximum length of {limits.MAX_NAME_BYTES}.")
    return value


def domain_name(params):
    name = required(params, "DomainName")
    if not limits.DOMAIN_NAME.match(name):
        raise invalid_value("DomainName", _shown(name),
                            "Domain names are 3 to 255 of a-z, A-Z, 0-9, '_', '-' and '.'.")
    return name


def item_name(params, key="ItemName"):
    return checked_name(key, required(params, key))


def _named_pairs(fields, prefix, need_value):
    """``(name, value, fields)`` of each ``prefix.N.Name/Value``; a value is
    None when absent and not ``need_value``."""
    pairs = []
    for _, group in indexed(fields, prefix):
        name, value = group.get("Name"), group.get("Value")
        if name is None:
            raise SdbError("MissingParameter",
                           f"{prefix}.Name missing for {prefix}.Value='{_shown(value or '')}'.")
        if value is None and need_value:
            raise SdbError("MissingParameter",
                           f"{prefix}.Value missing for {prefix}.Name='{_shown(name)}'.")
        pairs.append((checked_name("Name", name),
                      None if value is None else checked_value("Value", value), group))
    return pairs


def attributes_to_put(fields, where="Attribute.1.Name"):
    """``(name, value, replace)`` triples of a PutAttributes or a batch item."""
    pairs = [(name, value, boolean(group, "Replace"))
             for name, value, group in _named_pairs(fields, "Attribute", need_value=True)]
    if not pairs:
        raise missing(where)
    if len(pairs) > limits.MAX_ATTRIBUTES_PER_CALL:
        raise SdbError("NumberSubmittedAttributesExceeded",
                       f"Too many attributes in a single call: {len(pairs)}, the limit is "
                       f"{limits.MAX_ATTRIBUTES_PER_CALL}.")
    return pairs


def attributes_to_delete(fields):
    """``(name, value or None)`` pairs to delete, or None for the whole item."""
    pairs = [(name, value) for name, value, _ in
             _named_pairs(fields, "Attribute", need_value=False)]
    return pairs or None


def expected(params):
    """The ``Expected`` condition (``Expected.Name`` or ``Expected.1.Name`` form),
    or None."""
    groups = [group for _, group in indexed(params, "Expected")]
    plain = {key[len("Expected."):]: value for key, value in params.items()
             if key in ("Expected.Name", "Expected.Value", "Expected.Exists")}
    if plain:
        groups.append(plain)
    if not groups:
        return None
    if len(groups) > 1:
        raise SdbError("MultipleExpectedNames", "Only one Expected condition may be given.")
    group = groups[0]
    if "Name" not in group:
        raise missing("Expected.Name")
    exists = boolean(group, "Exists", default=True)
    value = group.get("Value")
    if not exists and value is not None:
        raise SdbError("ExistsAndExpectedValue",
                       "Expected.Exists=false and Expected.Value cannot be specified together")
    if exists and value is None:
        raise SdbError("IncompleteExpectedExpression",
                       "If Expected.Exists=true or unspecified, then Expected.Value has to be "
                       "specified")
    return Expected(group["Name"], value, exists)


def batch_items(params):
    """``[(item name, fields of that item)]`` of a batch call, refusing more than
    25 items and an item named twice."""
    items = indexed(params, "Item")
    if not items:
        raise missing("Item.1.ItemName")
    if len(items) > limits.MAX_BATCH_ITEMS:
        raise SdbError("NumberSubmittedItemsExceeded",
                       f"Too many items in a single call. Up to {limits.MAX_BATCH_ITEMS} items "
                       "per call allowed.")
    seen = set()
    result = []
    for index, fields in items:
        if "ItemName" not in fields:
            raise missing(f"Item.{index}.ItemName")
        name = checked_name("ItemName", fields["ItemName"])
        if name in seen:
            raise SdbError("DuplicateItemName",
                           f"Item {_shown(name)} was specified more than once.")
        seen.add(name)
        result.append((index, name, fields))
    return result
