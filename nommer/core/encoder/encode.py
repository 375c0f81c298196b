"""Encoding a fetched job: make every output, probe what was made;
ENCODING → UPLOADING. Runs in a thread of the Encoder's pool.

A job fetched without a probe (fetch.py: its source's container was read
instead, ``Task.guess``) is planned on that guess, and its first ffmpeg run
describes the source on its way (runner's ``on_header``). That description
is then the job's probe, checked as fetch.py checks a probe: a source that
cannot make the job fails it with the same codes. The guess holds when the
probe gives the same duration and the very same commands; otherwise the
run is stopped, its files go, and the job starts again from the probe (and
from the planner, as fetched jobs do).
"""

import dataclasses
import pathlib
import shutil
import time

from nommer.core import ffmpeg
from nommer.core.encoder import confinement
from nommer.core.encoder.fetch import check_source
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.probe import from_header
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import results
from nommer.core.model.error_codes import job_error_code
from nommer.core.model.jobs import State

# Limits of the whole job: trying its outputs one by one cannot help (nor
# when the source read in place was removed or replaced meanwhile).
_JOB_LIMITS = ("OUTPUT_TOO_LARGE", "CONFINEMENT_UNAVAILABLE", "SOURCE_UNREADABLE")


class _Refused(Exception):
    """The description of a guessed source fails the job: ``error``."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class _Unsure(Exception):
    """The description of a guessed source does not bear the guess out."""


class Encode:
    def __init__(self, config, presets, runs, extras, journal, log, planner=None):
        self.config = config
        self.presets = presets
        self.runs = runs
        self.extras = extras
        self.journal = journal
        self.log = log
        self.planner = planner  # planning.Planner: a guessed job may go out in pieces after all

    def __call__(self, task):
        """Make every output: preset outputs in one ffmpeg run, the others
        one run each; probe what was made; → UPLOADING.

        When a run of several outputs fails, each of its outputs is tried on
        its own, so that one bad output does not take the others down. A
        failed output is marked ERROR and the rest go on; the job fails here
        when none is left.
        """
        if task.guess is None or task.probe is not None:
            return self._encode(task, task.probe or task.job.probe)
        try:
            return self._encode(task, task.guess, guessed=True)
        except _Refused as e:
            raise e.error from None
        except _Unsure:
            self.log.info("source not as its container said; encoding again from its probe", job_id=task.id)
        self._start_over(task)
        if self.planner is not None and self.planner(task):
            return  # out in pieces (planning.py)
        return self._encode(task, task.probe)

    def _encode(self, task, probe, guessed=False):
        duration = (probe or {}).get("duration")
        tuning = task.tuning = self.extras.prepare(task, duration)
        plans, targets = ffmpeg.plan_job(self.runs.ffmpeg_exe, task.source_path, probe,
                                         task.outputs, task.workdir, self.presets, tuning,
                                         captions=task.captions)
        task.targets = {t.index: t for t in targets}
        on_header = self._header_check(task, probe, plans) if guessed else None
        first = plans[0] if guessed else None
        for plan in plans:
            task.notes.extend(plan.notes)
        limit, limit_code, limit_name = confinement.encode_limit(
            self.config.encode_timeout, self.config.encode_time_factor,
            self.config.encode_time_slack, duration)
        deadline = time.monotonic() + limit if limit else None
        sandbox = self.runs.sandbox(task)
        total, done = len(task.outputs), 0
        queue = list(plans)
        while queue:
            plan = queue.pop(0)
            self.journal.mark(task, plan.outputs, outputs_mod.ENCODING)
            try:
                try:
                    self._run(task, plan, duration, deadline, done, total, sandbox, on_header)
                finally:
                    on_header = None  # the first run's only
            except JobFailed as e:
                if e.code == "TIMED_OUT":
                    self.journal.mark(task, plan.outputs, outputs_mod.ERROR, write=False,
                                      error_code=limit_code, error=f"encoding took longer than {limit_name}")
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=limit_code) from None
                if e.code in _JOB_LIMITS:
                    self.journal.mark(task, plan.outputs, outputs_mod.ERROR, write=False,
                                      error_code=e.code, error=str(e))
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=e.code) from None
                if len(plan.outputs) > 1 and plan is first and task.probe is None:
                    # A shared run planned on a guess failed before it
                    # described the source: probe it before its outputs are
                    # planned again one by one, on the source as it is.
                    self._settle(task, probe, plans)
                if len(plan.outputs) > 1:
                    self.log.warning("shared run failed; trying its outputs one by one",
                                     job_id=task.id, error=str(e)[:500])
                    queue[:0] = [self._alone(task, i) for i in plan.outputs]
                    continue
                self.journal.mark(task, plan.outputs, outputs_mod.ERROR, error_code=job_error_code(e),
                                  error=str(e))
            else:
                if plan is first and task.probe is None:
                    self._settle(task, probe, plans)  # the run described no source
                for index in plan.outputs:
                    self._describe(task, index)
                    self.extras.check(task, index)
            done += len(plan.outputs)
        made = [i for i in task.targets if i in task.facts]
        failed = outputs_mod.failures(task.outputs)
        if not made and failed:
            raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])
        for index in made:
            task.outputs[index] = {**task.outputs[index], "state": outputs_mod.UPLOADING}
        task.phases["encode"] = 100
        # A guessed job's probe, unless a progress write carried it already.
        probed = {"probe": task.probe} if task.probe is not None and task.job.probe != task.probe else {}
        self.journal.set_state(task, State.UPLOADING, **probed)

    def _run(self, task, plan, duration, deadline, done, total, sandbox, on_header=None):
        """Run one plan, reporting its share of the encode phase."""
        weight = len(plan.outputs)

        def on_progress(percent):
            self.journal.progress(task, "encode", (done * 100 + weight * percent) // total)

        self.runs.run_plan(task, plan, duration, on_progress, deadline=deadline, sandbox=sandbox,
                           on_header=on_header)

    def _header_check(self, task, guess, plans):
        """The first run's on_header of a job planned on ``guess``: the
        source's description becomes its probe and is checked as fetch.py
        checks one; raises _Refused with the job's failure, or _Unsure when
        the probe would have given another duration or other commands (the
        run then stops). A run that described no source could not open it:
        its own failure says why (and should it have made its outputs all
        the same, the source is probed after it)."""
        def check(header):
            if header is not None:
                self._settle(task, guess, plans, header)
        return check

    def _settle(self, task, guess, plans, header=None):
        """The probe of a job planned on ``guess``: from ``header``, or
        ffmpeg's own; see _header_check."""
        try:
            task.probe = from_header(header) or ffmpeg.probe(
                self.runs.ffmpeg_exe, task.source_path, sandbox=self.runs.sandbox(task))
            check_source(task, self.presets, self.runs)
        except JobFailed as e:
            raise _Refused(e) from None
        if not self._borne_out(task, guess, plans):
            raise _Unsure()

    def _borne_out(self, task, guess, plans):
        """Whether ``plans``, made on ``guess``, are what the probe makes:
        the same streams, the same duration (the planner's decision, the
        time limit and the progress depend on it) and the same commands."""
        probe = task.probe
        if [s["type"] for s in probe["streams"]] != [s["type"] for s in guess["streams"]]:
            return False
        if probe.get("duration") is None or round(probe["duration"], 2) != round(guess["duration"], 2):
            return False
        again, _ = ffmpeg.plan_job(self.runs.ffmpeg_exe, task.source_path, probe, task.outputs, task.workdir,
                                   self.presets, task.tuning, captions=task.captions)
        return [(p.commands, p.outputs) for p in again] == [(p.commands, p.outputs) for p in plans]

    def _start_over(self, task):
        """Forget what a run on a wrong guess made."""
        for target in task.targets.values():
            path = pathlib.Path(target.path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        task.targets, task.facts = {}, {}

    def _describe(self, task, index):
        """Probe what output ``index`` became; an output ffmpeg left unreadable fails."""
        try:
            task.facts[index] = results.describe(self.runs.ffmpeg_exe, task.targets[index],
                                                 sandbox=self.runs.sandbox(task))
        except JobFailed as e:
            self.journal.mark(task, [index], outputs_mod.ERROR, error_code="ENCODE_FAILED",
                              error=f"ffmpeg finished but its output cannot be read: {e}")

    def _alone(self, task, index):
        """The plan that makes output ``index`` by itself, over a clean target."""
        target = pathlib.Path(task.targets[index].path)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        plan = ffmpeg.build_commands(
            self.runs.ffmpeg_exe, task.source_path, target, task.outputs[index],
            task.workdir / f"alone-{index}", f"outputs[{index}]", task.probe, self.presets,
            captions=task.captions.get(index, ()),
            tuning=task.tuning.get(index),
        )
        return dataclasses.replace(plan, outputs=(index,))
