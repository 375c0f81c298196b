"""The DynamoDB job store beyond the store contract: the table it makes, the
TTL of finished jobs, records too large for one item, a table made by
someone else, and throttling (through a loopback proxy in front of moto's
server that answers DynamoDB's throttling errors)."""

import dataclasses
import http.server
import json
import threading
import time
import urllib.request

import boto3
import pytest

from nommer.core.adapters import aws
from nommer.core.adapters.dynamodb_store import (
    BY_KIND,
    BY_STATE,
    MAX_ITEM_BYTES,
    TTL_ATTRIBUTE,
    DynamoDbJobStore,
)
from nommer.core.errors import ConfigError, InvalidInput, NotFound, RecordTooLarge, TransientError
from nommer.core.model.jobs import Job, State
from nommer.core.retrying import RetryingStore


def new_job(n=0, **fields):
    job = Job.new(f"file:///in/{n}.mov", [{"destination": f"file:///o/{n}.mp4", "preset": "h264"}])
    return dataclasses.replace(job, **fields)


@pytest.fixture
def client(aws_endpoint):
    return boto3.client("dynamodb")


def raw(client, table, job_id):
    return client.get_item(TableName=table, Key={"pk": {"S": f"job#{job_id}"}},
                           ConsistentRead=True)["Item"]


def test_the_table_it_makes_has_the_agreed_layout(client, unique):
    DynamoDbJobStore(unique)
    table = client.describe_table(TableName=unique)["Table"]

    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: ([k["AttributeName"] for k in i["KeySchema"]],
                                i["Projection"]["ProjectionType"])
               for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {BY_STATE: (["state", "id"], "ALL"), BY_KIND: (["kind", "id"], "ALL")}
    ttl = client.describe_time_to_live(TableName=unique)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)


def test_items_carry_the_agreed_attributes(client, unique):
    store = DynamoDbJobStore(unique)
    job = store.create(new_job())
    store.heartbeat("enc-1", {"slots": 2})

    item = raw(client, unique, job.id)
    assert (item["kind"]["S"], item["id"]["S"], item["state"]["S"]) == ("job", job.id, "PENDING")
    encoder = client.get_item(TableName=unique, Key={"pk": {"S": "encoder#enc-1"}})["Item"]
    assert (encoder["kind"]["S"], encoder["id"]["S"]) == ("encoder", "enc-1")


@pytest.mark.parametrize("days", [30, 1])
def test_a_finished_job_expires_retention_days_later(client, unique, days):
    store = DynamoDbJobStore(unique, retention_days=days)
    job = store.create(new_job())
    running = store.update(job.transition(State.DOWNLOADING))
    assert TTL_ATTRIBUTE not in raw(client, unique, job.id)

    before = time.time()
    store.update(running.transition(State.ERROR, details="broken"))
    expires = int(raw(client, unique, job.id)[TTL_ATTRIBUTE]["N"])

    assert before + days * 86400 - 2 <= expires <= time.time() + days * 86400 + 2


def test_retention_zero_keeps_finished_jobs_forever(client, unique):
    store = DynamoDbJobStore(unique, retention_days=0)
    job = store.create(new_job())
    store.update(job.transition(State.CANCELED))
    assert TTL_ATTRIBUTE not in raw(client, unique, job.id)


def test_final_counts_come_from_counters_not_from_finished_jobs(client, unique):
    store = DynamoDbJobStore(unique)
    jobs = [store.create(new_job(n)) for n in range(3)]
    store.update(jobs[0].transition(State.CANCELED))
    store.update(jobs[1].transition(State.CANCELED))
    # An expired job leaves the table (TTL) but stays counted.
    client.delete_item(TableName=unique, Key={"pk": {"S": f"job#{jobs[0].id}"}})

    assert store.counts() == {"PENDING": 1, "CANCELED": 2}
    assert store.counts({State.PENDING}) == {"PENDING": 1}


def test_a_record_over_the_item_limit_is_refused_and_nothing_is_written(client, unique):
    store = DynamoDbJobStore(unique)
    job = store.create(new_job())
    huge = job.with_changes(details="x" * MAX_ITEM_BYTES)

    with pytest.raises(RecordTooLarge) as e:
        store.update(huge)
    assert isinstance(e.value, InvalidInput) and e.value.code == "RECORD_TOO_LARGE"
    assert "400" in str(e.value) or str(MAX_ITEM_BYTES) in str(e.value)
    assert store.get(job.id) == job
    with pytest.raises(RecordTooLarge):
        store.create(new_job(1, details="y" * MAX_ITEM_BYTES))
    assert store.counts() == {"PENDING": 1}


def test_a_table_without_the_indexes_is_refused_naming_the_setting(client, unique):
    client.create_table(TableName=unique, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    with pytest.raises(ConfigError) as e:
        DynamoDbJobStore(unique)
    assert "setting 'dynamodb_table'" in str(e.value) and BY_STATE in str(e.value)


def test_a_missing_table_is_an_error_when_it_may_not_be_created(client, unique):
    with pytest.raises(ConfigError) as e:
        DynamoDbJobStore(unique, create_table=False)
    assert "setting 'dynamodb_table'" in str(e.value) and unique in str(e.value)
    assert unique not in client.list_tables()["TableNames"]


def test_a_table_that_exists_is_used_as_it_is(client, unique):
    first = DynamoDbJobStore(unique)
    job = first.create(new_job())
    second = DynamoDbJobStore(unique, create_table=False)
    assert second.get(job.id) == job


# --- throttling ----------------------------------------------------------------


class Throttler:
    """A proxy to moto's server that answers the next ``n`` requests with
    DynamoDB's error ``code`` (as DynamoDB does: JSON, status 400 or 500)."""

    def __init__(self, upstream):
        self.pending = []
        self.answered = 0
        throttler = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if throttler.pending:
                    code = throttler.pending.pop(0)
                    throttler.answered += 1
                    status = 500 if code == "InternalServerError" else 400
                    answer = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                                         "message": "slow down"}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    request = urllib.request.Request(upstream, data=body, headers=headers)
                    try:
                        with urllib.request.urlopen(request, timeout=10) as reply:
                            status, answer = reply.status, reply.read()
                            kind = reply.headers.get("Content-Type")
                    except urllib.error.HTTPError as error:
                        status, answer = error.code, error.read()
                        kind = error.headers.get("Content-Type")
                    self.send_response(status)
                    self.send_header("Content-Type", kind or "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def throttler(aws_endpoint):
    proxy = Throttler(aws_endpoint)
    yield proxy
    proxy.close()


CODES = ["ProvisionedThroughputExceededException", "ThrottlingException",
         "RequestLimitExceeded", "InternalServerError"]


@pytest.mark.parametrize("code", CODES)
def test_throttling_is_a_transient_error_and_retried(throttler, unique, code, monkeypatch):
    DynamoDbJobStore(unique).create(job := new_job())  # straight to moto
    # boto3's own variable points DynamoDB alone at the proxy; no retry
    # inside botocore, so the store's own answer shows.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", throttler.url)
    client = aws.client("dynamodb", "us-east-1", retries={"mode": "standard",
                                                           "total_max_attempts": 1})
    store = DynamoDbJobStore(unique, client=client, create_table=False)

    throttler.pending = [code]
    with pytest.raises(TransientError) as e:
        store.get(job.id)
    assert code in str(e.value)

    throttler.pending = [code, code]
    assert RetryingStore(store).get(job.id).id == job.id
    with pytest.raises(NotFound):
        RetryingStore(store).get("nope")


def test_botocore_retries_throttling_with_backoff_before_the_store_sees_it(throttler, unique,
                                                                          monkeypatch):
    DynamoDbJobStore(unique).create(job := new_job())
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", throttler.url)
    client = aws.client("dynamodb", "us-east-1")
    store = DynamoDbJobStore(unique, client=client, create_table=False)

    throttler.pending = ["ProvisionedThroughputExceededException", "ThrottlingException"]
    assert store.get(job.id).id == job.id
    assert throttler.answered == 2 and not throttler.pending
