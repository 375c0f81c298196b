"""What an encoder does with one job, as plain synchronous steps.

The encoder actors (``nommer/actors/encoder/``) call these in order:
:meth:`EncoderCore.claim` → :meth:`fetch` → :meth:`encode` → :meth:`upload`,
and :meth:`fail`, :meth:`abort` or :meth:`release` when a step cannot go on.
A job's queue message is deleted only after its final state is written.
"""

import dataclasses
import json
import pathlib
import random
import shutil
import threading
import time
import urllib.parse

from nommer.core import credentials, ffmpeg, log
from nommer.core.errors import (
    Canceled,
    InvalidInput,
    JobFailed,
    NommerError,
    NotFound,
    StaleWrite,
    TransientError,
)
from nommer.core.jobs import RUNNING_STATES, State, age_seconds, utcnow
from nommer.core.retrying import is_our_write
from nommer.core.storage import redact

TRANSIENT_RETRIES = 4


@dataclasses.dataclass(eq=False)
class Task:
    """One job in flight on this encoder."""

    job: object  # the latest Job this encoder wrote or read
    receipt: str
    workdir: pathlib.Path
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    release_on_cancel: bool = False  # graceful stop: hand the job back, not fail it
    source_path: pathlib.Path | None = None
    local_outputs: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    run: object = None  # the FfmpegRun in progress, to stop it on cancel
    last_progress_write: float = 0.0

    @property
    def id(self):
        return self.job.id

    def stop(self):
        """Stop this task's work from any thread."""
        self.cancel.set()
        run = self.run
        if run is not None:
            run.cancel()


def message_body(job_id):
    return json.dumps({"job_id": job_id})


def job_id_of(body):
    try:
        data = json.loads(body)
        return str(data["job_id"])
    except (ValueError, KeyError, TypeError):
        return None


class EncoderCore:
    def __init__(self, config, backends, encoder_id):
        self.config = config
        self.store = backends.store
        self.new_jobs = backends.new_jobs
        self.state_changes = backends.state_changes
        self.storage = backends.storage
        self.encoder_id = encoder_id
        self.ffmpeg_exe = config.ffmpeg_exe()
        self.tasks = {}
        self._tasks_lock = threading.Lock()
        self.log = log.get("nommer.encoder", encoder_id=encoder_id)
        self.box = credentials.SecretBox.from_config(config)
        self.stats = {"finished": 0, "failed": 0, "released": 0}

    # -- bookkeeping --------------------------------------------------------

    def in_flight(self):
        with self._tasks_lock:
            return list(self.tasks.values())

    def _forget(self, task):
        with self._tasks_lock:
            self.tasks.pop(task.id, None)
        shutil.rmtree(task.workdir, ignore_errors=True)

    def report(self, job):
        """Tell the feeder, through the state-change queue, that ``job`` moved."""
        body = json.dumps({"job_id": job.id, "state": job.state.value,
                           "details": job.details, "at": job.updated_at})
        try:
            self.state_changes.send(body)
        except Exception:  # the store holds the truth; the feeder re-reads it
            self.log.exception("state change not queued", job_id=job.id)

    def write(self, task, change):
        """Apply ``change(job) -> new job`` to the task's job, conditionally.

        A lost race is retried on the fresh record while the job is still this
        encoder's; when it was canceled, re-queued or taken by another encoder
        meanwhile, raises Canceled.
        """
        with task.lock:
            job = task.job
            for _ in range(20):
                if job.state not in RUNNING_STATES or job.encoder_id != self.encoder_id:
                    task.cancel.set()
                    raise Canceled(f"job {job.id} is now {job.state}; work stopped")
                attempted = change(job)
                try:
                    task.job = self.store.update(attempted)
                    return task.job
                except StaleWrite:
                    job = task.job = self.store.get(job.id)
                    if is_our_write(job, dataclasses.replace(attempted, version=attempted.version + 1)):
                        return job  # a retry below us lost to our own first try
            raise Canceled(f"job {job.id} kept changing under this encoder")

    def set_state(self, task, state, **fields):
        def change(job):
            if job.state == state:
                # Re-read after a lost race: only this encoder moves its job
                # forward, so it is there already by this very change.
                return job.with_changes(heartbeat_at=utcnow(), **fields)
            return job.transition(state, heartbeat_at=utcnow(), **fields)

        job = self.write(task, change)
        self.report(job)
        return job

    # -- steps ----------------------------------------------------------------

    def claim(self, message):
        """Take the job of a queue message with a conditional write.

        Returns a Task, or None when there is nothing to do: the message was
        deleted (job gone or finished) or left for its current owner.
        """
        job_id = job_id_of(message.body)
        jlog = self.log.bind(job_id=job_id)
        if job_id is None:
            jlog.warning("unreadable queue message dropped", body=message.body[:200])
            self.new_jobs.delete(message.receipt)
            return None
        for _ in range(20):
            try:
                job = self.store.get(job_id)
            except NotFound:
                jlog.warning("queued job does not exist; message dropped")
                self.new_jobs.delete(message.receipt)
                return None
            if job.is_final:
                # Its encoder may have died between writing the final state
                # and reporting it: report it (again) before the message goes.
                self.report(job)
                self.new_jobs.delete(message.receipt)
                return None
            with self._tasks_lock:
                if job_id in self.tasks:
                    return None  # a second delivery of a job already here
            if job.state in RUNNING_STATES:
                silent = age_seconds(job.heartbeat_at or job.updated_at)
                if silent is not None and silent < self.config.lease_seconds:
                    return None  # its encoder is alive; the message comes back later
                try:
                    self.store.update(job.transition(
                        State.PENDING, encoder_id=None,
                        details=f"encoder {job.encoder_id} stopped answering; trying again"))
                except StaleWrite:
                    pass
                continue
            if job.attempt >= self.config.max_attempts:
                try:
                    gave_up = self.store.update(job.transition(
                        State.ERROR, error_code="GAVE_UP",
                        details=f"gave up after {job.attempt} attempts: {job.details}"))
                except StaleWrite:
                    continue
                self.report(gave_up)
                self.new_jobs.delete(message.receipt)
                return None
            try:
                job = self.store.update(job.transition(
                    State.DOWNLOADING, encoder_id=self.encoder_id,
                    attempt=job.attempt + 1, progress=0, details="",
                    error_code=None, heartbeat_at=utcnow()))
            except StaleWrite:
                continue
            workdir = self.config.work_dir / f"{job.id}-{job.attempt}-{self.encoder_id}"
            task = Task(job=job, receipt=message.receipt, workdir=workdir)
            with self._tasks_lock:
                self.tasks[job.id] = task
            jlog.info("job claimed", attempt=job.attempt, source=redact(job.source))
            self.report(job)
            return task
        return None

    def fetch(self, task):
        """Download the source into the work folder and probe it; → ENCODING."""
        job = task.job
        uris = credentials.real_uris(self.box, job)  # the job holds them with secrets hidden
        # A destination this encoder cannot write fails the job now, not
        # after the encode.
        for index, destination in enumerate(uris["destinations"]):
            try:
                self.storage.check(destination, write=True,
                                   field=f"outputs[{index}].destination")
            except InvalidInput as e:
                raise JobFailed(str(e), code="DESTINATION_INVALID") from None
        task.workdir.mkdir(parents=True, exist_ok=True)
        suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(job.source).path).suffix
        task.source_path = task.workdir / f"source{suffix[:10]}"
        self._retrying(
            lambda: self.storage.fetch(uris["source"], task.source_path, cancel=task.cancel),
            task, "download",
        )
        probe = ffmpeg.probe(self.ffmpeg_exe, task.source_path)
        self.set_state(task, State.ENCODING, probe=probe, progress=0)

    def encode(self, task):
        """Run ffmpeg for every output, with progress; → UPLOADING."""
        job = task.job
        duration = (job.probe or {}).get("duration")
        count = len(job.outputs)
        task.local_outputs = []
        for index, output in enumerate(job.outputs):
            suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(output["destination"]).path).suffix
            target = task.workdir / f"output-{index}{suffix or '.mp4'}"
            plan = ffmpeg.build_commands(
                self.ffmpeg_exe, task.source_path, target, output, task.workdir,
                field=f"outputs[{index}]",
            )
            task.notes.extend(plan.notes)

            def on_progress(percent, index=index):
                self.progress(task, int((index * 100 + percent) / count))

            task.run = ffmpeg.PlanRun(plan, duration, on_progress)
            if task.cancel.is_set():  # stopped before the run could be reached
                raise Canceled("work on the job stopped")
            try:
                task.run.run()
            finally:
                task.run = None
            task.local_outputs.append(target)
        self.set_state(task, State.UPLOADING, progress=100)

    def progress(self, task, percent):
        """Record progress, at most every ``progress_interval`` seconds."""
        if task.cancel.is_set():
            raise Canceled("work on the job stopped")
        now = time.monotonic()
        if now - task.last_progress_write < self.config.progress_interval and percent < 100:
            return
        task.last_progress_write = now
        self.write(task, lambda j: j.with_changes(progress=percent, heartbeat_at=utcnow()))

    def upload(self, task):
        """Store every output at its destination; → FINISHED, then delete the message."""
        job = task.job
        destinations = credentials.real_uris(self.box, job)["destinations"]
        outputs = []
        for output, local, destination in zip(job.outputs, task.local_outputs, destinations):
            size = self._retrying(
                lambda: self.storage.put(local, destination, cancel=task.cancel),
                task, "upload",
            )
            outputs.append({**output, "result": {"size": size}})
        details = "; ".join(dict.fromkeys(task.notes))  # keep order, drop repeats
        job = self.set_state(task, State.FINISHED, outputs=outputs, details=details)
        self.new_jobs.delete(task.receipt)
        self.stats["finished"] += 1
        self.log.info("job finished", job_id=job.id)
        self._forget(task)

    def heartbeat_jobs(self):
        """Extend the queue lease of each job in flight and mark it alive."""
        for task in self.in_flight():
            self.new_jobs.extend(task.receipt, self.config.lease_seconds)
            try:
                self.write(task, lambda j: j.with_changes(heartbeat_at=utcnow()))
            except Canceled:
                task.stop()
            except NotFound:
                task.stop()

    def check_canceled(self):
        """Stop the work of any job in flight that was canceled, re-queued or
        taken by another encoder."""
        for task in self.in_flight():
            try:
                job = self.store.get(task.id)
            except NotFound:
                task.stop()
                continue
            if job.state not in RUNNING_STATES or job.encoder_id != self.encoder_id:
                task.stop()

    # -- endings ----------------------------------------------------------------

    def end(self, task, error):
        """Close a task whose step raised ``error``: release, abort or fail it."""
        if isinstance(error, Canceled):
            if task.release_on_cancel:
                self.release(task)
            else:
                self.abort(task)
        elif isinstance(error, NommerError):
            self.fail(task, error)
        else:
            self.log.error("unexpected failure", job_id=task.id, exc_info=error)
            self.fail(task, JobFailed(f"internal error: {type(error).__name__}: {error}"))

    def fail(self, task, error):
        """The job ends in ERROR with a readable reason; the message goes."""
        code = getattr(error, "code", None) or "ERROR"
        details = credentials.scrub("; ".join([str(error), *dict.fromkeys(task.notes)]))
        try:
            self.set_state(task, State.ERROR, details=details, error_code=code)
        except Canceled:
            return self.abort(task)
        self.new_jobs.delete(task.receipt)
        self.stats["failed"] += 1
        self.log.warning("job failed", job_id=task.id, error_code=code, details=str(error))
        self._forget(task)

    def abort(self, task):
        """Work stopped because the job is no longer this encoder's."""
        try:
            job = self.store.get(task.id)
        except NotFound:
            job = None
        if job is None or job.is_final:
            self.new_jobs.delete(task.receipt)
        else:
            self.new_jobs.release(task.receipt)
        self.log.info("job work stopped", job_id=task.id,
                      state=job.state.value if job else "deleted")
        self._forget(task)

    def release(self, task):
        """Hand an unfinished job back to the queue (graceful stop)."""
        try:
            job = self.write(task, lambda j: j.transition(
                State.PENDING, encoder_id=None, attempt=max(0, j.attempt - 1),
                details=f"released by encoder {self.encoder_id} when it stopped"))
            self.report(job)
        except Canceled:
            return self.abort(task)
        self.new_jobs.release(task.receipt)
        self.stats["released"] += 1
        self.log.info("job released", job_id=task.id)
        self._forget(task)

    def _retrying(self, step, task, what):
        """Run ``step`` and retry TransientError with backoff and jitter."""
        delay = 0.5
        for attempt in range(1, TRANSIENT_RETRIES + 1):
            try:
                return step()
            except TransientError as e:
                if attempt == TRANSIENT_RETRIES:
                    code = "SOURCE_UNREADABLE" if what == "download" else "UPLOAD_FAILED"
                    raise JobFailed(f"{what} failed {attempt} times: {e}", code=code) from None
                self.log.warning(f"{what} failed; retrying", job_id=task.id, error=str(e))
                if task.cancel.wait(delay * (1 + random.random())):
                    raise Canceled("work on the job stopped") from None
                delay *= 2
