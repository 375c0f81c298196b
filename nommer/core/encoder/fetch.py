"""Fetching a claimed job: check its outputs, download its source (or,
a local file under confinement, read it in place) and caption files, probe
the source; DOWNLOADING → ENCODING. Runs in a thread of the Fetcher's
pool.

A job whose outputs are all presets without extra options, of an MP4 or
MOV source, is not probed here: what its container says (``mp4_boxes.guess``)
is all that the decisions before its encode need, and the encode's own
ffmpeg run describes the source as a probe would (encode.py checks it
then, and starts again from the probe where the guess was wrong). That
saves an ffmpeg start a job.
"""

import os
import pathlib
import urllib.parse

from nommer.core import ffmpeg
from nommer.core.encoder import confinement
from nommer.core.encoder.transfer import retrying
from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import mp4_boxes, sources
from nommer.core.ffmpeg.captions import caption_format
from nommer.core.ffmpeg.command import first_run
from nommer.core.ffmpeg.probe import has_packets
from nommer.core.model import outputs as outputs_mod
from nommer.core.model.jobs import State
from nommer.core.security import credentials


class Fetch:
    def __init__(self, confinement_setting, landlock_abi, storage, box, presets, runs, journal, log,
                 planner=None):
        self.planner = planner  # planning.Planner: may send the job out in pieces
        self.confinement_setting = confinement_setting
        self.landlock_abi = landlock_abi
        self.storage = storage
        self.box = box
        self.presets = presets
        self.runs = runs
        self.journal = journal
        self.log = log

    def __call__(self, task):
        """Check the outputs, download the source and probe it; → ENCODING.

        A job that cannot succeed (a destination this encoder cannot write, a
        source of zero seconds, a preset that needs a stream the source lacks)
        fails here, before any encoding.
        """
        job = task.job
        uris = credentials.real_uris(self.box, job)  # the job holds them with secrets hidden
        task.outputs = [dict(o) for o in job.outputs]
        uses_options = self._check_outputs(job, uris)
        decision = confinement.decide(self.confinement_setting, self.landlock_abi, uses_options)
        if decision.refuse:
            raise JobFailed(decision.refuse, code="CONFINEMENT_UNAVAILABLE")
        if decision.warning:
            self.log.warning(decision.warning, job_id=task.id)
        task.landlock = decision.landlock
        task.workdir.mkdir(parents=True, exist_ok=True)
        # A file on this machine is read where it is, not copied, when its
        # runs are confined: Landlock then lets them read that one file
        # (runs.Runs.sandbox). Unconfined, ffmpeg would read whatever the
        # name led to by then, so the source is copied as from anywhere.
        task.source_file = self.storage.local_file(uris["source"]) if task.landlock else None
        if task.source_file is not None:
            task.source_path = pathlib.Path(task.source_file.path)
        else:
            self._download(task, uris["source"])
        task.guess = self._guess(task)
        if task.guess is None:
            # ffmpeg reads the untrusted source here first: confined already.
            task.probe = ffmpeg.probe(self.runs.ffmpeg_exe, task.source_path, sandbox=self.runs.sandbox(task))
            check_source(task, self.presets, self.runs)
        self._fetch_captions(task)
        task.phases["download"] = 100
        if task.guess is None and self.planner is not None and self.planner(task):
            return  # out in pieces (planning.py)
        # The outputs of the first run start with ENCODING, in its write:
        # the encode marks them so again without a write of its own.
        for index in first_run(task.outputs, self.presets):
            task.outputs[index] = {**task.outputs[index], "state": outputs_mod.ENCODING}
        # A guessed job's probe goes with a later write (encode.py).
        self.journal.set_state(task, State.ENCODING, **({"probe": task.probe} if task.probe else {}))

    def _guess(self, task):
        """What the source most likely holds, read from its container, when
        that is all the job needs before its encode: every output a preset
        without extra options, the planner encoding it whole without a word
        (planning.Planner.whole_without_a_word), every output's needs met.
        None when the source is to be probed now. A source that is text
        naming other files is refused here as the probe would
        (SOURCE_UNSAFE)."""
        for index, output in enumerate(task.outputs):
            requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
            if requested.preset is None or requested.extras:
                return None
        path = task.source_path
        if not os.path.isfile(path):
            return None  # the probe says what is wrong
        sources.check_file(path)
        guess = mp4_boxes.guess(path)
        if guess is None or not guess["duration"]:
            return None
        if self.planner is not None and not self.planner.whole_without_a_word(task.job, guess["duration"]):
            return None
        for output in task.outputs:
            try:
                ffmpeg.check_source(output, guess, self.presets)
            except JobFailed:
                return None  # the probe's description goes with the failure
        return guess

    def _download(self, task, uri):
        suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(task.job.source).path).suffix
        task.source_path = task.workdir / f"source{suffix[:10]}"

        def downloaded(done, total):
            if total:
                self.journal.progress(task, "download", done * 100 // total)

        retrying(
            lambda: self.storage.fetch(uri, task.source_path, progress=downloaded, cancel=task.cancel),
            task, "download", self.log,
        )

    def _check_outputs(self, job, uris):
        """Refuse an output that is invalid or whose destination this encoder
        cannot write; True when any output runs user options (no preset)."""
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
        return uses_options

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
                    retrying(
                        lambda uri=caption["uri"]: self.storage.fetch(uri, path, cancel=task.cancel),
                        task, "download", self.log)
                except (InvalidInput, JobFailed) as e:
                    raise JobFailed(f"{field} could not be read: {e}", code="CAPTION_UNREADABLE") from None
                try:
                    fmt = caption_format(path)
                except JobFailed as e:
                    raise JobFailed(f"{field}: {e}", code=e.code) from None
                task.captions.setdefault(index, []).append((str(path), fmt, caption["language"]))


def check_source(task, presets, runs):
    """Fail the job (JobFailed) when its probed source cannot make it: it
    lasts 0 seconds (ZERO_DURATION), or an output needs a stream it lacks
    (that output marked ERROR with its code). Also encode.py's, on the
    description of a guessed source."""
    duration = task.probe.get("duration")
    empty = duration < 0.001 if duration is not None else not has_packets(
        runs.ffmpeg_exe, task.source_path, sandbox=runs.sandbox(task))
    if empty:
        raise JobFailed("the source lasts 0 seconds: there is nothing to encode", code="ZERO_DURATION")
    for index, output in enumerate(task.outputs):
        try:
            ffmpeg.check_source(output, task.probe, presets)
        except JobFailed as e:
            task.outputs[index] = {**output, "state": outputs_mod.ERROR,
                                   "error_code": e.code, "error": str(e)}
    failed = outputs_mod.failures(task.outputs)
    if failed:
        raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])
