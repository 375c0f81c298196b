"""The JobStore on Amazon SimpleDB (boto3 ``sdb``).

One domain for jobs, one for encoder heartbeats, created when missing. A job is
one item: the fields Select filters on as attributes (state, version, times),
and the whole record as JSON split into attributes ``d000``, ``d001``... of at
most 1000 bytes each (SimpleDB's values stop at 1024). Numbers are zero-padded
and times are ISO 8601 in UTC, so SimpleDB's text comparisons sort them right.
Every update is a conditional put on the version (``Expected``), so a stale
writer loses; reads that decide something are consistent. Jobs in a final
state not changed for ``retention_days`` are deleted on a create, at most
``PURGE_BATCHES`` batches of 25 a round: once an hour, or on the next create
while a backlog remains.
"""

import dataclasses
import datetime
import json
import time

import boto3
import botocore.exceptions

from nommer.core.adapters import aws
from nommer.core.errors import (
    AlreadyExists,
    InvalidTransition,
    NotFound,
    StaleWrite,
    TransientError,
)
from nommer.core.model.jobs import FINAL_STATES, UNFINISHED_STATES, Job, State, utcnow
from nommer.core.ports.store import (
    PREDECESSORS,
    JobStore,
    check_limit,
    decode_cursor,
    encode_cursor,
    state_names,
)

CHUNK = 1000
VERSION_DIGITS = 10
# The regions that have SimpleDB; it is closed to accounts created since 2024.
REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
           "ap-southeast-2", "ap-northeast-1", "sa-east-1")
PURGE_EVERY = 3600.0
PURGE_BATCH = 25  # BatchDeleteAttributes' most
PURGE_BATCHES = 20  # per round, so no create waits long
VERSIONS_AT_ONCE = 20  # item names in one Select's in (...): SimpleDB's most


def quote(value):
    """A value as a Select string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def padded(version):
    return f"{version:0{VERSION_DIGITS}d}"


def split(text):
    """ASCII text (json.dumps' default) in chunks SimpleDB accepts."""
    return [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]


def joined(attributes):
    """The JSON record of an item from its attribute list."""
    values = {a["Name"]: a["Value"] for a in attributes}
    parts = int(values["parts"])
    return "".join(values[f"d{i:03d}"] for i in range(parts))



def check_region(region, environ=None):
    """ConfigError naming ``aws_region`` unless SimpleDB exists in ``region``.
    An endpoint set through boto3's variables (a SimpleDB-compatible server)
    skips the check."""
    import os

    environ = os.environ if environ is None else environ
    if environ.get("AWS_ENDPOINT_URL_SIMPLEDB") or environ.get("AWS_ENDPOINT_URL"):
        return
    if region is None:
        region = boto3.session.Session().region_name
    if region not in REGIONS:
        from nommer.core.errors import ConfigError

        raise ConfigError(
            f"setting 'aws_region': SimpleDB (setting 'store' = \"simpledb\") exists only in "
            f"{', '.join(REGIONS)}, not in {region or 'no region'!r}; use store = \"dynamodb\" "
            "(docs/stores.md)")


class SimpleDbJobStore(JobStore):
    def __init__(self, domain_prefix="nommer", client=None, region=None, retention_days=0):
        # aws.client's standard retry mode retries SimpleDB's throttling (503
        # ServiceUnavailable) with exponential backoff and jitter.
        self.client = client or aws.client("sdb", region)
        self.jobs_domain = f"{domain_prefix}-jobs"
        self.encoders_domain = f"{domain_prefix}-encoders"
        self.retention_days = retention_days
        self._next_purge = 0.0
        for domain in (self.jobs_domain, self.encoders_domain):
            self._ensure_domain(domain)

    @classmethod
    def from_config(cls, config):
        """The domains ``<cluster>-jobs`` and ``<cluster>-encoders``."""
        check_region(config.aws_region or None)
        return cls(domain_prefix=config.cluster, region=config.aws_region or None,
                   retention_days=config.retention_days)

    def _ensure_domain(self, domain):
        # Encoders may look but not create (their IAM policy has no
        # CreateDomain): the feeder, started first, creates the domains.
        try:
            self._call("domain_metadata", DomainName=domain)
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) != "NoSuchDomain":
                raise
            self._call("create_domain", DomainName=domain)

    # -- calls ----------------------------------------------------------------

    def _call(self, method, **params):
        try:
            return getattr(self.client, method)(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            if aws.is_transient(e):
                raise TransientError(f"SimpleDB {method} failed: {aws.describe(e)}") from None
            raise

    def _select(self, expression, consistent=True, want=None):
        """Items of a Select, following NextToken until ``want`` items (or all)."""
        items, token = [], None
        while True:
            params = {"SelectExpression": expression, "ConsistentRead": consistent}
            if token:
                params["NextToken"] = token
            answer = self._call("select", **params)
            items.extend(answer.get("Items", []))
            token = answer.get("NextToken")
            if not token or (want is not None and len(items) >= want):
                return items

    def _put(self, job, expected):
        record = json.dumps(job.to_dict())
        chunks = split(record)
        attributes = {
            "state": job.state.value,
            "version": padded(job.version),
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "heartbeat_at": job.heartbeat_at or "",
            "encoder_id": job.encoder_id or "",
            "parts": f"{len(chunks):03d}",
            **{f"d{i:03d}": chunk for i, chunk in enumerate(chunks)},
        }
        self._call(
            "put_attributes",
            DomainName=self.jobs_domain,
            ItemName=job.id,
            Attributes=[{"Name": k, "Value": v, "Replace": True} for k, v in attributes.items()],
            Expected=expected,
        )

    def _read(self, job_id):
        answer = self._call("get_attributes", DomainName=self.jobs_domain, ItemName=job_id,
                            ConsistentRead=True)
        attributes = answer.get("Attributes")
        if not attributes:
            return None
        return Job.from_dict(json.loads(joined(attributes)))

    # -- the port -------------------------------------------------------------

    def create(self, job):
        if job.version != 0:
            raise ValueError(f"a new job has version 0, not {job.version}")
        stored = dataclasses.replace(job, version=1)
        if self.retention_days > 0 and time.monotonic() >= self._next_purge:
            # A full round may have left more behind: the next create goes on.
            full = self.purge_expired() == PURGE_BATCH * PURGE_BATCHES
            self._next_purge = time.monotonic() + (0.0 if full else PURGE_EVERY)
        try:
            self._put(stored, {"Name": "version", "Exists": False})
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) == "ConditionalCheckFailed":
                raise AlreadyExists(f"job {job.id} already exists") from None
            raise
        return stored

    def get(self, job_id):
        job = self._read(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def versions(self, job_ids):
        """See JobStore.versions: the version attribute alone, of up to
        VERSIONS_AT_ONCE jobs a Select (reading each job took one
        GetAttributes with the whole record)."""
        ids = list(dict.fromkeys(job_ids))
        found = {}
        for start in range(0, len(ids), VERSIONS_AT_ONCE):
            names = ", ".join(quote(job_id) for job_id in ids[start:start + VERSIONS_AT_ONCE])
            for item in self._select(f"select version from `{self.jobs_domain}` where itemName() in ({names})"):
                for attribute in item.get("Attributes", []):
                    if attribute["Name"] == "version":
                        found[item["Name"]] = int(attribute["Value"])
        return found

    def update(self, job):
        current = self._read(job.id)
        if current is None:
            raise NotFound(f"no job {job.id}")
        if current.version != job.version:
            raise StaleWrite(f"job {job.id} changed since it was read "
                             f"(version {current.version}, not {job.version})")
        if current.state.value not in PREDECESSORS[State(job.state)]:
            raise InvalidTransition(f"job {job.id} cannot go from {current.state} to {job.state}")
        stored = dataclasses.replace(job, version=job.version + 1)
        try:
            self._put(stored, {"Name": "version", "Value": padded(job.version), "Exists": True})
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) in ("ConditionalCheckFailed", "AttributeDoesNotExist"):
                raise StaleWrite(f"job {job.id} changed since it was read") from None
            raise
        return stored

    def list(self, state=None, limit=50, cursor=None):
        check_limit(limit)
        where = []
        states = state_names(state)
        if states is not None:
            where.append("state in (" + ", ".join(quote(s) for s in states) + ")")
        # SimpleDB sorts only on an attribute a predicate names.
        where.append(f"itemName() < {quote(decode_cursor(cursor))}" if cursor is not None
                     else "itemName() is not null")
        expression = (f"select * from `{self.jobs_domain}` where {' and '.join(where)}"
                      f" order by itemName() desc limit {min(limit + 1, 2500)}")
        items = self._select(expression, want=limit + 1)
        page = items[:limit]
        jobs = [Job.from_dict(json.loads(joined(i["Attributes"]))) for i in page]
        next_cursor = encode_cursor(page[-1]["Name"]) if len(items) > limit else None
        return jobs, next_cursor

    def unfinished(self):
        states = ", ".join(quote(s.value) for s in sorted(UNFINISHED_STATES))
        items = self._select(f"select * from `{self.jobs_domain}` where state in ({states})")
        jobs = [Job.from_dict(json.loads(joined(i["Attributes"]))) for i in items]
        return sorted(jobs, key=lambda j: j.id)

    def counts(self, states=None):
        counts = {}
        for state in state_names(states) if states is not None else [s.value for s in State]:
            total = 0
            for item in self._select(f"select count(*) from `{self.jobs_domain}` "
                                     f"where state = {quote(state)}"):
                total += sum(int(a["Value"]) for a in item["Attributes"] if a["Name"] == "Count")
            if total:
                counts[state] = total
        return counts

    def purge_expired(self, now=None, batches=None):
        """Delete jobs in a final state unchanged for ``retention_days`` (none
        when it is 0), at most ``batches`` × 25; returns how many."""
        if self.retention_days <= 0:
            return 0
        now = now or datetime.datetime.now(datetime.UTC)
        limit = (now - datetime.timedelta(days=self.retention_days)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        finals = ", ".join(quote(s.value) for s in sorted(FINAL_STATES))
        deleted = 0
        for _ in range(PURGE_BATCHES if batches is None else batches):
            items = self._select(
                f"select itemName() from `{self.jobs_domain}` where state in ({finals})"
                f" and updated_at < {quote(limit)} limit {PURGE_BATCH}", want=PURGE_BATCH)
            names = [i["Name"] for i in items[:PURGE_BATCH]]
            if not names:
                break
            self._call("batch_delete_attributes", DomainName=self.jobs_domain,
                       Items=[{"Name": n} for n in names])
            deleted += len(names)
            if len(names) < PURGE_BATCH:
                break
        return deleted

    def heartbeat(self, encoder_id, info):
        chunks = split(json.dumps(info))
        attributes = {"last_seen": utcnow(), "parts": f"{len(chunks):03d}",
                      **{f"d{i:03d}": c for i, c in enumerate(chunks)}}
        self._call("put_attributes", DomainName=self.encoders_domain, ItemName=encoder_id,
                   Attributes=[{"Name": k, "Value": v, "Replace": True}
                               for k, v in attributes.items()])

    def encoders(self):
        items = self._select(f"select * from `{self.encoders_domain}`")
        found = []
        for item in items:
            values = {a["Name"]: a["Value"] for a in item["Attributes"]}
            found.append({"id": item["Name"], "last_seen": values["last_seen"],
                          "info": json.loads(joined(item["Attributes"]))})
        return sorted(found, key=lambda e: e["id"])

    def forget_encoder(self, encoder_id):
        self._call("delete_attributes", DomainName=self.encoders_domain, ItemName=encoder_id)
