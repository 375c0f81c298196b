"""How one job's ffmpeg runs are made: confined to its work folder, within
its limits, and stoppable from any thread (``Task.stop``)."""

from nommer.core import ffmpeg
from nommer.core.ffmpeg.runner import FfmpegRun


class Runs:
    def __init__(self, ffmpeg_exe, config):
        self.ffmpeg_exe = ffmpeg_exe
        self.config = config

    def sandbox(self, task):
        """How the job's ffmpeg runs are confined: writing only in its work
        folder, reading only there (where the source was downloaded), the
        source itself when it is read in place, and
        ``confinement_read_paths``, within ``max_output_bytes``."""
        source, in_place = task.source_path, task.source_file
        if in_place is not None:
            read_files, uncounted = ((in_place.path, in_place.device, in_place.inode),), 0
        else:
            read_files = ()
            uncounted = source.stat().st_size if source is not None and source.exists() else 0
        read = tuple(self.config.confinement_read_paths)
        if in_place is None and source is not None and task.workdir not in source.parents:
            # A piece's source, downloaded once for the encoder's pieces of its job.
            read += (str(source.parent),)
        return ffmpeg.Sandbox(
            write=(str(task.workdir),), read=read,
            read_files=read_files, landlock=task.landlock, max_bytes=self.config.max_output_bytes or None,
            uncounted=uncounted,
        )

    def run_plan(self, task, plan, duration, on_progress, deadline=None, sandbox=None, on_header=None):
        """Run one plan in this thread, stoppable through ``task.run``
        (``on_header``: see runner.FfmpegRun)."""
        task.run = ffmpeg.PlanRun(plan, duration, on_progress, deadline=deadline, sandbox=sandbox,
                                  on_header=on_header)
        _run(task)

    def run_argv(self, task, argv, duration=None, on_progress=None, timeout=None, sandbox=None, cwd=None):
        """Run one ffmpeg ``argv`` in this thread, stoppable through ``task.run``."""
        task.run = FfmpegRun(argv, duration=duration, on_progress=on_progress, timeout=timeout,
                             cwd=str(cwd or task.workdir), sandbox=sandbox or self.sandbox(task))
        return _run(task)

    def tools(self, task):
        return Tools(self, task)


def _run(task):
    if task.cancel.is_set():  # stopped before the run could be reached
        task.run = None
        task.check_canceled()
    try:
        return task.run.run()
    finally:
        task.run = None


class Tools:
    """How the extra options' measurements run ffmpeg (see
    ffmpeg/measuring.py): confined like the encode, in the work folder,
    stopped when the job's work stops."""

    def __init__(self, runs, task):
        self.runs, self.task = runs, task
        self.workdir = str(task.workdir)

    def run(self, args):
        runs = self.runs
        limit = runs.config.encode_timeout or None
        argv = [runs.ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *args]
        self.task.run = FfmpegRun(argv, cwd=self.workdir, sandbox=runs.sandbox(self.task), timeout=limit)
        return _run(self.task).stderr_tail

    def size_of(self, path):
        info = ffmpeg.probe(self.runs.ffmpeg_exe, path, own=True, sandbox=self.runs.sandbox(self.task))
        video = next(s for s in info["streams"] if s["type"] == "video")
        return video["width"], video["height"]
