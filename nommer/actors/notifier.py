"""The Notifier POSTs state changes to each job's notify_url: in order for
one job, in parallel across jobs, signed, with retries and backoff, never
blocking any other actor. What became of each delivery goes to the
JobTracker, which records it on the job. A progress event still waiting when
a newer one comes is replaced by it: a slow receiver gets the latest
progress, not a backlog. Deliveries go over kept-alive connections
(``core/feeder/connections.py``); a timer tells the Notifier ``CloseIdle``
while any is kept, and the connections are closed when it stops."""

import collections
import concurrent.futures
import threading

from nommer.actors import addresses, base
from nommer.actors.messages import Ack, CloseIdle, Notified, Notify
from nommer.core.security import netguard, signing
from nommer.core.feeder import notify
from nommer.core.feeder.connections import IDLE_AFTER, ConnectionPool
from nommer.core.feeder.metrics import FeederMetrics


class Notifier(base.Child):
    address = addresses.NOTIFIER
    name = "notifier"

    def __init__(self, config, workers=4, metrics=None, idle_after=IDLE_AFTER):
        super().__init__()
        self.config = config
        self.metrics = metrics or FeederMetrics()
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="notify")
        self.lock = threading.Lock()
        self.pending = {}  # job id -> deque of Notify still to deliver, in order
        self.stopping = threading.Event()
        self.delivered = 0
        self.failed = 0
        self.key = signing.secret_bytes(config.webhook_secret) if config.webhook_secret else None
        self.connections = ConnectionPool(netguard.AddressPolicy.from_config(config), idle_after=idle_after)
        self.idle_timer = None  # tells CloseIdle while connections are kept; guarded by lock

    def on_stop(self):
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            if self.idle_timer is not None:
                self.idle_timer.cancel()
                self.idle_timer = None
        self.connections.close()

    def on_receive(self, message):
        if isinstance(message, Notify):
            with self.lock:
                queue = self.pending.get(message.job_id)
                if queue is not None:
                    # queue[0] is being delivered; a later progress event
                    # not yet sent is out of date.
                    if len(queue) > 1 and _is_progress(queue[-1]) and _is_progress(message):
                        replaced, queue[-1] = queue[-1], message
                        self._ack(replaced)
                    else:
                        queue.append(message)  # the running chain of this job takes it
                    return
                self.pending[message.job_id] = collections.deque([message])
            self.pool.submit(self._drain, message.job_id)
        elif isinstance(message, CloseIdle):
            with self.lock:
                self.idle_timer = None
            self._close_idle_later(self.connections.close_idle())
        else:
            super().on_receive(message)

    def _close_idle_later(self, delay):
        """Have CloseIdle told in ``delay`` seconds (None: nothing is kept),
        unless it already will be."""
        with self.lock:
            if delay is None or self.idle_timer is not None or self.stopping.is_set():
                return
            # a little after the oldest is due, so that it is closed then
            self.idle_timer = threading.Timer(delay + 0.05, base.tell, (addresses.NOTIFIER, CloseIdle()))
            self.idle_timer.daemon = True
            self.idle_timer.start()

    def _drain(self, job_id):
        while True:
            with self.lock:
                queue = self.pending[job_id]
                if not queue:
                    del self.pending[job_id]
                    break
                message = queue[0]
            data, content_type = notify.encode(message.body, message.fmt)
            config = self.config
            record = notify.deliver(
                self.connections, message.url, data, content_type,
                msg_id=notify.message_id(), state=message.body.get("state"),
                attempts=config.notify_attempts, timeout=config.notify_timeout,
                backoff=config.notify_backoff, backoff_max=config.notify_backoff_max,
                log=self.log.bind(job_id=job_id), key=self.key, stopping=self.stopping,
            )
            # tell: the JobTracker writes the record; nothing waits for it.
            base.tell(addresses.JOB_TRACKER, Notified(job_id, record))
            with self.lock:
                queue.popleft()
                if "delivered_at" in record:
                    self.delivered += 1
                else:
                    self.failed += 1
            self.metrics.webhook_ended("delivered_at" in record)
            # delivered or given up on: either way the change is dealt with
            self._ack(message)
        if self.connections.idle_count():
            self._close_idle_later(self.connections.idle_after)

    def _ack(self, message):
        if message.receipt is not None and not self.stopping.is_set():
            base.tell(addresses.DISPATCHER, Ack(message.receipt))


def _is_progress(message):
    return message.body.get("event") == "job.progress"
