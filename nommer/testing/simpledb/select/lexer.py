"""Tokens of a select expression.

Names are bare (``[A-Za-z_$][A-Za-z0-9_$]*``) or backquoted, with a doubled
backquote standing for one; a bare name that is a keyword is the keyword (so an
attribute called ``limit`` must be written `` `limit` ``). Values are quoted
with ``'`` or ``"``, the quote doubled inside. Keywords are case-insensitive.
"""

import re
from dataclasses import dataclass

from ..errors import invalid_query

KEYWORDS = frozenset([
    "select", "from", "where", "and", "or", "not", "like", "between", "in", "is", "null",
    "every", "intersection", "order", "by", "asc", "desc", "limit",
])

_BARE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"[0-9]+")
_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
_PUNCTUATION = "(),*"


@dataclass(frozen=True)
class Token:
    """``kind`` is one of keyword, name, quoted_name, value, number, op, punct, end.
    A keyword's ``text`` is lower-cased; ``at`` is its offset in the expression."""

    kind: str
    text: str
    at: int


def _quoted(text, start, quote, what):
    """The unescaped text between ``quote`` at ``start`` and its closing twin,
    and the offset after it."""
    parts = []
    at = start + 1
    while True:
        end = text.find(quote, at)
        if end < 0:
            raise invalid_query(f"Unterminated {what} starting at offset {start}.")
        parts.append(text[at:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            at = end + 2
            continue
        return "".join(parts), end + 1


def tokenize(text):
    """The tokens of ``text``, ending with an ``end`` token."""
    tokens = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "'\"":
            value, end = _quoted(text, at, char, "value")
            tokens.append(Token("value", value, at))
            at = end
        elif char == "`":
            name, end = _quoted(text, at, "`", "name")
            tokens.append(Token("quoted_name", name, at))
            at = end
        elif match := _BARE.match(text, at):
            word = match.group()
            if word.lower() in KEYWORDS:
                tokens.append(Token("keyword", word.lower(), at))
            else:
                tokens.append(Token("name", word, at))
            at = match.end()
        elif match := _NUMBER.match(text, at):
            tokens.append(Token("number", match.group(), at))
            at = match.end()
        elif op := next((op for op in _OPERATORS if text.startswith(op, at)), None):
            tokens.append(Token("op", op, at))
            at += len(op)
        elif char in _PUNCTUATION:
            tokens.append(Token("punct", char, at))
            at += 1
        else:
            raise invalid_query(f"Unexpected character {char!r} at offset {at}.")
    tokens.append(Token("end", "", len(text)))
    return tokens
