"""SimpleDB's limits, as the Developer Guide's limits table states them.

One place for every number, so the server and its tests agree on them.
"""

import re

#: Domain names: 3 to 255 of a-z, A-Z, 0-9, '_', '-' and '.'.
DOMAIN_NAME = re.compile(r"[a-zA-Z0-9_.\-]{3,255}\Z")
MAX_DOMAINS = 250

#: Bytes (UTF-8) in an item name, an attribute name or an attribute value.
MAX_NAME_BYTES = 1024
#: Attribute name-value pairs one item may hold.
MAX_PAIRS_PER_ITEM = 256
#: Attribute name-value pairs one PutAttributes (or one batch item) may send.
MAX_ATTRIBUTES_PER_CALL = 256
#: Items in one BatchPutAttributes or BatchDeleteAttributes call.
MAX_BATCH_ITEMS = 25

#: ListDomains' MaxNumberOfDomains: default and upper bound.
LIST_DOMAINS_MAX = 100

#: Select's limit clause: default and upper bound (count(*) has neither).
SELECT_DEFAULT_LIMIT = 100
SELECT_MAX_LIMIT = 2500
#: Attributes an output list may name.
MAX_REQUESTED_ATTRIBUTES = 256
#: Comparisons (predicates) in one select expression. (The guide's other
#: limit, 20 distinct attributes per expression, follows from this one.)
MAX_COMPARISONS = 20
#: Values in one ``in (...)`` list.
MAX_VALUE_TESTS = 20
#: A Select answer stops before it would exceed this many bytes.
MAX_RESPONSE_BYTES = 1024 * 1024
#: Seconds a Select may run before it answers with what it has.
QUERY_TIMEOUT = 5.0
