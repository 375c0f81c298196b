"""A SimpleDB-compatible server for tests and offline development.

It speaks the SimpleDB 2009-04-15 Query API as boto3's ``sdb`` client sends it
(every action, conditional puts and deletes, Select with its grammar, limits and
paging) and answers with AWS's XML and error codes, from memory, optionally
kept in a JSON file. Run it as::

    python -m nommer.testing.simpledb --port 8010 [--host 127.0.0.1] [--persist FILE]

or in-process with :func:`start_server`.
"""

from .errors import SdbError
from .server import SimpleDbServer, start_server
from .store import Store, StoreFileError

__all__ = ["SdbError", "SimpleDbServer", "Store", "StoreFileError", "start_server"]
