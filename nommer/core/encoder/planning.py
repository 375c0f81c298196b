"""Planning an accelerated job: after the probe, in the Fetcher's thread of
the encoder that claimed it, decide whether the job is cut into pieces; if
so write the pieces into the job (ENCODING, with no owner), queue a message
per piece and let the job's own message go (docs/accelerated.md).

A planner that dies after writing the pieces leaves the job's message on the
queue: whoever claims it next finds the pieces and queues them again
(``requeue``); piece claims are conditional, so a piece queued twice is
still made once.
"""

import json

from nommer.core import ffmpeg
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import segments, stitch, threads
from nommer.core.ffmpeg.command import Target, target_path
from nommer.core.model import pieces as pieces_mod
from nommer.core.model.jobs import State
from nommer.core.model.messages import piece_body

SCAN_NAME = "scan.json"


def scan_json(scan):
    return json.dumps({"frames": list(scan.frames), "keyframes": list(scan.keyframes), "end": scan.end,
                       "audio": list(scan.audio) if scan.audio else None}, separators=(",", ":"))


def scan_of(text):
    data = json.loads(text)
    return segments.Scan(frames=tuple(data["frames"]), keyframes=tuple(data["keyframes"]), end=data["end"],
                         audio=tuple(data["audio"]) if data["audio"] else None)


def requeue(job, new_jobs):
    """Queue a message for each piece of ``job`` that may need one, the
    audio pieces first: each encodes a whole output's audio on one encoder,
    the longest pieces, so they start before the segments are shared out."""
    for piece in sorted(pieces_mod.to_queue(job.pieces), key=lambda p: p["kind"] != pieces_mod.AUDIO):
        new_jobs.send(piece_body(job.id, job.attempt, piece["id"]), priority=job.priority)


class Planner:
    def __init__(self, config, presets, runs, scratch, new_jobs, journal, tasks, log):
        self.config = config
        self.presets = presets
        self.runs = runs
        self.scratch = scratch
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log

    def __call__(self, task):
        """Plan the fetched and probed job of ``task``: True when it went out
        in pieces (the task then left this encoder), False to encode it
        whole. ENABLED on a job that cannot be accelerated fails it
        (ACCELERATION_INELIGIBLE); PREFERRED then notes why it was not,
        unless the job left it to the farm's setting and its outputs or the
        source's length say so plainly (a farm's short and audio jobs are
        encoded whole without a word)."""
        asked = task.job.acceleration or self.config.acceleration
        if asked not in ("ENABLED", "PREFERRED"):
            return False
        made, why, plain = self._plan(task)
        if why:
            if asked == "ENABLED":
                raise JobFailed(f"acceleration is ENABLED, but {why}", code="ACCELERATION_INELIGIBLE")
            if task.job.acceleration is not None or not plain:
                task.notes.append(f"encoded whole rather than accelerated: {why}")
            return False
        self._hand_out(task, made)
        return True

    def whole_without_a_word(self, job, duration):
        """Whether the job is encoded whole without a note for a source of
        ``duration`` seconds, whatever else the source holds: acceleration
        is not asked for, or only by the farm (PREFERRED) and the source is
        no longer than ``accelerate_min_seconds``. Then the plan needs
        nothing of the source but its duration (fetch.py's guess)."""
        asked = job.acceleration or self.config.acceleration
        if asked not in ("ENABLED", "PREFERRED"):
            return True
        return (asked == "PREFERRED" and job.acceleration is None and duration is not None
                and duration <= self.config.accelerate_min_seconds)

    def _plan(self, task):
        """(pieces, "", False) or (None, why the job cannot be accelerated,
        whether that is plain: its outputs' kinds or its source's length)."""
        probe = task.probe
        # What the outputs ask, for any source (the rule the submission is checked with).
        any_source = {"duration": float("inf"), "streams": ()}
        for index, output in enumerate(task.outputs):
            plain = segments.eligible(output, any_source, self.presets, 0)
            why = plain or segments.eligible(output, probe, self.presets, self.config.accelerate_min_seconds)
            if why:
                short = (probe or {}).get("duration") is not None and \
                    probe["duration"] <= self.config.accelerate_min_seconds
                return None, (f"outputs[{index}]: {why}" if len(task.outputs) > 1 else why), bool(plain) or short
        if not self.scratch.available:
            return None, "the farm has no scratch_uri that every encoder reaches", False
        # The video's packets only: each audio piece times the source's audio itself.
        scan = segments.scan(self.runs.ffmpeg_exe, task.source_path, task.workdir / "scan", probe,
                             sandbox=self.runs.sandbox(task), audio=False)
        normals = [self.normal(task, index) for index in range(len(task.outputs))]
        shapes = [stitch.shape_of(normal) for normal in normals]
        # Each rendition of a ladder (HLS) is cut into pieces of its own when
        # the farm has more slots than the job has segments: otherwise every
        # slot has segments to make anyway, and a rendition apart would only
        # decode the source again (bench/accelerated_ladder.py).
        streams = [stitch.renditions(n) if shape.hls else 1 for n, shape in zip(normals, shapes)]
        if any(n > 1 for n in streams) and not self._renditions_apart(scan.duration, shapes):
            streams = [1] * len(streams)
        planned = []
        for index, (normal, shape) in enumerate(zip(normals, shapes)):
            grid = segments.HLS_SEGMENT_SECONDS if shape.hls else None
            length = pieces_mod.segment_seconds_for(scan.duration, self.config.segment_seconds, streams, grid)
            plan = segments.plan(scan, length, hls=shape.hls)
            if not plan.accelerated:
                return None, plan.reason or (f"the source's {scan.duration:.1f} s make a single segment "
                                             f"of segment_seconds ({length:g} s)"), False
            shares = self.shares(task, index, streams[index]) if streams[index] > 1 else None
            planned.append((index, plan.segments, stitch.audio_argv(normal, "audio") is not None, shares))
        task.scan = scan
        return pieces_mod.plan(planned), "", False

    def _renditions_apart(self, duration, shapes):
        """Whether a ladder's renditions pay as pieces of their own: when the
        job's segments, its renditions together, are fewer than the farm's
        slots (``max_encoders`` × ``jobs_per_encoder``)."""
        slots = self.config.encoders_max * self.config.jobs_per_encoder
        count = 0
        for shape in shapes:
            grid = segments.HLS_SEGMENT_SECONDS if shape.hls else None
            length = pieces_mod.segment_seconds_for(duration, self.config.segment_seconds, len(shapes), grid)
            count += max(1, round(duration / length))
        return count < slots

    def shares(self, task, index, count):
        """The predicted work of each of the ``count`` renditions of output
        ``index`` (pieces.rendition_shares of their pixels)."""
        requested = ffmpeg.validate_output(task.outputs[index], f"outputs[{index}]", self.presets)
        pixels = threads.video_pixels(Target(index, "", requested), task.probe)
        return pieces_mod.rendition_shares(pixels if len(pixels) == count else [1] * count)

    def normal(self, task, index):
        """The argv of the normal encode of output ``index`` of ``task``."""
        output = task.outputs[index]
        requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
        folder = task.workdir / f"normal-{index}"
        target = target_path(folder, index, requested)
        return stitch.normal_argv(self.runs.ffmpeg_exe, task.source_path, task.probe, output, target,
                                  folder, self.presets)

    def _hand_out(self, task, made):
        job = task.job
        scan_file = task.workdir / SCAN_NAME
        scan_file.write_text(scan_json(task.scan))
        self.scratch.put(scan_file, job.id, job.attempt, SCAN_NAME, cancel=task.cancel)
        segments_count = sum(1 for p in made if p["kind"] == pieces_mod.SEGMENT)
        ladder = any("rendition" in p for p in made)
        of = " (each rendition of a ladder its own)" if ladder else ""
        said = f"accelerated: {segments_count} segments{of}, encoded by any encoder with a free slot"
        task.notes.append(said)
        task.left = True  # from here on the job is no longer this task's
        job = self.journal.set_state(task, State.ENCODING, probe=task.probe, pieces=made, encoder_id=None,
                                     details=said, notes=task.notes_said(), progress=0)
        requeue(job, self.new_jobs)
        self.new_jobs.delete(task.receipt)
        self.log.info("job planned in pieces", job_id=job.id, pieces=len(made), segments=segments_count)
        self.tasks.forget(task)
