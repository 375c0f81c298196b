"""Select: parse a select expression, check it against SimpleDB's rules, run it."""

from .parser import parse
from .rules import check
from .run import Page, run
from .syntax import ITEM_NAME, Query

__all__ = ["ITEM_NAME", "Page", "Query", "check", "parse", "run"]
