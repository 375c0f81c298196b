"""The WorkQueue port, with SQS's semantics so one consumer path serves all.

A received message stays invisible to other consumers for its visibility
timeout; it comes back unless it is deleted first. Adapters:
``nommer.core.adapters.sqlite_queue`` and, for AWS, an SQS one. Both pass
``tests/core/test_queue_contract.py``.
"""

import abc
import dataclasses


@dataclasses.dataclass(frozen=True)
class Message:
    id: str
    body: str
    receipt: str  # names this delivery; changes on each receive
    receive_count: int


class WorkQueue(abc.ABC):
    @abc.abstractmethod
    def send(self, body):
        """Append a message (text); returns its id."""

    @abc.abstractmethod
    def receive(self, max_messages=1, visibility_timeout=None, wait_seconds=0.0):
        """Up to ``max_messages`` visible messages, made invisible for
        ``visibility_timeout`` seconds (the queue's default when None).

        Waits up to ``wait_seconds`` for one to arrive, without busy spinning;
        returns an empty list when none did.
        """

    @abc.abstractmethod
    def extend(self, receipt, visibility_timeout):
        """Keep the message invisible for ``visibility_timeout`` more seconds
        from now. Returns False when that delivery is no longer held."""

    @abc.abstractmethod
    def delete(self, receipt):
        """Remove the message for good. Returns False when the delivery was
        no longer held (another consumer may have received it since)."""

    def release(self, receipt):
        """Make the message visible again at once."""
        return self.extend(receipt, 0)

    @abc.abstractmethod
    def depth(self):
        """``(visible, in_flight)`` message counts, approximately."""

    def close(self):
        """Release connections."""
