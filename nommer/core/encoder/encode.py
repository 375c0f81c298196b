"""Encoding a fetched job: make every output, probe what was made;
ENCODING → UPLOADING. Runs in a thread of the Encoder's pool."""

import dataclasses
import pathlib
import shutil
import time

from nommer.core import ffmpeg
from nommer.core.encoder import confinement
from nommer.core.errors import JobFailed
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import results
from nommer.core.model.error_codes import job_error_code
from nommer.core.model.jobs import State

# Limits of the whole job: trying its outputs one by one cannot help (nor
# when the source read in place was removed or replaced meanwhile).
_JOB_LIMITS = ("OUTPUT_TOO_LARGE", "CONFINEMENT_UNAVAILABLE", "SOURCE_UNREADABLE")


class Encode:
    def __init__(self, config, presets, runs, extras, journal, log):
        self.config = config
        self.presets = presets
        self.runs = runs
        self.extras = extras
        self.journal = journal
        self.log = log

    def __call__(self, task):
        """Make every output: preset outputs in one ffmpeg run, the others
        one run each; probe what was made; → UPLOADING.

        When a run of several outputs fails, each of its outputs is tried on
        its own, so that one bad output does not take the others down. A
        failed output is marked ERROR and the rest go on; the job fails here
        when none is left.
        """
        job = task.job
        duration = (task.probe or job.probe or {}).get("duration")
        tuning = task.tuning = self.extras.prepare(task, duration)
        plans, targets = ffmpeg.plan_job(self.runs.ffmpeg_exe, task.source_path, task.probe or job.probe,
                                         task.outputs, task.workdir, self.presets, tuning,
                                         captions=task.captions)
        task.targets = {t.index: t for t in targets}
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
                self._run(task, plan, duration, deadline, done, total, sandbox)
            except JobFailed as e:
                if e.code == "TIMED_OUT":
                    self.journal.mark(task, plan.outputs, outputs_mod.ERROR, write=False,
                                      error_code=limit_code, error=f"encoding took longer than {limit_name}")
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=limit_code) from None
                if e.code in _JOB_LIMITS:
                    self.journal.mark(task, plan.outputs, outputs_mod.ERROR, write=False,
                                      error_code=e.code, error=str(e))
                    raise JobFailed(outputs_mod.failure_details(task.outputs), code=e.code) from None
                if len(plan.outputs) > 1:
                    self.log.warning("shared run failed; trying its outputs one by one",
                                     job_id=task.id, error=str(e)[:500])
                    queue[:0] = [self._alone(task, i) for i in plan.outputs]
                    continue
                self.journal.mark(task, plan.outputs, outputs_mod.ERROR, error_code=job_error_code(e),
                                  error=str(e))
            else:
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
        self.journal.set_state(task, State.UPLOADING)

    def _run(self, task, plan, duration, deadline, done, total, sandbox):
        """Run one plan, reporting its share of the encode phase."""
        weight = len(plan.outputs)

        def on_progress(percent):
            self.journal.progress(task, "encode", (done * 100 + weight * percent) // total)

        self.runs.run_plan(task, plan, duration, on_progress, deadline=deadline, sandbox=sandbox)

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
