"""Turning a request into a model, and pydantic's ValidationError into one
:class:`InvalidInput` whose field is a path like ``outputs[0].preset``."""

import typing

import pydantic
from pydantic import ValidationError

from nommer.core.errors import InvalidInput

_UnionType = type(int | None)  # what `X | None` makes


def parse_json(model, raw):
    """The ``model`` instance of the JSON document ``raw`` (bytes)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise invalid_input(e, model) from None


def parse_query(model, args):
    """The ``model`` instance of a query string; empty values count as absent."""
    values = {k: v for k, v in args.items() if v != ""}
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise invalid_input(e, model) from None


def invalid_input(error, model):
    # The first error is enough: the user fixes it and tries again, and one
    # message that names one field reads better than a list of ten.
    first = error.errors(include_url=False)[0]
    loc = first["loc"]
    return InvalidInput(field_path(loc), _problem(first, model, loc), code=_code(first))


def field_path(loc):
    """``("outputs", 0, "preset")`` → ``outputs[0].preset``; the whole body is ``body``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _code(err):
    return "UNKNOWN_FIELD" if err["type"] == "extra_forbidden" else "INVALID"


def _problem(err, model, loc):
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', err['msg'])})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a JSON object, not {_json_kind(value)}"
    if kind == "missing":
        if loc and isinstance(loc[-1], int):
            return "is missing; each option is a [name, value] pair"
        return "is required"
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        hint = f" (known fields: {', '.join(known)})" if known else ""
        return f"is not a known field{hint}"
    if kind == "string_type":
        return f"must be a string, not {_json_kind(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {_json_kind(value)}"
    if kind == "bool_type":
        return f"must be true or false, not {_json_kind(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a JSON array, not {_json_kind(value)}"
    if kind == "too_short":
        if ctx.get("field_type") == "Tuple":
            return "must be a [name, value] pair"
        return f"must have at least {_items(ctx['min_length'])}"
    if kind == "too_long":
        if ctx.get("field_type") == "Tuple":
            return "must be a [name, value] pair"
        return f"must have at most {_items(ctx['max_length'])}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, not {value!r}"
    return err["msg"]


def _items(n):
    return f"{n} item" if n == 1 else f"{n} items"


def _json_kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fields_at(model, loc):
    """Field names of the model found by following ``loc`` from ``model``."""
    current = model
    for part in loc:
        current = _inner(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif _is_model(current):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        else:
            return []
    current = _inner(current)
    return list(current.model_fields) if _is_model(current) else []


def _inner(annotation):
    # X | None → X, so a path can step through optional fields.
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, _UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)

