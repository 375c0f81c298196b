"""NextToken: where the next page of a Select starts.

A token names the position after the last item a page covered (its sort key)
and carries a fingerprint of the query's domain, where clause and order, so a
token is refused by any other query but accepted by the same query with
another output list or limit (as SimpleDB lets count(*) and select share
tokens). Paging by position rather than by offset keeps pages from skipping or
repeating items when the domain changes between calls.
"""

import base64
import binascii
import hashlib
import json

from ..errors import SdbError


def fingerprint(query):
    """What a token must have been made for to be used with ``query``."""
    shape = repr((query.domain, query.where, query.order_by, query.descending))
    return hashlib.sha256(shape.encode("utf-8")).hexdigest()[:24]


def encode(query, key):
    """An opaque token for the position after ``key`` in ``query``'s order."""
    body = json.dumps({"q": fingerprint(query), "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii")


def decode(query, token):
    """The key a token of ``query`` stands for (None when ``token`` is empty),
    or InvalidNextToken."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if body["q"] == fingerprint(query) and isinstance(body["k"], list) and all(
                isinstance(part, str) for part in body["k"]):
            return tuple(body["k"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        pass
    raise SdbError("InvalidNextToken", "The specified next token is not valid.")
