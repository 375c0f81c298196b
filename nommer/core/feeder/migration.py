"""Copying jobs from a SimpleDB job store into a DynamoDB one.

The source is the live SimpleDB domain (read with consistent Selects) or a
file of its items, one JSON object per line: ``{"name": <item name>,
"attributes": [{"name": ..., "value": ...}, ...]}`` (``Name``/``Value``
and ``itemName`` are read too). Each item is the SimpleDB store's record
(docs/stores.md). Only jobs are copied: encoder heartbeats are renewed
every few seconds by the encoders themselves.

A job is written only where no job with its id is stored (a conditional
put), so running the copy again copies nothing twice and never overwrites
a job that has moved on in DynamoDB. Jobs that finished longer ago than
``retention_days`` are not copied: their time is up.
"""

import dataclasses
import gzip
import json

from nommer.core.errors import NommerError, RecordTooLarge
from nommer.core.model.jobs import Job
from nommer.core.retrying import retry


class MigrationError(NommerError):
    """The source cannot be read at all; the message says which and why."""

    code = "MIGRATION"


@dataclasses.dataclass
class Report:
    copied: int = 0
    present: int = 0  # already in the table
    expired: int = 0  # finished longer ago than retention_days
    unreadable: list = dataclasses.field(default_factory=list)  # (item name, reason)

    def summary(self):
        return (f"copied {self.copied} jobs; {self.present} were there already; "
                f"{self.expired} had expired (retention_days) and were not copied; "
                f"{len(self.unreadable)} could not be read")


def _pairs(attributes):
    pairs = {}
    for attribute in attributes:
        name = attribute.get("Name", attribute.get("name"))
        value = attribute.get("Value", attribute.get("value"))
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError("an attribute without a text name and value")
        pairs[name] = value
    return pairs


def job_of(attributes):
    """The job an item of the SimpleDB store holds; ValueError saying why not."""
    values = _pairs(attributes)
    try:
        parts = int(values["parts"])
        text = "".join(values[f"d{i:03d}"] for i in range(parts))
    except KeyError as e:
        raise ValueError(f"no attribute {e.args[0]!r}: "
                         "not a job of nommer's SimpleDB store") from None
    except ValueError:
        raise ValueError("attribute 'parts' is not a number") from None
    try:
        return Job.from_dict(json.loads(text))
    except (ValueError, TypeError) as e:
        raise ValueError(f"its record is not a job ({e})") from None


def domain_items(client, domain):
    """``(item name, attributes)`` of every item of a live SimpleDB domain;
    MigrationError at once when there is no such domain."""
    import botocore.exceptions

    try:
        client.domain_metadata(DomainName=domain)
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NoSuchDomain":
            raise MigrationError(f"--from-domain: SimpleDB has no domain {domain!r}") from None
        raise
    return _select_all(client, domain)


def _select_all(client, domain):
    token = None
    while True:
        params = {"SelectExpression": f"select * from `{domain}`", "ConsistentRead": True}
        if token:
            params["NextToken"] = token
        answer = retry(lambda: client.select(**params), f"select from {domain}")
        for item in answer.get("Items", []):
            yield item["Name"], item["Attributes"]
        token = answer.get("NextToken")
        if not token:
            return


def export_items(name, data):
    """``(item name, attributes)`` of each line of an export file's bytes
    (gzip or plain); MigrationError naming the file and line when one is
    not an item."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            item = json.loads(line)
        except ValueError as e:
            raise MigrationError(f"{where}: not JSON ({e})") from None
        if not isinstance(item, dict):
            raise MigrationError(f"{where}: not an object with name and attributes")
        item_name = item.get("name", item.get("itemName", item.get("Name")))
        attributes = item.get("attributes", item.get("Attributes"))
        if not isinstance(item_name, str) or not isinstance(attributes, list):
            raise MigrationError(f"{where}: an item needs \"name\" (text) and "
                                 "\"attributes\" (a list of {\"name\", \"value\"})")
        yield item_name, attributes


def copy(items, target, now=None):
    """Copy every job of ``items`` into the DynamoDB store ``target``."""
    import time

    now = time.time() if now is None else now
    report = Report()
    for name, attributes in items:
        try:
            job = job_of(attributes)
        except ValueError as e:
            report.unreadable.append((name, str(e)))
            continue
        if job.id != name:
            report.unreadable.append((name, f"its record is of job {job.id}"))
            continue
        expires = target.expires_at(job)
        if expires is not None and expires <= now:
            report.expired += 1
            continue
        try:
            written = retry(lambda: target.put_copy(job), f"copy job {job.id}")
        except RecordTooLarge as e:
            report.unreadable.append((name, str(e)))
            continue
        if written:
            report.copied += 1
        else:
            report.present += 1
    return report
