"""The outputs' extra options around an encode (ffmpeg/extras.py): what is
measured or chosen before it (the source's loudness, the CRF of a VMAF
target) and checked after it (loudness, quality, keep_if_smaller). Runs in
the Encoder's thread of the job."""

import pathlib

from nommer.core import ffmpeg
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import extras as extras_mod
from nommer.core.ffmpeg import loudness, measuring
from nommer.core.ffmpeg.command import Tuning
from nommer.core.model import outputs as outputs_mod


class Extras:
    def __init__(self, presets, runs, journal, log):
        self.presets = presets
        self.runs = runs
        self.journal = journal
        self.log = log

    def prepare(self, task, duration):
        """Measure and choose what the outputs' extra options need before
        the encode. Returns {output index: Tuning}."""
        tuning, measured_source = {}, {}  # the source is measured once per loudness asked for
        tools = self.runs.tools(task)
        for index, output in enumerate(task.outputs):
            requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
            wanted = requested.extras
            # Not made yet: PENDING, or ENCODING already when its run is the first
            # (fetch.py marks those in the job's ENCODING write).
            if not wanted or outputs_mod.state_of(output) not in (outputs_mod.PENDING, outputs_mod.ENCODING):
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

    def check(self, task, index):
        """Measure output ``index`` as its extra options ask, and skip it
        (keep_if_smaller) when it is larger than the source or misses its
        quality target."""
        target = task.targets[index]
        wanted = target.requested.extras
        facts = task.facts.get(index)
        if not wanted or facts is None:
            return
        before = task.before.get(index, {})
        tools = self.runs.tools(task)
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
                self.journal.mark(task, [index], outputs_mod.ERROR, error_code=e.code,
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
        self.journal.mark(task, [index], outputs_mod.SKIPPED, reason=reason)
