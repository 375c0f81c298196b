"""The Dispatcher owns the work queues: it puts new jobs on the new-job queue,
and a listener thread drains the state-change queue into the JobTracker."""

import json
import threading

from nommer.actors import addresses, base
from nommer.actors.messages import Ack, DeleteAcked, Enqueue, Report, ResendPending, StateChanged
from nommer.actors.ticker import Alarm
from nommer.core.model.messages import message_body


# Acknowledged changes are deleted together, in one transaction (one call
# to SQS): ACK_BATCH at most, or those of the last ACK_LINGER seconds. One
# held back when the feeder dies comes back after its lease and is dealt
# with again: a webhook told twice at worst, never one lost.
ACK_BATCH = 10
ACK_LINGER = 0.2
DELETE_ACKED = DeleteAcked()


class Dispatcher(base.Child):
    address = addresses.DISPATCHER
    name = "dispatcher"

    def __init__(self, config, new_jobs, state_changes):
        super().__init__()
        self.config = config
        self.new_jobs = new_jobs
        self.state_changes = state_changes
        self.stopping = threading.Event()
        self.listener = None
        self.acks = []  # receipts of changes dealt with, not deleted yet
        self.alarm = None  # tells DeleteAcked when the oldest of them is due

    def on_start(self):
        # A job stored just before a crash (of this actor or of the whole
        # feeder) may never have been queued. Queueing every PENDING job again
        # costs a duplicate message at most, which encoders drop.
        base.tell(addresses.JOB_TRACKER, ResendPending())
        self.alarm = Alarm(self.actor_ref, "dispatcher").start()
        self.listener = threading.Thread(target=self._listen, name="state-changes", daemon=True)
        self.listener.start()

    def on_stop(self):
        self._stop_threads()
        self._delete_acked()
        if self.listener is not None:
            self.listener.join(timeout=self.config.state_check_interval + 5)

    def on_failure(self, exception_type, exception_value, traceback):
        # on_stop is not called after a crash: the alarm's thread (nothing
        # due) and the listener would run for ever beside the next
        # Dispatcher's. What it held back comes back after its lease.
        self._stop_threads()
        super().on_failure(exception_type, exception_value, traceback)

    def _stop_threads(self):
        """Tell the listener to stop, and stop the alarm."""
        self.stopping.set()
        if self.alarm is not None:
            self.alarm.stop()

    def on_receive(self, message):
        if isinstance(message, Enqueue):
            self.new_jobs.send(message_body(message.job_id), priority=message.priority)
        elif isinstance(message, Report):
            self.state_changes.send(json.dumps(message.change))
        elif isinstance(message, Ack):
            if not self.acks:
                # The first of a batch: the rest are deleted with it in
                # ACK_LINGER seconds at the latest (sooner when an alarm of
                # an earlier batch, deleted full, is still to come).
                self.alarm.set(ACK_LINGER, DELETE_ACKED)
            self.acks.append(message.receipt)
            if len(self.acks) >= ACK_BATCH:
                self._delete_acked()
        elif isinstance(message, DeleteAcked):
            self._delete_acked()
        else:
            super().on_receive(message)

    def _delete_acked(self):
        acks, self.acks = self.acks, []
        if acks:
            # A change not deleted comes back after its lease and is dealt
            # with again: a duplicate webhook at worst, never a lost one. So
            # a failed delete is logged, and neither stops this actor nor
            # keeps its listener from stopping.
            try:
                self.state_changes.delete_many(acks)
            except Exception:
                self.log.exception("acknowledged state changes not deleted; they will come back",
                                   count=len(acks))

    def depth(self):
        return {"new_jobs": self.new_jobs.depth(), "state_changes": self.state_changes.depth()}

    def _listen(self):
        """Long-poll the state-change queue into the JobTracker. A change is
        deleted only when it has been dealt with (its webhook delivered, or
        none to deliver): one the feeder had in hand when it died comes back
        after ``state_change_lease`` seconds."""
        while not self.stopping.is_set():
            try:
                messages = self.state_changes.receive(
                    max_messages=10, visibility_timeout=self.config.state_change_lease,
                    wait_seconds=self.config.state_check_interval,
                )
            except Exception:
                self.log.exception("state-change queue read failed")
                self.stopping.wait(1.0)
                continue
            for message in messages:
                try:
                    change = json.loads(message.body)
                    change["job_id"]
                except (ValueError, KeyError, TypeError):
                    self.log.warning("unreadable state change dropped", body=message.body[:200])
                    self.state_changes.delete(message.receipt)
                    continue
                if not base.tell(addresses.JOB_TRACKER, StateChanged(change, message.receipt)):
                    self.state_changes.release(message.receipt)  # try again soon
