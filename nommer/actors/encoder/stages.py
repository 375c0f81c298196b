"""Fetcher, Encoder and Uploader: each runs its step of a job in a worker
thread of its own pool, so the same stage of different jobs, and different
stages, overlap. A step that fails ends the job there (EncoderCore.end,
nommer/core/encoder/ending.py)."""

import concurrent.futures

import pykka

from nommer.actors import base

from nommer.actors.encoder.messages import Work
from nommer.core.errors import Canceled


class StageActor(base.ReportsStart, pykka.ThreadingActor):
    step_name = ""

    def __init__(self, core, slots, next_stage, slot_freed):
        super().__init__()
        self.core = core
        self.next_stage = next_stage  # ActorRef or None for the last stage
        self.slot_freed = slot_freed  # called with the job id when a job leaves the encoder
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=slots, thread_name_prefix=self.step_name
        )

    def step(self, task):
        raise NotImplementedError

    def on_receive(self, message):
        if isinstance(message, Work):
            self.pool.submit(self._run, message.task)

    def _run(self, task):
        try:
            if task.cancel.is_set():
                raise Canceled("work on the job stopped")
            self.step(task)
        except BaseException as error:  # every failure ends the job, none the encoder
            self.core.end(task, error)
            self._free(task)
            return
        if self.next_stage is None:
            self._free(task)
        else:
            self.next_stage.tell(Work(task))

    def _free(self, task):
        try:
            self.slot_freed(task.id)
        except pykka.ActorDeadError:
            pass  # the Puller has stopped: the encoder is stopping

    def on_stop(self):
        self.pool.shutdown(wait=True, cancel_futures=False)


class Fetcher(StageActor):
    step_name = "fetch"

    def step(self, task):
        self.core.fetch(task)


class Encoder(StageActor):
    step_name = "encode"

    def step(self, task):
        self.core.encode(task)


class Uploader(StageActor):
    step_name = "upload"

    def step(self, task):
        self.core.upload(task)
