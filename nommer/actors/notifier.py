"""The Notifier POSTs state changes to each job's notify_url: in order for
one job, in parallel across jobs, with retries and backoff, never blocking
any other actor. A progress event still waiting when a newer one comes is
replaced by it: a slow receiver gets the latest progress, not a backlog."""

import collections
import concurrent.futures
import threading

from nommer.actors import base
from nommer.actors.messages import Notify
from nommer.core import notify


class Notifier(base.Child):
    name = "notifier"

    def __init__(self, config, workers=4):
        super().__init__()
        self.config = config
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="notify")
        self.lock = threading.Lock()
        self.pending = {}  # job id -> deque of Notify still to deliver, in order
        self.stopping = threading.Event()
        self.delivered = 0
        self.failed = 0

    def on_stop(self):
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def on_receive(self, message):
        if isinstance(message, Notify):
            with self.lock:
                queue = self.pending.get(message.job_id)
                if queue is not None:
                    # queue[0] is being delivered; a later progress event
                    # not yet sent is out of date.
                    if len(queue) > 1 and _is_progress(queue[-1]) and _is_progress(message):
                        queue[-1] = message
                    else:
                        queue.append(message)  # the running chain of this job takes it
                    return
                self.pending[message.job_id] = collections.deque([message])
            self.pool.submit(self._drain, message.job_id)
        else:
            super().on_receive(message)

    def _drain(self, job_id):
        while True:
            with self.lock:
                queue = self.pending[job_id]
                if not queue:
                    del self.pending[job_id]
                    return
                message = queue[0]
            data, content_type = notify.encode(message.body, message.fmt)
            ok = notify.deliver(
                message.url, data, content_type, self.config.notify_attempts,
                self.config.notify_timeout, self.config.notify_backoff,
                self.log.bind(job_id=job_id), stopping=self.stopping,
            )
            with self.lock:
                queue.popleft()
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1


def _is_progress(message):
    return message.body.get("event") == "job.progress"
