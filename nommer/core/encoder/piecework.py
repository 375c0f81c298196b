"""The work of one piece of an accelerated job, through the same stages as a
job's (docs/accelerated.md):

==========  ==========================================  =====================================
stage       a segment or the audio                      the stitch
==========  ==========================================  =====================================
fetch       the source (kept for the job's next piece)  the pieces and the scan from scratch
encode      encode it (of a ladder: one rendition),      join (a ladder: each rendition's
            check it decodes (the audio: against the    segments), check against the scan
            source's, timed in its run)                 and the audio piece's check
upload      store it in scratch (the audio: and its     store the outputs (``upload.Upload``);
            check); DONE; maybe queue the stitch        FINISHED; the scratch files go
==========  ==========================================  =====================================

Each runs in the thread of its stage's pool, like a job's step.
"""

import pathlib
import threading
import urllib.parse

from nommer.core import ffmpeg
from nommer.core.encoder import confinement
from nommer.core.encoder.planning import SCAN_NAME, scan_of
from nommer.core.encoder.transfer import retrying
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import segments, stitch, verify
from nommer.core.ffmpeg.command import Target, target_path
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import pieces as pieces_mod
from nommer.core.model import results
from nommer.core.model.jobs import State, utcnow
from nommer.core.model.messages import PIECE_EVENT, piece_body
from nommer.core.security import credentials


class Sources:
    """The sources of the jobs this encoder has pieces of in flight that
    cannot be read in place: fetched once per job and kept while any of its
    pieces is here."""

    def __init__(self, folder, storage, log):
        self.folder = pathlib.Path(folder)
        self.storage = storage
        self.log = log
        self._lock = threading.Lock()
        self._jobs = {}  # job key -> [users, lock, path or None]

    def get(self, task, uri):
        """The local path of the source of ``task``'s job, fetched by the
        first piece that needs it; ``task`` uses it until it leaves."""
        key = f"{task.id}-{task.job.attempt}"
        with self._lock:
            entry = self._jobs.setdefault(key, [0, threading.Lock(), None])
            entry[0] += 1
        task.cleanup.append(lambda: self._release(key))
        with entry[1]:
            if entry[2] is None:
                entry[2] = self._fetch(task, uri, self.folder / key)
            return entry[2]

    def _fetch(self, task, uri, folder):
        folder.mkdir(parents=True, exist_ok=True)
        suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(uri).path).suffix
        path = folder / f"source{suffix[:10]}"
        path.unlink(missing_ok=True)
        retrying(lambda: self.storage.fetch(uri, path, cancel=task.cancel), task, "download", self.log)
        return path

    def _release(self, key):
        with self._lock:
            entry = self._jobs.get(key)
            if entry is None:
                return
            entry[0] -= 1
            if entry[0] > 0:
                return
            del self._jobs[key]
        path = entry[2]
        if path is not None:
            path.unlink(missing_ok=True)
            try:
                path.parent.rmdir()
            except OSError:
                pass


def segment_of(piece):
    return segments.Segment(**piece["segment"])


def audio_check_name(piece):
    """The scratch file name of what an audio piece's check found (verify.AudioCheck)."""
    return f"{piece['id']}.check.json"


class PieceWork:
    def __init__(self, config, landlock_abi, storage, box, presets, runs, scratch, upload, new_jobs,
                 journal, tasks, log):
        self.config = config
        self.landlock_abi = landlock_abi
        self.storage = storage
        self.box = box
        self.presets = presets
        self.runs = runs
        self.scratch = scratch
        self.upload_outputs = upload  # upload.Upload, the stitch's last step
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log
        # Named like a work folder (<...>-<attempt>-<encoder id>), so that it
        # goes with a dead encoder's; every encoder has its own.
        self.sources = Sources(config.work_dir / f"sources-0-{journal.encoder_id}", storage, log)

    # -- fetch ------------------------------------------------------------------

    def fetch(self, task):
        job = task.job
        task.outputs = [dict(o) for o in job.outputs]
        task.notes = list(job.notes)  # the stitch writes them with the job's end
        task.probe = job.probe
        # Only presets are ever accelerated: confined wherever the kernel can.
        decision = confinement.decide(self.config.confinement, self.landlock_abi, False)
        task.landlock = decision.landlock
        task.workdir.mkdir(parents=True, exist_ok=True)
        if task.piece["kind"] == pieces_mod.STITCH:
            self._fetch_pieces(task)
        else:
            uri = credentials.real_uris(self.box, job)["source"]
            # As a job's fetch does: a file on this machine is read in place
            # when the runs are confined (Landlock lets them read that file).
            task.source_file = self.storage.local_file(uri) if task.landlock else None
            if task.source_file is not None:
                task.source_path = pathlib.Path(task.source_file.path)
            else:
                task.source_path = self.sources.get(task, uri)
        task.phases["download"] = 100

    def _fetch_pieces(self, task):
        job = task.job
        local = task.workdir / SCAN_NAME
        self.scratch.get(job.id, job.attempt, SCAN_NAME, local, cancel=task.cancel)
        task.scan = scan_of(local.read_text())
        made = [p for p in job.pieces if p["kind"] != pieces_mod.STITCH]
        for n, piece in enumerate(made):
            task.check_canceled()
            folder = task.workdir / f"pieces-{piece['outputs'][0]}"
            folder.mkdir(exist_ok=True)
            name = self._name(task, piece)
            self.scratch.get(job.id, job.attempt, name, folder / name, cancel=task.cancel)
            if piece["kind"] == pieces_mod.AUDIO and task.scan.audio is None:
                checked = audio_check_name(piece)
                self.scratch.get(job.id, job.attempt, checked, folder / checked, cancel=task.cancel)
            self.journal.progress(task, "download", (n + 1) * 100 // len(made))

    def _name(self, task, piece):
        """The scratch file name of a segment or audio piece."""
        shape = stitch.shape_of(self._normal(task, piece["outputs"][0]))
        return f"{piece['id']}.{shape.extension}"

    def _normal(self, task, index, target=None):
        """The normal encode's argv of output ``index``, writing ``target``
        (a stitch: an HLS encode names its files from it), else a place of
        its own."""
        output = task.outputs[index]
        requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
        folder = task.workdir / f"normal-{index}"
        source = task.source_path or task.workdir / "source"  # the stitch reads no source
        return stitch.normal_argv(self.runs.ffmpeg_exe, source, task.probe, output,
                                  target or target_path(folder, index, requested), folder, self.presets)

    # -- encode -----------------------------------------------------------------

    def encode(self, task):
        if task.piece["kind"] == pieces_mod.STITCH:
            return self._stitch(task)
        piece = task.piece
        index = piece["outputs"][0]
        normal = self._normal(task, index)
        name = self._name(task, piece)
        path = task.workdir / name
        sandbox = self.runs.sandbox(task)
        if piece["kind"] == pieces_mod.SEGMENT:
            segment = segment_of(piece)
            rendition = piece.get("rendition")  # a ladder's rendition, made alone
            following = pieces_mod.segment_id(index, segment.index + 1, rendition)
            last = pieces_mod.find(task.job.pieces, following) is None
            argv = stitch.segment_argv(normal, segment, path, last=last, rendition=rendition)
            seconds = segment.seconds + segment.lead_in
        else:
            # The same run lists the source's audio, decoded, for the piece's check.
            argv = stitch.audio_argv(normal, path, verify.source_audio_args(task.workdir / "source-audio"))
            seconds = (task.probe or {}).get("duration")
        limit, limit_code, limit_name = confinement.encode_limit(
            self.config.encode_timeout, self.config.encode_time_factor, self.config.encode_time_slack, seconds)
        try:
            self.runs.run_argv(task, argv, duration=seconds, sandbox=sandbox, timeout=limit or None,
                               on_progress=lambda percent: self.journal.progress(task, "encode", percent))
        except JobFailed as e:
            if e.code == "TIMED_OUT":
                raise JobFailed(f"piece {piece['id']} took longer than {limit_name}", code=limit_code) from None
            raise JobFailed(f"piece {piece['id']}: {e}", code=e.code) from None
        try:
            if piece["kind"] == pieces_mod.SEGMENT:
                verify.check_segment(self.runs.ffmpeg_exe, path, segment, task.workdir / "check", sandbox=sandbox)
            else:
                checked = verify.check_audio(self.runs.ffmpeg_exe, path, task.workdir / "source-audio",
                                             task.workdir / "check", sandbox=sandbox)
                (task.workdir / audio_check_name(piece)).write_text(checked.to_json())
        except JobFailed as e:
            raise JobFailed(f"piece {piece['id']}: {e}", code=e.code) from None
        task.targets[index] = path
        task.phases["encode"] = 100

    def _stitch(self, task):
        job, scan = task.job, task.scan
        sandbox = self.runs.sandbox(task)
        indices = task.piece["outputs"]
        for n, index in enumerate(indices):
            task.check_canceled()
            output = task.outputs[index]
            requested = ffmpeg.validate_output(output, f"outputs[{index}]", self.presets)
            target = Target(index, target_path(task.workdir, index, requested), requested)
            normal = self._normal(task, index, target.path)
            folder = task.workdir / f"pieces-{index}"
            lists = self._lists(task, index, folder)
            audio = pieces_mod.find(job.pieces, pieces_mod.audio_id(index))
            audio_path = folder / self._name(task, audio) if audio is not None else None
            # What the audio piece's own check found: where the source's
            # audio is, and the piece decoded (the stitch's check reads packets).
            # (A job planned when the scan still timed the audio, scan.audio,
            # is checked as it was then: the audio decoded.)
            checked = verify.AudioCheck.from_json((folder / audio_check_name(audio)).read_text()) \
                if audio is not None and scan.audio is None else None
            argv = stitch.stitch_argv(normal, lists[0] if len(lists) == 1 else lists, audio_path, scan, target.path,
                                      audio_offset=checked.offset if checked else 0.0)
            self.runs.run_argv(task, argv, sandbox=sandbox, cwd=folder)
            for playlist in self._checked(target):
                verify.check(self.runs.ffmpeg_exe, playlist, scan, task.workdir / "check",
                             tag=f"o{index}-{pathlib.Path(playlist).stem}", sandbox=sandbox, decode_video=False,
                             audio=checked)
            task.targets[index] = target
            try:
                task.facts[index] = results.describe(self.runs.ffmpeg_exe, target, sandbox=sandbox)
            except JobFailed as e:
                raise JobFailed(f"the stitched outputs[{index}] cannot be read: {e}", code="ENCODE_FAILED") from None
            task.outputs[index] = {**output, "state": outputs_mod.UPLOADING}
            self.journal.progress(task, "encode", (n + 1) * 100 // len(indices))
        task.phases["encode"] = 100
        self.journal.set_state(task, State.UPLOADING)

    def _lists(self, task, index, folder):
        """Write the concat lists of output ``index``'s segments in
        ``folder``: one, or a ladder's one per rendition (in the order of
        its video streams); their paths."""
        made = [p for p in task.job.pieces if p["kind"] == pieces_mod.SEGMENT and p["outputs"] == [index]]
        paths = []
        for rendition in sorted({p.get("rendition") for p in made}, key=lambda r: -1 if r is None else r):
            ordered = sorted((p for p in made if p.get("rendition") == rendition), key=lambda p: p["segment"]["index"])
            plan = segments.SegmentPlan(tuple(segment_of(p) for p in ordered))
            path = folder / ("segments.ffconcat" if rendition is None else f"segments-r{rendition}.ffconcat")
            path.write_text(stitch.concat_list(plan, [self._name(task, p) for p in ordered]))
            paths.append(path)
        return paths

    @staticmethod
    def _checked(target):
        """What of ``target`` is checked against the source: the file, or
        each variant playlist of an HLS folder."""
        if not target.folder:
            return [target.path]
        variants = sorted(str(p) for p in pathlib.Path(target.path).glob("*.m3u8") if p.name != "master.m3u8")
        if not variants:
            raise JobFailed("the stitch made no HLS variant playlist", code="ENCODE_FAILED")
        return variants

    # -- upload -----------------------------------------------------------------

    def upload(self, task):
        if task.piece["kind"] == pieces_mod.STITCH:
            self.upload_outputs(task)
            self.scratch.remove(task.id)
            return
        job = task.job
        index = task.piece["outputs"][0]
        if task.piece["kind"] == pieces_mod.AUDIO:
            checked = audio_check_name(task.piece)
            self.scratch.put(task.workdir / checked, job.id, job.attempt, checked, cancel=task.cancel)
        self.scratch.put(task.targets[index], job.id, job.attempt, pathlib.Path(task.targets[index]).name,
                         cancel=task.cancel)
        piece_id = task.piece["id"]
        due = []

        def change(job):
            made, is_due = pieces_mod.finished(job.pieces, piece_id)
            due[:] = [is_due]
            return job.with_changes(pieces=made, progress=pieces_mod.overall(made), heartbeat_at=utcnow())

        job = self.journal.write(task, change)
        # The feeder re-reads the job: its Scaler counts the pieces left.
        self.journal.report(job, event=PIECE_EVENT)
        if due and due[0]:
            # This write made the stitch due: no other encoder queues it.
            self.new_jobs.send(piece_body(job.id, job.attempt, pieces_mod.STITCH_ID), priority=job.priority)
            self.log.info("stitch queued", job_id=job.id)
        self.new_jobs.delete(task.receipt)
        self.log.info("piece done", job_id=job.id, piece=piece_id)
        self.tasks.forget(task)

