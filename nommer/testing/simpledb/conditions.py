"""Conditional writes: the ``Expected`` clause of PutAttributes and DeleteAttributes."""

from dataclasses import dataclass

from .errors import SdbError


@dataclass(frozen=True)
class Expected:
    """A condition on one attribute of the item about to change.

    ``exists=False``: the attribute must be absent. Otherwise the attribute
    must hold exactly one value, equal to ``value``.
    """

    name: str
    value: str | None = None
    exists: bool = True


def check(attributes, expected):
    """Raise SimpleDB's error when ``attributes`` (an item's ``{name: [values]}``,
    empty for an absent item) does not meet ``expected``; pass when it does or
    when ``expected`` is None."""
    if expected is None:
        return
    values = attributes.get(expected.name, [])
    if not expected.exists:
        if values:
            raise SdbError("ConditionalCheckFailed",
                           f"Conditional check failed. Attribute ({expected.name}) value exists.")
        return
    if not values:
        raise SdbError("AttributeDoesNotExist", f"Attribute ({expected.name}) does not exist")
    if len(values) > 1:
        raise SdbError(
            "MultiValuedAttribute",
            f"Attribute ({expected.name}) is multi-valued. Conditional check can only be "
            "performed on a single-valued attribute")
    if values[0] != expected.value:
        raise SdbError(
            "ConditionalCheckFailed",
            f"Conditional check failed. Attribute ({expected.name}) value is ({values[0]}) "
            f"but was expected ({expected.value})")
