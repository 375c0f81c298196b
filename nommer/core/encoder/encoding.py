"""What an encoder does with one job, as plain synchronous steps.

The encoder actors (``nommer/actors/encoder/``) call these in order:
:meth:`EncoderCore.claim` → :meth:`fetch` → :meth:`encode` → :meth:`upload`,
and :meth:`fail`, :meth:`abort` or :meth:`release` when a step cannot go on.
A job's queue message is deleted only after its final state is written.
"""

import dataclasses
import json
import pathlib
import shutil
import threading
import time
import urllib.parse

from nommer.core.encoder import confinement

from nommer.core.security import credentials

from nommer.core import ffmpeg, log

from nommer.core.model import results
from nommer.core.backoff import Backoff
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import progress as progress_mod
from nommer.core.model.error_codes import job_error_code
from nommer.core.ffmpeg.captions import caption_format
from nommer.core.ffmpeg import extras as extras_mod
from nommer.core.ffmpeg import loudness, measuring
from nommer.core.ffmpeg.command import Tuning
from nommer.core.ffmpeg.probe import has_packets
from nommer.core.ffmpeg.runner import FfmpegRun
from nommer.core.ffmpeg.sandbox import landlock_abi
from nommer.core.errors import (
    Canceled,
    InvalidInput,
    JobFailed,
    NommerError,
    NotFound,
    StaleWrite,
    TransientError,
)
from nommer.core.model.jobs import RUNNING_STATES, State, age_seconds, utcnow
from nommer.core.retrying import is_our_write
from nommer.core.ports.storage import redact

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
    probe: dict | None = None
    # The job's outputs as this encoder sees them, each with its state; every
    # write of the job carries them.
    outputs: list = dataclasses.field(default_factory=list)
    targets: dict = dataclasses.field(default_factory=dict)  # output index -> ffmpeg.Target
    facts: dict = dataclasses.field(default_factory=dict)  # output index -> results.describe()
    phases: dict = dataclasses.field(default_factory=progress_mod.empty)
    notes: list = dataclasses.field(default_factory=list)
    # output index -> [(local path, "srt" or "webvtt", language)]: its caption files, downloaded
    captions: dict = dataclasses.field(default_factory=dict)
    # output index -> what was measured or chosen before its encode (extras.py)
    before: dict = dataclasses.field(default_factory=dict)
    tuning: dict = dataclasses.field(default_factory=dict)  # output index -> ffmpeg Tuning
    run: object = None  # the PlanRun in progress, to stop it on cancel
    landlock: bool = True  # whether its ffmpeg runs are confined (confinement.decide)
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


class _Tools:
    """How the extra options' measurements run ffmpeg (see
    ffmpeg/measuring.py): confined like the encode, in the work folder,
    stopped when the job's work stops."""

    def __init__(self, core, task):
        self.core, self.task = core, task
        self.workdir = str(task.workdir)

    def run(self, args):
        task = self.task
        limit = self.core.config.encode_timeout or None
        argv = [self.core.ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *args]
        task.run = FfmpegRun(argv, cwd=self.workdir, sandbox=self.core._sandbox(task), timeout=limit)
        if task.cancel.is_set():
            task.run = None
            raise Canceled("work on the job stopped")
        try:
            return task.run.run().stderr_tail
        finally:
            task.run = None

    def size_of(self, path):
        info = ffmpeg.probe(self.core.ffmpeg_exe, path, own=True, sandbox=self.core._sandbox(self.task))
        video = next(s for s in info["streams"] if s["type"] == "video")
        return video["width"], video["height"]


def _notes(task):
    return tuple(credentials.scrub(n) for n in dict.fromkeys(task.notes))  # in order, once each


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
        self.presets = ffmpeg.catalogue(config.presets)
        self.tasks = {}
        self._tasks_lock = threading.Lock()
        self.log = log.get("nommer.encoder", encoder_id=encoder_id)
        self.box = credentials.SecretBox.from_config(config)
        self.landlock_abi = landlock_abi()
        confinement.check_start(config.confinement, self.landlock_abi, config.confinement_read_paths)
        self.stats = {"finished": 0, "failed": 0, "released": 0}
        # When a call to the job store or the queue last worked (monotonic);
        # the Keeper gives up after lost_contact_timeout without one.
        self.last_contact = time.monotonic()
        # False once the encoder stops taking jobs (a spot interruption notice).
        self.intake_open = True
        self.market = ""  # "spot" or "on-demand" on EC2, as the metadata service says
        self.interruption = None  # the spot Notice's dict once one came

    def heartbeat_fields(self):
        """What the heartbeat record says of this encoder's work, besides pid and start."""
        fields = {"jobs": [t.id for t in self.in_flight()], "slots": self.config.jobs_per_encoder,
                  **self.stats}
        if self.market:
            fields["market"] = self.market
        if self.interruption:
            fields["interrupted"] = dict(self.interruption)
        return fields

    def made_contact(self):
        self.last_contact = time.monotonic()

    # -- bookkeeping --------------------------------------------------------

    def in_flight(self):
        with self._tasks_lock:
            return list(self.tasks.values())

    def _forget(self, task):
        with self._tasks_lock:
            self.tasks.pop(task.id, None)
        shutil.rmtree(task.workdir, ignore_errors=True)

    def report(self, job, event="job.state_changed"):
        """Tell the feeder, through the state-change queue, that ``job`` moved
        (or, with event ``job.progress``, got further)."""
        change = {"job_id": job.id, "state": job.state.value, "details": job.details,
                  "at": job.updated_at}
        if event != "job.state_changed":
            change.update(event=event, progress=job.progress, phases=job.phases,
                          phase=progress_mod.phase_of(job.state))
        body = json.dumps(change)
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
        """Move the job to ``state``, with the task's outputs and progress."""
        fields.setdefault("outputs", [dict(o) for o in task.outputs] or task.job.outputs)
        if state != State.FINISHED:
            fields.setdefault("phases", dict(task.phases))
            fields.setdefault("progress", progress_mod.overall(task.phases))

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
            # A new attempt starts from nothing: outputs back to PENDING.
            fresh = [{k: v for k, v in o.items() if k not in ("result", "error", "error_code", "reason")}
                     | {"state": outputs_mod.PENDING} for o in job.outputs]
            try:
                job = self.store.update(job.transition(
                    State.DOWNLOADING, encoder_id=self.encoder_id,
                    attempt=job.attempt + 1, progress=0, phases=progress_mod.empty(),
                    outputs=fresh, details="", error_code=None, heartbeat_at=utcnow()))
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
        """Check the outputs, download the source and probe it; → ENCODING.

        A job that cannot succeed (a destination this encoder cannot write, a
        source of zero seconds, a preset that needs a stream the source lacks)
        fails here, before any encoding.
        """
        job = task.job
        uris = credentials.real_uris(self.box, job)  # the job holds them with secrets hidden
        task.outputs = [dict(o) for o in job.outputs]
        uses_options = False
        for index, output in enumerate(job.outputs):
            field = f"outputs[{index}]"
            try:
                requested = ffmpeg.validate_output(output, field, self.presets)
            except InvalidInput as e:
                raise JobFailed(str(e), code="OUTPUT_INVALID") from None
            uses_options = uses_options or requested.preset is None
            try:
                self.storage.check(uris["destinations"][index], write=True,
                                   field=f"{field}.destination", folder=requested.writes_folder)
            except InvalidInput as e:
                raise JobFailed(str(e), code="DESTINATION_INVALID") from None
        decision = confinement.decide(self.config.confinement, self.landlock_abi, uses_options)
        if decision.refuse:
            raise JobFailed(decision.refuse, code="CONFINEMENT_UNAVAILABLE")
        if decision.warning:
            self.log.warning(decision.warning, job_id=task.id)
        task.landlock = decision.landlock
        task.workdir.mkdir(parents=True, exist_ok=True)
        suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(job.source).path).suffix
        task.source_path = task.workdir / f"source{suffix[:10]}"

        def downloaded(done, total):
            if total:
                self.progress(task, "download", done * 100 // total)

        self._retrying(
            lambda: self.storage.fetch(uris["source"], task.source_path, progress=downloaded,
                                       cancel=task.cancel),
            task, "download",
        )
        # ffmpeg reads the untrusted source here first: confined already.
        task.probe = ffmpeg.probe(self.ffmpeg_exe, task.source_path, sandbox=self._sandbox(task))
        self._check_source(task)
        self._fetch_captions(task)
        task.phases["download"] = 100
        self.set_state(task, State.ENCODING, probe=task.probe)

    def _fetch_captions(self, task):
        """Download the caption files of the outputs' ``captions`` options
        and check that each is SubRip or WebVTT text (CAPTION_UNREADABLE,
        CAPTION_INVALID otherwise)."""
        for index, output in enumerate(task.outputs):
            for j, caption in enumerate(output.get("captions") or ()):
                field = f"outputs[{index}].captions[{j}].uri"
                path = task.workdir / f"caption-{index}-{j}.txt"
                try:
                    self.storage.check(caption["uri"], write=False, field=field)
                    self._retrying(
                        lambda uri=caption["uri"]: self.storage.fetch(uri, path, cancel=task.cancel),
                        task, "download")
                except (InvalidInput, JobFailed) as e:
                    raise JobFailed(f"{field} could not be read: {e}", code="CAPTION_UNREADABLE") from None
                try:
                    fmt = caption_format(path)
                except JobFailed as e:
                    raise JobFailed(f"{field}: {e}", code=e.code) from None
                task.captions.setdefault(index, []).append((str(path), fmt, caption["language"]))

    def _check_source(self, task):
        duration = task.probe.get("duration")
        empty = duration < 0.001 if duration is not None else not has_packets(
            self.ffmpeg_exe, task.source_path, sandbox=self._sandbox(task))
        if empty:
            raise JobFailed("the source lasts 0 seconds: there is nothing to encode", code="ZERO_DURATION")
        for index, output in enumerate(task.outputs):
            try:
                ffmpeg.check_source(output, task.probe, self.presets)
            except JobFailed as e:
                task.outputs[index] = {**output, "state": outputs_mod.ERROR,
                                       "error_code": e.code, "error": str(e)}
        failed = outputs_mod.failures(task.outputs)
        if failed:
            raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])

    def encode(self, task):
        """Make every output: preset outputs in one ffmpeg run, the others
        one run each; probe what was made; → UPLOADING.

        When a run of several outputs fails, each of its outputs is tried on
        its own, so that one bad output does not take the others down. A
        failed output is marked ERROR and the rest go on; the job fails here
        when none is left.
        """
        job = task.job
        duration = (task.probe or job.probe or {}).get("duration")
        tuning = task.tuning = self._prepare(task, duration)
        plans, targets = ffmpeg.plan_job(self.ffmpeg_exe, task.source_path, task.probe or job.probe,
                                         task.outputs, task.workdir, self.presets, tuning,
                                         captions=task.captions)
        task.targets = {t.index: t for t in targets}
        for plan in plans:
            task.notes.extend(plan.notes)
        limit, limit_code, limit_name = confinement.encode_limit(
            self.config.encode_timeout, self.config.encode_time_factor,
            self.config.encode_time_slack, duration)
        deadline = time.monotonic() + limit if limit else None
        sandbox = self._sandbox(task)
        total, done = len(task.outputs), 0
        queue = list(plans)
        while queue:
            plan = queue.pop(0)
            self._mark(task, plan.outputs, outputs_mod.ENCODING)
            try:
                self._run(task, plan, duration, deadline, done, total, sandbox)
            except JobFailed as e:
                # Limits of the whole job: trying outputs one by one cannot help.
                if e.code == "TIMED_OUT":
                    self._mark(task, plan.outputs, outputs_mod.ERROR, write=False, error_code=limit_code,
                               error=f"encoding took longer than {limit_name}")
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=limit_code) from None
                if e.code in ("OUTPUT_TOO_LARGE", "CONFINEMENT_UNAVAILABLE"):
                    self._mark(task, plan.outputs, outputs_mod.ERROR, write=False, error_code=e.code,
                               error=str(e))
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=e.code) from None
                if len(plan.outputs) > 1:
                    self.log.warning("shared run failed; trying its outputs one by one",
                                     job_id=task.id, error=str(e)[:500])
                    queue[:0] = [self._alone(task, i) for i in plan.outputs]
                    continue
                self._mark(task, plan.outputs, outputs_mod.ERROR, error_code=job_error_code(e), error=str(e))
            else:
                for index in plan.outputs:
                    self._describe(task, index)
                    self._check(task, index)
            done += len(plan.outputs)
        made = [i for i in task.targets if i in task.facts]
        failed = outputs_mod.failures(task.outputs)
        if not made and failed:
            raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])
        for index in made:
            task.outputs[index] = {**task.outputs[index], "state": outputs_mod.UPLOADING}
        task.phases["encode"] = 100
        self.set_state(task, State.UPLOADING)

    def _describe(self, task, index):
        """Probe what output ``index`` became; an output ffmpeg left unreadable fails."""
        try:
            task.facts[index] = results.describe(self.ffmpeg_exe, task.targets[index],
                                                 sandbox=self._sandbox(task))
        except JobFailed as e:
            self._mark(task, [index], outputs_mod.ERROR, error_code="ENCODE_FAILED",
                       error=f"ffmpeg finished but its output cannot be read: {e}")

    def _alone(self, task, index):
        """The plan that makes output ``index`` by itself, over a clean target."""
        target = pathlib.Path(task.targets[index].path)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        plan = ffmpeg.build_commands(
            self.ffmpeg_exe, task.source_path, target, task.outputs[index],
            task.workdir / f"alone-{index}", f"outputs[{index}]", task.probe, self.presets,
            captions=task.captions.get(index, ()),
            tuning=task.tuning.get(index),
        )
        return dataclasses.replace(plan, outputs=(index,))

    # -- extra output options (ffmpeg/extras.py) ---------------------------------

    def _prepare(self, task, duration):
        """Measure and choose what the outputs' extra options need before
        the encode: the source's loudness, the CRF of a VMAF target.
        Returns {output index: Tuning}."""
        tuning, measured_source = {}, {}  # the source is measured once per loudness asked for
        tools = _Tools(self, task)
        for index, output in enumerate(task.outputs):
            requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
            wanted = requested.extras
            if not wanted or outputs_mod.state_of(output) != outputs_mod.PENDING:
                continue
            before = task.before[index] = {}
            crf = audio = None
            if wanted.target_vmaf is not None:
                choice = measuring.find_crf(tools, task.source_path, requested.preset, duration,
                                           wanted.target_vmaf, f"o{index}")
                crf = choice.crf
                before["target_vmaf"] = {"target": wanted.target_vmaf, **choice.report()}
            if wanted.loudness:
                if wanted.loudness not in measured_source:
                    measured_source[wanted.loudness] = measuring.measure_loudness(
                        tools, task.source_path, wanted.loudness)
                measured = measured_source[wanted.loudness]
                before["loudness"] = measured
                if measured is None:
                    task.notes.append(f"outputs[{index}].loudness: the source's audio is silent; left as it is")
                elif not wanted.loudness.measure_only:
                    audio = loudness.correct_filter(wanted.loudness, measured)
            if crf is not None or audio is not None:
                tuning[index] = Tuning(crf=crf, audio_filter=audio)
        return tuning

    def _check(self, task, index):
        """Measure output ``index`` as its extra options ask, and skip it
        (keep_if_smaller) when it is larger than the source or misses its
        quality target."""
        target = task.targets[index]
        wanted = target.requested.extras
        facts = task.facts.get(index)
        if not wanted or facts is None:
            return
        before = task.before.get(index, {})
        tools = _Tools(self, task)
        try:
            if wanted.loudness and before.get("loudness"):
                after = measuring.measure_loudness(tools, target.path, wanted.loudness)
                if after is not None:
                    facts["loudness"] = loudness.report(wanted.loudness, before["loudness"], after)
            if wanted.metrics:
                facts["quality"] = measuring.quality_report(
                    tools, target.path, task.source_path, wanted.metrics, facts["width"], facts["height"],
                    f"o{index}")
            if "target_vmaf" in before:
                facts["target_vmaf"] = {**before["target_vmaf"],
                                        "measured_vmaf": facts["quality"]["vmaf"]["mean"]}
        except JobFailed as e:
            if e.code != "ENCODE_FAILED" or not wanted.keep_if_smaller:
                task.facts.pop(index, None)
                self._mark(task, [index], outputs_mod.ERROR, error_code=e.code,
                           error=f"the output could not be measured: {e}")
                return
            return self._skip(task, index, f"its quality check failed: {e}")
        if wanted.keep_if_smaller:
            reason = extras_mod.skip_reason(wanted, facts, task.source_path.stat().st_size)
            if reason:
                self._skip(task, index, reason)

    def _skip(self, task, index, reason):
        """End output ``index`` SKIPPED: nothing of it is stored."""
        task.facts.pop(index, None)
        path = pathlib.Path(task.targets[index].path)
        path.unlink(missing_ok=True)
        self.log.info("output skipped", job_id=task.id, output=index, reason=reason)
        self._mark(task, [index], outputs_mod.SKIPPED, reason=reason)

    def _sandbox(self, task):
        """How the job's ffmpeg runs are confined: writing only in its work
        folder, reading only there (the source is downloaded there) and
        ``confinement_read_paths``, within ``max_output_bytes``."""
        source = task.source_path
        return ffmpeg.Sandbox(
            write=(str(task.workdir),), read=tuple(self.config.confinement_read_paths),
            landlock=task.landlock, max_bytes=self.config.max_output_bytes or None,
            uncounted=source.stat().st_size if source is not None and source.exists() else 0,
        )

    def _run(self, task, plan, duration, deadline, done, total, sandbox=None):
        """Run one plan, reporting its share of the encode phase."""
        weight = len(plan.outputs)

        def on_progress(percent):
            self.progress(task, "encode", (done * 100 + weight * percent) // total)

        task.run = ffmpeg.PlanRun(plan, duration, on_progress, deadline=deadline, sandbox=sandbox)
        if task.cancel.is_set():  # stopped before the run could be reached
            task.run = None
            raise Canceled("work on the job stopped")
        try:
            task.run.run()
        finally:
            task.run = None

    def _mark(self, task, indices, state, write=True, **fields):
        """Set the state of outputs ``indices`` (and write it, unless told not to)."""
        for index in indices:
            task.outputs[index] = {**task.outputs[index], "state": state, **fields}
        if write:
            outputs = [dict(o) for o in task.outputs]
            self.write(task, lambda j: j.with_changes(outputs=outputs, heartbeat_at=utcnow()))

    def progress(self, task, phase, percent):
        """Record ``percent`` of ``phase``; write it at most every
        ``progress_interval`` seconds (and tell the feeder, for jobs that
        asked for progress events)."""
        if task.cancel.is_set():
            raise Canceled("work on the job stopped")
        percent = max(0, min(100, int(percent)))
        if percent <= task.phases.get(phase, 0):
            return  # never backwards
        task.phases[phase] = percent
        now = time.monotonic()
        if now - task.last_progress_write < self.config.progress_interval:
            return  # kept; the next write carries it
        task.last_progress_write = now
        phases = dict(task.phases)
        job = self.write(task, lambda j: j.with_changes(
            progress=progress_mod.overall(phases), phases=phases, heartbeat_at=utcnow()))
        if job.progress_events and job.notify_url:
            self.report(job, event="job.progress")

    def upload(self, task):
        """Store every output made at its destination; → FINISHED (or ERROR
        when an output failed), then delete the message."""
        destinations = credentials.real_uris(self.box, task.job)["destinations"]
        uploading = [i for i, o in enumerate(task.outputs) if o.get("state") == outputs_mod.UPLOADING]
        total = sum(task.facts[i]["size"] for i in uploading) or 1
        before = 0
        for index in uploading:
            output, target = task.outputs[index], task.targets[index]
            destination = destinations[index]  # with its credentials, if any

            def uploaded(done, _total, before=before):
                self.progress(task, "upload", (before + done) * 100 // total)

            put = self.storage.put_folder if target.folder else self.storage.put
            about = {"job_id": task.id, "output": index,
                     **({"preset": output["preset"]} if output.get("preset") else {})}
            try:
                stored = self._retrying(
                    lambda put=put, path=target.path, uri=destination, report=uploaded: put(
                        path, uri, progress=report, cancel=task.cancel),
                    task, "upload")
                if not target.folder:
                    stored = [(destination, stored)]  # put answers the byte count
                # A folder output's manifest is written after its files.
                made = self._retrying(
                    lambda facts=task.facts[index], stored=stored, uri=destination, about=about:
                        results.finish(self.storage, facts, stored, uri,
                                       task.workdir / f"manifest-{index}.json", cancel=task.cancel,
                                       about=about),
                    task, "upload")
            except JobFailed as e:
                self._mark(task, [index], outputs_mod.ERROR, error_code=e.code, error=str(e))
            else:
                self._mark(task, [index], outputs_mod.FINISHED, result=made)
            before += task.facts[index]["size"]
        failed = outputs_mod.failures(task.outputs)
        if failed:
            raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])
        task.phases["upload"] = 100
        job = self.set_state(task, State.FINISHED, details="", notes=_notes(task))
        self.new_jobs.delete(task.receipt)
        self.stats["finished"] += 1
        self.log.info("job finished", job_id=job.id, outputs=len(job.outputs))
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
            self.fail(task, JobFailed(f"internal error: {type(error).__name__}: {error}",
                                      code="INTERNAL_ERROR"))

    def fail(self, task, error):
        """The job ends in ERROR with a readable reason and a stable code; the message goes."""
        code = job_error_code(error)
        fields = {"details": credentials.scrub(str(error)), "error_code": code, "notes": _notes(task)}
        if task.probe is not None:
            fields["probe"] = task.probe
        try:
            self.set_state(task, State.ERROR, **fields)
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
        # A fresh message rather than this one made visible: a graceful stop
        # (a spot instance taken back) must not count toward the receives
        # after which SQS dead-letters a job. New first: a stop between the
        # two leaves a duplicate, which encoders drop, never nothing.
        self.new_jobs.send(message_body(task.id), priority=job.priority)
        self.new_jobs.delete(task.receipt)
        self.stats["released"] += 1
        self.log.info("job released", job_id=task.id)
        self._forget(task)

    def _retrying(self, step, task, what):
        """Run ``step`` and retry TransientError with backoff and jitter."""
        backoff = Backoff(0.75, jitter=1 / 3)  # from 0.5 to 1 s at first, as before
        for attempt in range(1, TRANSIENT_RETRIES + 1):
            try:
                return step()
            except TransientError as e:
                if attempt == TRANSIENT_RETRIES:
                    code = "SOURCE_UNREADABLE" if what == "download" else "UPLOAD_FAILED"
                    raise JobFailed(f"{what} failed {attempt} times: {e}", code=code) from None
                self.log.warning(f"{what} failed; retrying", job_id=task.id, error=str(e))
                if task.cancel.wait(backoff.delay(attempt)):
                    raise Canceled("work on the job stopped") from None
