"""The domains of one server: one lock around them, and an optional JSON file
that holds them across restarts."""

import base64
import binascii
import json
import os
import tempfile
import threading

from . import limits, select
from .domain import Domain
from .errors import SdbError, no_such_domain


class StoreFileError(Exception):
    """The persistence file exists but cannot be read as a store; the message
    names the file."""


class Store:
    """Every SimpleDB action on in-memory domains, each done whole under one
    lock. With ``path``, the domains are loaded from that JSON file at start and
    written back to it (atomically: a new file renamed over the old) after each
    change."""

    def __init__(self, path=None, *, query_timeout=limits.QUERY_TIMEOUT):
        self.lock = threading.RLock()
        self.domains = {}
        self.path = os.fspath(path) if path is not None else None
        self.query_timeout = query_timeout
        if self.path and os.path.exists(self.path):
            self._load()

    # --- persistence ----------------------------------------------------------

    def _load(self):
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
            self.domains = {name: Domain.from_json(name, domain)
                            for name, domain in data["domains"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise StoreFileError(
                f"{self.path}: cannot be read as a SimpleDB store file ({error})") from None

    def _changed(self):
        if not self.path:
            return
        data = {"domains": {name: domain.to_json() for name, domain in self.domains.items()}}
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(prefix=".simpledb-", suffix=".json", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise

    # --- domains --------------------------------------------------------------

    def domain(self, name):
        """The domain called ``name``, or NoSuchDomain."""
        try:
            return self.domains[name]
        except KeyError:
            raise no_such_domain() from None

    def create_domain(self, name):
        """Create ``name``; creating an existing domain changes nothing."""
        with self.lock:
            if name in self.domains:
                return
            if len(self.domains) >= limits.MAX_DOMAINS:
                raise SdbError("NumberDomainsExceeded",
                               f"The domain limit ({limits.MAX_DOMAINS}) was exceeded.")
            self.domains[name] = Domain(name)
            self._changed()

    def delete_domain(self, name):
        """Delete ``name`` and its items; deleting an absent domain changes nothing."""
        with self.lock:
            if self.domains.pop(name, None) is not None:
                self._changed()

    def list_domains(self, max_number, next_token=None):
        """Up to ``max_number`` domain names in lexicographic order after the
        token's position, and the token for the rest (None when none is left)."""
        start = None
        if next_token:
            try:
                start = base64.urlsafe_b64decode(next_token.encode("ascii")).decode("utf-8")
            except (ValueError, binascii.Error, UnicodeError):
                raise SdbError("InvalidNextToken",
                               "The specified next token is not valid.") from None
        with self.lock:
            names = sorted(name for name in self.domains if start is None or name > start)
        page = names[:max_number]
        token = None
        if len(names) > max_number:
            token = base64.urlsafe_b64encode(page[-1].encode("utf-8")).decode("ascii")
        return page, token

    def metadata(self, name):
        with self.lock:
            return self.domain(name).metadata()

    # --- items ----------------------------------------------------------------

    def put(self, domain_name, item, pairs, expected=None):
        with self.lock:
            domain = self.domain(domain_name)
            domain.store(item, domain.plan_put(item, pairs, expected))
            self._changed()

    def batch_put(self, domain_name, items):
        """Put ``items`` (``(item, pairs)``) all, or none when one is refused."""
        with self.lock:
            domain = self.domain(domain_name)
            planned = [(item, domain.plan_put(item, pairs)) for item, pairs in items]
            for item, attributes in planned:
                domain.store(item, attributes)
            self._changed()

    def get(self, domain_name, item, names=None):
        with self.lock:
            return self.domain(domain_name).get(item, names)

    def delete(self, domain_name, item, targets=None, expected=None):
        with self.lock:
            domain = self.domain(domain_name)
            domain.store(item, domain.plan_delete(item, targets, expected))
            self._changed()

    def batch_delete(self, domain_name, items):
        """Delete ``items`` (``(item, targets)``) all, or none when one is refused."""
        with self.lock:
            domain = self.domain(domain_name)
            planned = [(item, domain.plan_delete(item, targets)) for item, targets in items]
            for item, attributes in planned:
                domain.store(item, attributes)
            self._changed()

    def select(self, expression, next_token=None):
        """The :class:`~.select.Page` that ``expression`` answers from ``next_token``."""
        query = select.parse(expression)
        select.check(query)
        with self.lock:
            return select.run(self.domain(query.domain), query, next_token,
                              timeout=self.query_timeout)
