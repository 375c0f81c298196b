"""The WorkQueue on Amazon SQS (a standard queue), with a dead-letter queue.

SQS counts time in whole seconds: visibility timeouts and waits are rounded
up to the next second, and a wait longer than SQS's 20 s long poll is split
into several calls. SQS does not promise first-in-first-out order, delivers
at least once (now and then twice), and accepts some receipts that are no
longer held without saying so: nommer's safety rests on the job store's
conditional writes, never on a receipt.
"""

import json
import math
import re
import time

import botocore.exceptions
import structlog

from nommer.core.adapters import aws
from nommer.core.errors import ConfigError, TransientError
from nommer.core.ports.queue import Message, WorkQueue

# Lazy: resolved at each call, after the process configured logging.
log = structlog.get_logger("nommer.sqs")

MAX_MESSAGES = 10
MAX_TIMEOUT = 12 * 3600
MAX_RECEIVES = 1000  # the most a redrive policy's maxReceiveCount may be
MAX_WAIT = 20  # SQS's longest long poll
RETENTION = 14 * 24 * 3600  # SQS's longest; a queued job outlives a long outage
DEAD_SUFFIX = "-dead"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")
# What SQS answers for a receipt that no longer names a delivery: an unknown
# or expired handle, a message whose visibility lapsed, or (for
# ChangeMessageVisibility) "Message does not exist or is not available".
_GONE = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})
_MISSING = frozenset({"QueueDoesNotExist", "NonExistentQueue"})


def check_name(name, setting="sqs_queue_prefix"):
    """Raise ConfigError (naming ``setting``) unless ``name`` is a valid SQS queue name."""
    if not _NAME.match(name):
        raise ConfigError(
            f"setting {setting!r}: makes the SQS queue name {name!r}, but queue names are "
            "1 to 80 letters, digits, hyphens and underscores"
        )
    return name


def _seconds(value, what, limit):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= limit:
        raise ValueError(f"{what} must be 0 to {limit} seconds, not {value!r}")
    return math.ceil(value)


class SqsWorkQueue(WorkQueue):
    """The SQS queue ``name``, created when missing.

    A created queue gets a dead-letter queue ``<name>-dead`` that takes a
    message after ``max_receives`` receives (None: no dead-letter queue). A
    queue that exists already is used as it is, dead-letter queue included.
    ``receive_attempts`` counts ReceiveMessage calls, so a test can tell
    waiting from spinning.
    """

    refuses_stale_receipts = False
    delivers_once = False

    def __init__(self, name, visibility_timeout=30.0, max_receives=None, region=None,
                 client=None):
        self.name = check_name(name)
        self.visibility_timeout = _seconds(visibility_timeout, "visibility timeout", MAX_TIMEOUT)
        self.max_receives = max_receives
        # A long poll holds the connection for up to 20 s; leave room beyond it.
        self.client = client or aws.client("sqs", region, read_timeout=MAX_WAIT + 15,
                                           max_pool_connections=20)
        self.receive_attempts = 0
        self._closed = False
        self._dead = None  # (url, max receive count), looked up when first needed
        try:
            self.url = self._call("open", self._open)
        except BaseException:
            self.client.close()
            raise

    # -- setting up ------------------------------------------------------------

    def _url_of(self, name):
        try:
            return self.client.get_queue_url(QueueName=name)["QueueUrl"]
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) in _MISSING:
                return None
            raise

    def _open(self):
        url = self._url_of(self.name)
        if url is not None:
            return url
        attributes = {"VisibilityTimeout": str(self.visibility_timeout),
                      "MessageRetentionPeriod": str(RETENTION)}
        if self.max_receives:
            dead_name = check_name(self.name + DEAD_SUFFIX)
            dead_url = self.client.create_queue(
                QueueName=dead_name, Attributes={"MessageRetentionPeriod": str(RETENTION)}
            )["QueueUrl"]
            arn = self.client.get_queue_attributes(
                QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": str(self.max_receives)})
            self._dead = (dead_url, self.max_receives)
        log.info("creating SQS queue", queue=self.name, max_receives=self.max_receives)
        return self.client.create_queue(QueueName=self.name, Attributes=attributes)["QueueUrl"]

    def _dead_letter_queue(self):
        """``(url, max receive count)`` of this queue's dead-letter queue, or None."""
        if self._dead is None:
            attributes = self.client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            arn = policy.get("deadLetterTargetArn")
            url = self._url_of(arn.rsplit(":", 1)[-1]) if arn else None
            if url is None:
                log.warning("SQS queue has no dead-letter queue; messages that keep "
                            "failing are retried until their job is abandoned", queue=self.name)
                self._dead = (None, 0)
            else:
                self._dead = (url, int(policy.get("maxReceiveCount", 0)))
        return self._dead if self._dead[0] else None

    def _call(self, what, fn):
        """Run ``fn``; a failure botocore's retries could not get past becomes a
        TransientError naming the queue (a ConfigError for missing credentials)."""
        try:
            return fn()
        except botocore.exceptions.NoCredentialsError:
            raise ConfigError("no AWS credentials found: nommer uses boto3's default chain "
                              "(an instance profile on EC2, AWS_PROFILE or the environment)") from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            if aws.is_transient(e):
                raise TransientError(f"SQS queue {self.name}: {what} failed: {aws.describe(e)}") from e
            raise

    # -- the port ----------------------------------------------------------------

    def send(self, body, priority=0):
        """See WorkQueue.send; one SQS queue has no priorities (SqsPriorityQueue has)."""
        if not isinstance(body, str):
            raise TypeError(f"a message body is text, not {type(body).__name__}")
        return self._call("send", lambda: self.client.send_message(
            QueueUrl=self.url, MessageBody=body)["MessageId"])

    def receive(self, max_messages=1, visibility_timeout=None, wait_seconds=0.0):
        """See WorkQueue.receive. A wait is rounded up to whole seconds;
        ``max_messages`` is 1 to 10."""
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) \
                or not 1 <= max_messages <= MAX_MESSAGES:
            raise ValueError(f"max_messages must be 1 to {MAX_MESSAGES}, not {max_messages!r}")
        timeout = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        timeout = _seconds(timeout, "visibility timeout", MAX_TIMEOUT)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while not self._closed:
            wait = min(MAX_WAIT, math.ceil(max(0.0, deadline - time.monotonic())))
            messages = self._receive(self.url, max_messages, timeout, wait)
            if messages or wait == 0 or time.monotonic() >= deadline:
                return messages
        return []

    def _receive(self, url, count, timeout, wait):
        self.receive_attempts += 1
        try:
            answer = self._call("receive", lambda: self.client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=count, VisibilityTimeout=timeout,
                WaitTimeSeconds=wait, MessageSystemAttributeNames=["ApproximateReceiveCount"]))
        except Exception:
            if self._closed:
                return []  # closed under a waiting receive: its connection went
            raise
        return [
            Message(id=m["MessageId"], body=m["Body"], receipt=m["ReceiptHandle"],
                    receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
            for m in answer.get("Messages", [])
        ]

    def _receipt_call(self, what, fn):
        """Run a call on a receipt; False when SQS says it names no delivery."""
        try:
            self._call(what, fn)
        except botocore.exceptions.ClientError as e:
            if aws.error_code(e) in _GONE:
                log.debug("SQS refused a receipt", queue=self.name, call=what, reason=aws.describe(e))
                return False
            raise
        return True

    def extend(self, receipt, visibility_timeout):
        timeout = _seconds(visibility_timeout, "visibility timeout", MAX_TIMEOUT)
        if not receipt:
            return False
        return self._receipt_call("extend", lambda: self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=timeout))

    def delete(self, receipt):
        """See WorkQueue.delete. SQS accepts a receipt it already deleted, so
        True means "not held by anyone now", not "deleted by this call"."""
        if not receipt:
            return False
        return self._receipt_call("delete", lambda: self.client.delete_message(
            QueueUrl=self.url, ReceiptHandle=receipt))

    def delete_many(self, receipts):
        """See WorkQueue.delete_many: DeleteMessageBatch, ten at a time. An
        entry SQS refuses for another reason than a receipt naming no
        delivery, or a batch refused whole, is deleted on its own, so that
        it answers or raises as ``delete`` does."""
        receipts = list(receipts)
        done = [False] * len(receipts)
        held = [n for n, r in enumerate(receipts) if r]
        for start in range(0, len(held), MAX_MESSAGES):
            chunk = held[start:start + MAX_MESSAGES]
            entries = [{"Id": str(n), "ReceiptHandle": receipts[n]} for n in chunk]
            try:
                answer = self._call("delete", lambda: self.client.delete_message_batch(
                    QueueUrl=self.url, Entries=entries))
            except botocore.exceptions.ClientError:
                again = chunk
            else:
                for entry in answer.get("Successful", []):
                    done[int(entry["Id"])] = True
                again = [int(e["Id"]) for e in answer.get("Failed", []) if e.get("Code") not in _GONE]
            for n in again:
                done[n] = self.delete(receipts[n])
        return done

    def depth(self):
        attributes = self._call("depth", lambda: self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ))["Attributes"]
        return (int(attributes["ApproximateNumberOfMessages"]),
                int(attributes["ApproximateNumberOfMessagesNotVisible"]))

    def dead_letters(self, max_messages=10, visibility_timeout=60):
        """Messages of the dead-letter queue, held for ``visibility_timeout``
        seconds; each one's ``receive_count`` is the count that sent it there.
        Remove one with :meth:`forget_dead_letter` once it is dealt with."""
        dead = self._call("dead-letter lookup", self._dead_letter_queue)
        if dead is None:
            return []
        url, limit = dead
        messages = self._receive(url, min(max_messages, MAX_MESSAGES),
                                 _seconds(visibility_timeout, "visibility timeout", MAX_TIMEOUT), 0)
        return [Message(m.id, m.body, m.receipt, limit or m.receive_count) for m in messages]

    def forget_dead_letter(self, receipt):
        dead = self._dead_letter_queue()
        if dead is None or not receipt:
            return False
        return self._receipt_call("delete dead letter", lambda: self.client.delete_message(
            QueueUrl=dead[0], ReceiptHandle=receipt))

    def close(self):
        """Release connections; a receive waiting in another thread ends with
        its current long poll (at most 20 s)."""
        self._closed = True
        self.client.close()


# The classes of the new-job queues, highest first, and the name suffix of each.
PRIORITY_CLASSES = (("high", "-high"), ("normal", ""), ("low", "-low"))
# A waiting receive long-polls the normal queue this long at a time, then
# looks at the others again: a job of another class sent meanwhile waits at
# most this long (SQS has no wait across queues).
PRIORITY_SLICE = 5


def priority_class(priority):
    """high above 0, normal at 0, low below 0."""
    return "high" if priority > 0 else "low" if priority < 0 else "normal"


def priority_queue_names(name):
    """The SQS queue names of the priority classes of ``name``, highest first."""
    return [name + suffix for _, suffix in PRIORITY_CLASSES]


class SqsPriorityQueue(WorkQueue):
    """Priorities on SQS, MediaConvert's way: one standard queue per class
    (``<name>-high`` for priorities above 0, ``<name>`` for 0, ``<name>-low``
    below 0), each with its dead-letter queue, polled in that order. Within
    one class SQS's best-effort order holds. A receipt carries its class, so
    extend and delete reach the right queue."""

    refuses_stale_receipts = False
    delivers_once = False
    prioritized = True

    def __init__(self, name, visibility_timeout=30.0, max_receives=None, region=None):
        self.name = name
        self.queues = {}
        try:
            for cls, suffix in PRIORITY_CLASSES:
                self.queues[cls] = SqsWorkQueue(name + suffix, visibility_timeout=visibility_timeout,
                                                max_receives=max_receives, region=region)
        except BaseException:
            self.close()
            raise
        self._closed = False

    @property
    def receive_attempts(self):
        return sum(q.receive_attempts for q in self.queues.values())

    def _route(self, receipt):
        cls, bar, inner = str(receipt or "").partition("|")
        if not bar or cls not in self.queues:
            return None, None
        return self.queues[cls], inner

    @staticmethod
    def _tagged(cls, messages):
        return [Message(m.id, m.body, f"{cls}|{m.receipt}", m.receive_count) for m in messages]

    def send(self, body, priority=0):
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"priority must be a whole number, not {priority!r}")
        return self.queues[priority_class(priority)].send(body)

    def _sweep(self, count, timeout):
        """Zero-wait receives, highest class first, until ``count`` are taken."""
        taken = []
        for cls, _ in PRIORITY_CLASSES:
            if len(taken) >= count:
                break
            taken += self._tagged(cls, self.queues[cls].receive(count - len(taken), timeout, 0))
        return taken

    def receive(self, max_messages=1, visibility_timeout=None, wait_seconds=0.0):
        """See WorkQueue.receive: the high queue first, then normal, then low.
        While none has a message, the normal queue is long-polled in slices of
        PRIORITY_SLICE seconds with the other two looked at in between."""
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) \
                or not 1 <= max_messages <= MAX_MESSAGES:
            raise ValueError(f"max_messages must be 1 to {MAX_MESSAGES}, not {max_messages!r}")
        deadline = time.monotonic() + max(0.0, wait_seconds)
        taken = self._sweep(max_messages, visibility_timeout)
        normal = self.queues["normal"]
        while not taken and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            taken = self._tagged("normal", normal.receive(
                max_messages, visibility_timeout, min(PRIORITY_SLICE, remaining)))
            if taken:
                # A higher class may have got one meanwhile: it goes first next time.
                break
            if deadline - time.monotonic() > 0:
                taken = self._sweep(max_messages, visibility_timeout)
        return taken

    def extend(self, receipt, visibility_timeout):
        queue, inner = self._route(receipt)
        if queue is None:
            _seconds(visibility_timeout, "visibility timeout", MAX_TIMEOUT)
            return False
        return queue.extend(inner, visibility_timeout)

    def delete(self, receipt):
        queue, inner = self._route(receipt)
        return False if queue is None else queue.delete(inner)

    def delete_many(self, receipts):
        """See WorkQueue.delete_many: one batch for each class's queue."""
        receipts = list(receipts)
        done = [False] * len(receipts)
        by_queue = {}
        for n, receipt in enumerate(receipts):
            queue, inner = self._route(receipt)
            if queue is not None:
                by_queue.setdefault(id(queue), (queue, []))[1].append((n, inner))
        for queue, entries in by_queue.values():
            for (n, _), answer in zip(entries, queue.delete_many([inner for _, inner in entries])):
                done[n] = answer
        return done

    def depth(self):
        visible = in_flight = 0
        for queue in self.queues.values():
            v, f = queue.depth()
            visible, in_flight = visible + v, in_flight + f
        return visible, in_flight

    def dead_letters(self, max_messages=10, visibility_timeout=60):
        letters = []
        for cls, _ in PRIORITY_CLASSES:
            if len(letters) >= max_messages:
                break
            letters += self._tagged(cls, self.queues[cls].dead_letters(
                max_messages - len(letters), visibility_timeout))
        return letters

    def forget_dead_letter(self, receipt):
        queue, inner = self._route(receipt)
        return False if queue is None else queue.forget_dead_letter(inner)

    def close(self):
        self._closed = True
        for queue in self.queues.values():
            queue.close()
