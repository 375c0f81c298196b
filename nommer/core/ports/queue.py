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
    #: True when messages come out in the order they became visible. SQS's
    #: standard queues do not promise it, so nommer does not rely on it.
    ordered = False
    #: True when extend and delete return False for every receipt that is no
    #: longer held. SQS accepts some such receipts silently (a second delete,
    #: an older receipt of a message received again), so nothing may rely on
    #: the answer for safety; the job store's conditional writes give that.
    refuses_stale_receipts = True
    #: True when a message held by one receiver never reaches another before
    #: its timeout lapses. SQS's standard queues deliver at least once, and
    #: now and then twice; a job's claim is a conditional write for that reason.
    delivers_once = True
    #: True when receive hands out higher priorities first (SQLite: by the
    #: priority itself; SQS: by class, one queue per class polled in order).
    prioritized = False

    @abc.abstractmethod
    def send(self, body, priority=0):
        """Append a message (text); returns its id. A queue that keeps
        priorities (``prioritized``) hands out messages of a higher
        ``priority`` (-50 to 50) before lower ones; others ignore it."""

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
        from now. Returns False when that delivery is no longer held (see
        ``refuses_stale_receipts``)."""

    @abc.abstractmethod
    def delete(self, receipt):
        """Remove the message for good. Returns False when the delivery was
        no longer held, another consumer may have received it since (see
        ``refuses_stale_receipts``)."""

    def delete_many(self, receipts):
        """Delete the messages of several deliveries at once: ``delete`` of
        each, in one call or transaction where the backend allows, which is
        what makes it cheaper. Returns a list of booleans in the order of
        ``receipts``, each as ``delete`` would have answered."""
        return [self.delete(receipt) for receipt in receipts]

    def release(self, receipt):
        """Make the message visible again at once."""
        return self.extend(receipt, 0)

    @abc.abstractmethod
    def depth(self):
        """``(visible, in_flight)`` message counts, approximately."""

    def dead_letters(self, max_messages=10, visibility_timeout=60):
        """Up to ``max_messages`` messages that the queue gave up on after
        too many receives, each held for ``visibility_timeout`` seconds, with
        ``receive_count`` the number of receives that made it give up.
        A queue without a dead-letter queue has none."""
        return []

    def forget_dead_letter(self, receipt):
        """Remove a message :meth:`dead_letters` returned; False when it was
        no longer held."""
        return False

    def close(self):
        """Release connections."""
