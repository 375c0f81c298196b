"""The JobStore on Amazon DynamoDB (boto3 ``dynamodb``), AWS mode's default.

One table (docs/stores.md has its layout): a job is the item
``pk = "job#<id>"`` with ``kind``, ``id``, ``state``, ``version`` and the whole
record as JSON in ``data``; an encoder's heartbeat is ``pk = "encoder#<id>"``.
The GSI ``by_state`` (state, id) lists one state newest first and finds the
unfinished jobs by querying the unfinished states only; ``by_kind`` (kind, id)
lists every job newest first, and the encoders.

Every update is a conditional write on the version and on the state machine
(ConditionExpression), so a stale writer loses. A job that reaches a final
state gets ``expires_at`` (epoch seconds, ``retention_days`` later), DynamoDB's
TTL attribute, and in the same transaction adds one to the counter item
``pk = "count#<state>"``: counts of final states come from those counters,
so neither the feeder's ticks nor /health ever read a finished job.
"""

import dataclasses
import json
import time

import botocore.exceptions

from nommer.core.adapters import aws
from nommer.core.errors import (
    AlreadyExists,
    ConfigError,
    InvalidTransition,
    NotFound,
    RecordTooLarge,
    StaleWrite,
    TransientError,
)
from nommer.core.model.jobs import FINAL_STATES, UNFINISHED_STATES, Job, State, parse_time, utcnow
from nommer.core.ports.store import (
    PREDECESSORS,
    JobStore,
    check_limit,
    decode_cursor,
    encode_cursor,
    state_names,
)

BY_STATE = "by_state"
BY_KIND = "by_kind"
TTL_ATTRIBUTE = "expires_at"
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's limit on one item, names included
DAY = 86400
# DynamoDB's throttling and passing failures; botocore's standard mode retries
# them first, then the store says TransientError and RetryingStore retries.
THROTTLED = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException",
    "RequestLimitExceeded", "InternalServerError", "LimitExceededException",
    "TransactionInProgressException",
})
UNFINISHED = sorted(s.value for s in UNFINISHED_STATES)
FINAL = sorted(s.value for s in FINAL_STATES)


def _s(value):
    return {"S": value}


def _n(value):
    return {"N": str(int(value))}


def item_size(item):
    """DynamoDB's size of an item: the UTF-8 bytes of attribute names and
    values (a number counted at its digits plus one, a little over)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if "S" in value:
            total += len(value["S"].encode())
        else:
            total += len(value["N"]) + 1
    return total


def _cancel_reasons(error):
    return [r.get("Code") for r in error.response.get("CancellationReasons", []) or []]


BATCH_GET = 100  # keys in one BatchGetItem, DynamoDB's limit
BATCH_ATTEMPTS = 5  # calls for the keys a BatchGetItem leaves unprocessed

class DynamoDbJobStore(JobStore):
    """Jobs and encoder heartbeats in the table ``table``.

    ``create_table``: create the table (with the layout above, on-demand
    capacity, TTL on) when it does not exist, and wait until it is ACTIVE. The
    feeder does, for a first trial; encoders and a stack-made table never need
    it. A table that exists is used as it is, once its GSIs are checked.
    """

    def __init__(self, table, region=None, client=None, retention_days=30, create_table=True,
                 setting="dynamodb_table"):
        self.table = table
        self.retention_days = retention_days
        self.setting = setting
        self.client = client or aws.client("dynamodb", region)
        self._ensure_table(create_table)

    @classmethod
    def from_config(cls, config, create_table=True):
        return cls(table_name(config), region=config.aws_region or None,
                   retention_days=config.retention_days, create_table=create_table)

    # -- the table --------------------------------------------------------------

    def _ensure_table(self, create):
        try:
            described = self._call("describe_table", TableName=self.table)["Table"]
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) != "ResourceNotFoundException":
                raise
            if not create:
                raise ConfigError(f"setting {self.setting!r}: the DynamoDB table {self.table!r} "
                                  "does not exist (the feeder or the stack creates it)") from None
            described = self._create_table()
        indexes = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
        missing = {BY_STATE, BY_KIND} - indexes
        if missing:
            raise ConfigError(
                f"setting {self.setting!r}: the DynamoDB table {self.table!r} has no index "
                f"{', '.join(sorted(missing))}; see docs/stores.md for the layout nommer needs")

    def _create_table(self):
        def index(name, hash_key):
            return {"IndexName": name,
                    "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                                  {"AttributeName": "id", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"}}

        try:
            self._call(
                "create_table", TableName=self.table, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                      for n in ("pk", "state", "kind", "id")],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[index(BY_STATE, "state"), index(BY_KIND, "kind")],
            )
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) != "ResourceInUseException":  # another process made it
                raise
        self.client.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        try:
            self._call("update_time_to_live", TableName=self.table,
                       TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        except botocore.exceptions.ClientError as e:
            # Raised when TTL is on already (a race with another process).
            if aws.error_code(e) != "ValidationException":
                raise
        return self._call("describe_table", TableName=self.table)["Table"]

    # -- calls ----------------------------------------------------------------

    def _call(self, method, **params):
        try:
            return getattr(self.client, method)(**params)
        except botocore.exceptions.ClientError as e:
            code = aws.error_code(e)
            if code in THROTTLED or (code == "TransactionCanceledException"
                                     and {"ThrottlingError", "TransactionConflict",
                                          "ProvisionedThroughputExceeded"}
                                     & set(_cancel_reasons(e))):
                raise TransientError(f"DynamoDB {method} failed: {aws.describe(e)}") from None
            if aws.is_transient(e):
                raise TransientError(f"DynamoDB {method} failed: {aws.describe(e)}") from None
            raise
        except botocore.exceptions.BotoCoreError as e:
            if aws.is_transient(e):
                raise TransientError(f"DynamoDB {method} failed: {aws.describe(e)}") from None
            raise

    def _query(self, index, key_name, key_value, before=None, newest_first=True, want=None,
               count=False):
        """Items (or their number) of one partition of an index, following
        LastEvaluatedKey until ``want`` items (or all)."""
        condition = "#k = :k"
        values = {":k": _s(key_value)}
        if before is not None:
            condition += " AND #id < :before"
            values[":before"] = _s(before)
        params = {"TableName": self.table, "IndexName": index,
                  "KeyConditionExpression": condition,
                  "ExpressionAttributeNames": {"#k": key_name,
                                               **({"#id": "id"} if before is not None else {})},
                  "ExpressionAttributeValues": values,
                  "ScanIndexForward": not newest_first}
        if count:
            params["Select"] = "COUNT"
        if want is not None:
            params["Limit"] = want
        items, total = [], 0
        while True:
            answer = self._call("query", **params)
            items.extend(answer.get("Items", []))
            total += answer.get("Count", 0)
            last = answer.get("LastEvaluatedKey")
            if not last or (want is not None and len(items) >= want):
                return total if count else items
            params["ExclusiveStartKey"] = last

    # -- items ------------------------------------------------------------------

    def _item(self, job):
        item = {
            "pk": _s(f"job#{job.id}"),
            "kind": _s("job"),
            "id": _s(job.id),
            "state": _s(State(job.state).value),
            "version": _n(job.version),
            "data": _s(json.dumps(job.to_dict(), separators=(",", ":"))),
        }
        expires = self.expires_at(job)
        if expires is not None:
            item[TTL_ATTRIBUTE] = _n(expires)
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise RecordTooLarge(
                f"job {job.id}: its record is {size} bytes, more than the "
                f"{MAX_ITEM_BYTES} bytes of one DynamoDB item")
        return item

    def expires_at(self, job):
        """Epoch seconds when DynamoDB may delete ``job``: ``retention_days``
        after it finished; None while it is unfinished or retention is off."""
        if not job.is_final or self.retention_days <= 0:
            return None
        try:
            finished = parse_time(job.finished_at)
        except ValueError:  # not nommer's format: count from now
            finished = None
        start = finished.timestamp() if finished is not None else time.time()
        return start + self.retention_days * DAY

    @staticmethod
    def _job(item):
        return Job.from_dict(json.loads(item["data"]["S"]))

    def versions(self, job_ids):
        """See JobStore.versions: the version attribute alone, up to 100 jobs
        a BatchGetItem (one call where reading each job took one each)."""
        ids = list(dict.fromkeys(job_ids))
        found = {}
        for start in range(0, len(ids), BATCH_GET):
            keys = [{"pk": _s(f"job#{job_id}")} for job_id in ids[start:start + BATCH_GET]]
            for attempt in range(1, BATCH_ATTEMPTS + 1):
                answer = self._call("batch_get_item", RequestItems={self.table: {
                    "Keys": keys, "ConsistentRead": True, "ProjectionExpression": "#pk, #v",
                    "ExpressionAttributeNames": {"#pk": "pk", "#v": "version"}}})
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"].removeprefix("job#")] = int(item["version"]["N"])
                # Keys DynamoDB left for later (throttled, or the answer grew too large).
                keys = answer.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not keys:
                    break
                if attempt == BATCH_ATTEMPTS:
                    raise TransientError(f"DynamoDB left {len(keys)} of the jobs' versions unread "
                                         f"after {BATCH_ATTEMPTS} tries")
                time.sleep(0.05 * 2 ** attempt)
        return found

    def _read(self, job_id):
        answer = self._call("get_item", TableName=self.table, Key={"pk": _s(f"job#{job_id}")},
                            ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else self._job(item)

    def _count_increment(self, state):
        return {"Update": {
            "TableName": self.table, "Key": {"pk": _s(f"count#{state}")},
            "UpdateExpression": "ADD #n :one",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":one": _n(1)},
        }}

    def _put(self, item, condition, names, values, count_state=None):
        """A conditional put; with ``count_state``, in one transaction with
        the increment of that state's counter. False when the condition failed."""
        put = {"TableName": self.table, "Item": item, "ConditionExpression": condition,
               "ExpressionAttributeNames": names}
        if values:
            put["ExpressionAttributeValues"] = values
        try:
            if count_state is None:
                self._call("put_item", **put)
            else:
                self._call("transact_write_items",
                           TransactItems=[{"Put": put}, self._count_increment(count_state)])
        except botocore.exceptions.ClientError as e:
            code = aws.error_code(e)
            if code == "ConditionalCheckFailedException" or (
                    code == "TransactionCanceledException"
                    and "ConditionalCheckFailed" in _cancel_reasons(e)):
                return False
            if code == "ValidationException" and "size" in aws.describe(e).lower():
                raise RecordTooLarge(f"job {item['id']['S']}: {aws.describe(e)}") from None
            raise
        return True

    # -- the port -------------------------------------------------------------

    def create(self, job):
        if job.version != 0:
            raise ValueError(f"a new job has version 0, not {job.version}")
        stored = dataclasses.replace(job, version=1)
        if not self._put(self._item(stored), "attribute_not_exists(#pk)", {"#pk": "pk"}, {},
                         count_state=stored.state.value if stored.is_final else None):
            raise AlreadyExists(f"job {job.id} already exists")
        return stored

    def put_copy(self, job):
        """Store ``job`` as it is (version included) unless a job with its id
        is stored; True when it was written. For copying jobs from another
        store (nommer.migrate)."""
        return self._put(self._item(job), "attribute_not_exists(#pk)", {"#pk": "pk"}, {},
                         count_state=job.state.value if job.is_final else None)

    def get(self, job_id):
        job = self._read(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def update(self, job):
        new_state = State(job.state)
        stored = dataclasses.replace(job, version=job.version + 1)
        item = self._item(stored)
        allowed = PREDECESSORS[new_state]
        # A move into a final state also counts the job there; a write that
        # stays in a final state (a webhook record) must not count it twice,
        # so the two are separate conditional writes. transition() sets
        # finished_at and updated_at together: that guesses which to try first.
        attempts = [allowed]
        if new_state.is_final:
            moving = [s for s in allowed if s != new_state.value]
            staying = [new_state.value]
            fresh = job.finished_at is not None and job.finished_at == job.updated_at
            attempts = [moving, staying] if fresh else [staying, moving]
        for states in attempts:
            values = {":v": _n(job.version),
                      **{f":s{i}": _s(s) for i, s in enumerate(states)}}
            marks = ", ".join(f":s{i}" for i in range(len(states)))
            condition = f"#version = :v AND #state IN ({marks})"
            counted = new_state.is_final and new_state.value not in states
            if self._put(item, condition, {"#version": "version", "#state": "state"}, values,
                         count_state=new_state.value if counted else None):
                return stored
        # The write lost; only now is it worth a read to say why.
        current = self._read(job.id)
        if current is None:
            raise NotFound(f"no job {job.id}")
        if current.version != job.version:
            raise StaleWrite(f"job {job.id} changed since it was read "
                             f"(version {current.version}, not {job.version})")
        raise InvalidTransition(f"job {job.id} cannot go from {current.state} to {job.state}")

    def list(self, state=None, limit=50, cursor=None):
        check_limit(limit)
        states = state_names(state)
        before = decode_cursor(cursor) if cursor is not None else None
        # One item more than asked tells whether there is a next page.
        if states is None:
            items = self._query(BY_KIND, "kind", "job", before=before, want=limit + 1)
        else:
            items = []
            for name in states:
                items += self._query(BY_STATE, "state", name, before=before, want=limit + 1)
            items.sort(key=lambda i: i["id"]["S"], reverse=True)
        items = items[:limit + 1]
        page = items[:limit]
        next_cursor = encode_cursor(page[-1]["id"]["S"]) if len(items) > limit else None
        return [self._job(i) for i in page], next_cursor

    def unfinished(self):
        items = []
        for name in UNFINISHED:
            items += self._query(BY_STATE, "state", name, newest_first=False)
        return sorted((self._job(i) for i in items), key=lambda j: j.id)

    def counts(self, states=None):
        wanted = set(state_names(states) if states is not None else (s.value for s in State))
        counts = {}
        for name in sorted(wanted & set(UNFINISHED)):
            counts[name] = self._query(BY_STATE, "state", name, count=True)
        finals = sorted(wanted & set(FINAL))
        if finals:
            answer = self._call("batch_get_item", RequestItems={self.table: {
                "Keys": [{"pk": _s(f"count#{s}")} for s in finals], "ConsistentRead": True}})
            for item in answer.get("Responses", {}).get(self.table, []):
                counts[item["pk"]["S"].removeprefix("count#")] = int(item["n"]["N"])
        return {name: n for name, n in counts.items() if n}

    def heartbeat(self, encoder_id, info):
        self._call("put_item", TableName=self.table, Item={
            "pk": _s(f"encoder#{encoder_id}"), "kind": _s("encoder"), "id": _s(encoder_id),
            "last_seen": _s(utcnow()), "info": _s(json.dumps(info)),
        })

    def encoders(self):
        items = self._query(BY_KIND, "kind", "encoder", newest_first=False)
        return sorted(({"id": i["id"]["S"], "last_seen": i["last_seen"]["S"],
                        "info": json.loads(i["info"]["S"])} for i in items),
                      key=lambda e: e["id"])

    def forget_encoder(self, encoder_id):
        self._call("delete_item", TableName=self.table, Key={"pk": _s(f"encoder#{encoder_id}")})


def table_name(config):
    """The ``dynamodb_table`` setting, or ``<cluster>-jobs``."""
    name = config.dynamodb_table or f"{config.cluster}-jobs"
    return check_table_name(name, "dynamodb_table" if config.dynamodb_table else "cluster")


def check_table_name(name, setting):
    """``name`` if DynamoDB takes it as a table name, else ConfigError naming ``setting``."""
    if not 3 <= len(name) <= 255 or not all(c.isascii() and (c.isalnum() or c in "_-.")
                                            for c in name):
        shown = f"setting {setting!r}" if not setting.startswith("-") else setting
        raise ConfigError(f"{shown}: makes the DynamoDB table name {name!r}, but "
                          "table names are 3 to 255 letters, digits, '_', '-' and '.'")
    return name
