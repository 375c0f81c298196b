"""What the SQS queue does beyond the WorkQueue contract
(tests/core/test_queue_contract.py runs that on SQS too)."""

import threading
import time

import pytest

from nommer.core.adapters import aws, sqs_queue
from nommer.core.adapters.sqs_queue import SqsWorkQueue
from nommer.core.errors import ConfigError, TransientError


@pytest.fixture
def queue(aws_endpoint, unique):
    queue = SqsWorkQueue(f"{unique}-q", visibility_timeout=45)
    yield queue
    queue.close()


def test_a_created_queue_keeps_its_settings(queue):
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert "RedrivePolicy" not in attributes  # no max_receives, no dead-letter queue


def test_a_wait_longer_than_one_long_poll_is_split(queue, monkeypatch):
    # SQS's long poll is at most 20 s; a 1 s cap shows the split in seconds.
    monkeypatch.setattr(sqs_queue, "MAX_WAIT", 1)
    attempts = queue.receive_attempts
    started = time.monotonic()

    assert queue.receive(wait_seconds=2.5) == []

    elapsed = time.monotonic() - started
    assert queue.receive_attempts - attempts == 3  # 1 s + 1 s + the rest rounded up
    assert 2.5 <= elapsed < 4


def test_a_message_sent_during_a_split_wait_arrives(queue, monkeypatch):
    monkeypatch.setattr(sqs_queue, "MAX_WAIT", 1)
    other = SqsWorkQueue(queue.name)
    try:
        threading.Timer(1.5, other.send, args=("late",)).start()
        started = time.monotonic()
        [message] = queue.receive(wait_seconds=5)
        assert message.body == "late" and time.monotonic() - started < 2.5
    finally:
        other.close()


@pytest.mark.parametrize("name", ["has space", "dots.not.allowed", "x" * 81, ""])
def test_bad_queue_names_name_the_setting(aws_endpoint, name):
    with pytest.raises(ConfigError) as e:
        SqsWorkQueue(name)
    assert "setting 'sqs_queue_prefix'" in str(e.value)


def test_bad_receipts_are_refused_not_raised(queue):
    queue.send("a")
    assert not queue.extend("not-a-receipt", 10)
    assert not queue.delete("not-a-receipt")
    assert not queue.delete("")


def test_an_unreachable_queue_is_a_transient_error_naming_it(aws_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    # One attempt, so botocore's own retries do not make the test wait.
    client = aws.client("sqs", retries={"mode": "standard", "max_attempts": 1})
    with pytest.raises(TransientError) as e:
        SqsWorkQueue("nommer-new-jobs", client=client)
    assert "SQS queue nommer-new-jobs: open failed" in str(e.value)


def test_no_region_names_the_setting(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError) as e:
        SqsWorkQueue("nommer-new-jobs")
    assert "setting 'aws_region'" in str(e.value)
