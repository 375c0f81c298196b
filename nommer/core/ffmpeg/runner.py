"""Run ffmpeg as a child that reports progress, can be cancelled from any
thread, and never outlives the call that started it."""

import collections
import re
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from nommer.core.errors import Canceled, ConfigError, JobFailed
from nommer.core.ffmpeg import launcher as launcher_mod
from nommer.core.ffmpeg import sandbox as sandbox_mod
from nommer.core.ffmpeg.progress_output import ProgressParser, percent

TAIL_LINES = 40
TAIL_CHARS = 4000
# The most of stderr kept as the first input's description (on_header):
# a source with more than this says too much to be described from it.
HEADER_CHARS = 256 * 1024
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
SIZE_CHECK_INTERVAL = 0.5  # seconds between two looks at what a run has written


# ffmpeg gets SIGKILL if the encoder dies (even by SIGKILL) instead of
# encoding on for nobody. util-linux's setpriv sets that up and execs ffmpeg;
# doing it in a preexec_fn instead can deadlock a threaded parent's child.
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def _dying_with_parent(argv):
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]


@dataclasses.dataclass(frozen=True)
class Sandbox:
    """How an ffmpeg run is confined and limited (see sandbox.py).

    ``write``: the folders it may write (and read), the job's work folder;
    ``read``: further files and folders it may only read; ``landlock``:
    whether to confine it with Landlock at all (resource limits apply
    either way); ``max_bytes``: the most the ``write`` folders may hold
    besides ``uncounted`` bytes (the source downloaded there), None for no
    limit. A run may write no file larger than what is left of it when it
    starts, and is stopped as soon as the folders hold more.
    """

    write: tuple = ()
    read: tuple = ()
    # (path, device, inode) of files read where they are (a file:// source):
    # readable only while the path leads to that very file.
    read_files: tuple = ()
    landlock: bool = True
    max_bytes: int | None = None
    uncounted: int = 0

    def left(self):
        """Bytes the ``write`` folders may still take (None: no limit)."""
        if self.max_bytes is None:
            return None
        return self.max_bytes - max(0, self.written() - self.uncounted)

    def wrap(self, argv, fsize=None):
        """``argv`` started through the sandbox wrapper, writing no file
        larger than ``fsize`` bytes."""
        args = [sys.executable, "-I", "-S", "-c", _SANDBOX_START, "--parent", str(os.getpid())]
        if self.landlock:
            args.append("--landlock")
        # Absolute: the wrapper starts in the run's cwd.
        for path in self.write:
            args += ["--write", os.path.abspath(path)]
        for path in self.read:
            args += ["--read", os.path.abspath(path)]
        for spec in self._read_file_specs():
            args += ["--read-file", spec]
        if fsize is not None:
            args += ["--fsize", str(max(0, int(fsize)))]
        return [*args, "--", *argv]

    def options(self, fsize=None):
        """The wrapper's options (sandbox.parse's dict) of a run writing no
        file larger than ``fsize`` bytes, for the fork server (launcher.py)."""
        return {"write": [os.path.abspath(p) for p in self.write],
                "read": [os.path.abspath(p) for p in self.read], "exec": [],
                "read_file": self._read_file_specs(),
                "fsize": None if fsize is None else max(0, int(fsize)), "landlock": self.landlock}

    def start(self, argv, fsize=None, cwd=None):
        """``argv`` started confined: a launcher.Child from the fork server,
        or, where there is none, a subprocess.Popen of the wrapper. Either
        has pid, stdout and stderr pipes, wait(), communicate() and
        send_signal(); the run has a session of its own and dies with this
        process."""
        server = launcher_mod.launcher()
        if server is not None:
            try:
                return server.start(argv, cwd=None if cwd is None else os.path.abspath(cwd),
                                    options=self.options(fsize))
            except launcher_mod.TooLarge:
                pass  # through the wrapper, which takes any argv the kernel does
            except launcher_mod.LaunchFailed as e:
                raise ConfigError(f"cannot start {argv[0]!r} confined: {e}") from None
        return subprocess.Popen(self.wrap(argv, fsize=fsize), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=cwd)

    def _read_file_specs(self):
        return [f"{device}:{inode}:{os.path.abspath(path)}" for path, device, inode in self.read_files]

    def written(self):
        """Bytes of the files under the ``write`` folders now."""
        return sum(folder_bytes(path) for path in self.write)


# Imported from its own folder, not as nommer.core.ffmpeg.sandbox: the
# package would import far more than the wrapper needs. An import rather than
# a script run by path, so that its cached bytecode is used (compiling it
# would cost as much as the rest of the start). Appended, so that nothing
# beside it can stand in for a module of the standard library.
_SANDBOX_START = (
    f"import sys; sys.path.append({os.path.dirname(os.path.abspath(sandbox_mod.__file__))!r}); "
    "import sandbox; sandbox.main(sys.argv[1:])"
)


def folder_bytes(path):
    """Sum of the sizes of the files under ``path`` (links not followed)."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += folder_bytes(entry.path)
            else:
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass  # removed meanwhile
    return total


@dataclasses.dataclass(frozen=True)
class RunResult:
    returncode: int
    elapsed: float  # seconds
    stderr_tail: str


class FfmpegRun:
    """One ffmpeg process, run once by :meth:`run`.

    ``duration`` (seconds of the source) turns positions into percents;
    ``on_progress(percent)`` is called in run()'s thread whenever the whole
    percent rises (never falls), with 100 only after a clean exit; ``timeout`` bounds the
    run in seconds; ``cwd`` is where relative names an option may hold land.
    ``sandbox`` (a Sandbox) confines and limits it; without one, ffmpeg only
    dies with its parent.

    ``on_header(text)`` is called once in run()'s thread with ffmpeg's
    description of its first input (the lines of ``Input #0`` that
    probe.parse_probe reads), as soon as it is whole and before the run's
    outcome is told: at the next progress report, or when ffmpeg exits. It
    gets None when ffmpeg described no input (it could not open it) or
    said more than HEADER_CHARS of it. It is not called for a run
    stopped on purpose (canceled, timed out, too large). An exception it
    raises kills the run and comes out of run() instead of the run's own.
    """

    def __init__(self, argv, duration=None, on_progress=None, timeout=None, cwd=None, sandbox=None,
                 on_header=None):
        self.argv = list(argv)
        self.duration = duration
        self.on_progress = on_progress
        self.on_header = on_header
        # The first input's description as stderr gives it: lines, whether
        # it is whole (set by the stderr thread), whether it was handed on.
        self._header = []
        self._header_size = 0
        self._header_state = None  # None, "open", "whole" or "too_long"
        self._header_told = False
        self.timeout = timeout
        self.cwd = cwd
        self.sandbox = sandbox
        self.pid = None
        self._size_checked = 0.0
        self._lock = threading.Lock()  # guards _proc, _reaped, _stop_reason
        self._proc = None
        self._reaped = False
        self._stop_reason = None  # "canceled", "timeout" or "too_large"
        self._timers = []
        self._tail = collections.deque(maxlen=TAIL_LINES)

    def run(self):
        """Run ffmpeg to the end and return a RunResult.

        Raises Canceled after cancel(), JobFailed (ENCODE_FAILED, with the tail
        of stderr; TIMED_OUT; OUTPUT_TOO_LARGE past the sandbox's max_bytes;
        CONFINEMENT_UNAVAILABLE when the sandbox could not be set up) when
        ffmpeg fails, and ConfigError when
        ffmpeg cannot be started. Whatever happens, including an exception
        from on_progress, the process is dead and reaped when run() returns.
        """
        self._start()
        started = time.monotonic()
        drain = threading.Thread(target=self._drain_stderr, name=f"ffmpeg-{self.pid}-stderr", daemon=True)
        drain.start()
        if self.timeout:
            self._after(self.timeout, self._stop, "timeout")
        try:
            last = self._follow_progress()
        except BaseException:
            self._signal(signal.SIGKILL)
            raise
        finally:
            self._reap()
            for timer in self._timers:
                timer.cancel()
            drain.join(timeout=5)
            self._proc.stdout.close()
            self._proc.stderr.close()
        result = RunResult(self._proc.returncode, time.monotonic() - started, self.stderr_tail())
        if self._stop_reason is None and self._over_budget():
            self._stop_reason = "too_large"  # written just before the end
        if self._stop_reason is None:
            self._tell_header(at_end=True)
        self._raise_for(result)
        if self.on_progress and last != 100:
            self.on_progress(100)
        return result

    def cancel(self):
        """Stop the run from any thread: SIGTERM to ffmpeg's process group,
        SIGKILL after KILL_GRACE seconds; run() then raises Canceled."""
        self._stop("canceled")

    def stderr_tail(self):
        return "\n".join(self._tail)[-TAIL_CHARS:]

    def _start(self):
        with self._lock:
            if self._stop_reason == "canceled":
                raise Canceled("encoding was canceled")
            if self._proc is not None:
                raise RuntimeError("an FfmpegRun runs only once")
            program = shutil.which(self.argv[0])
            if program is None:
                # checked here: through setpriv, a missing binary would only
                # show as setpriv's failure
                raise ConfigError(f"setting 'ffmpeg': {self.argv[0]!r} is not an executable program")
            argv = [program, *self.argv[1:]]
            try:
                if self.sandbox is not None:
                    left = self.sandbox.left()
                    if left is not None and left <= 0:
                        raise JobFailed(self._too_large_message(), code="OUTPUT_TOO_LARGE")
                    # it also makes ffmpeg die with us, in a session of its own
                    self._proc = self.sandbox.start(argv, fsize=left, cwd=self.cwd)
                else:
                    # Its own session, so one killpg reaches anything it starts.
                    self._proc = subprocess.Popen(
                        _dying_with_parent(argv), stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        start_new_session=True, cwd=self.cwd,
                    )
            except OSError as e:
                raise ConfigError(f"setting 'ffmpeg': cannot run {self.argv[0]!r}: {e.strerror}") from None
            self.pid = self._proc.pid

    def _follow_progress(self):
        parser = ProgressParser()
        last = None
        for raw in self._proc.stdout:
            progress = parser.feed(raw.decode("utf-8", "replace"))
            if progress is not None and self._header_state == "whole" and not self._stop_reason:
                self._tell_header()
            if progress is not None and self._over_budget(every=SIZE_CHECK_INTERVAL):
                self._kill("too_large")
            if progress is None or progress.seconds is None or progress.done or self._stop_reason:
                continue
            # 100 waits for a clean exit: the output may still fail to close.
            # Never backwards: a late block may say less than an earlier one.
            now = min(99, percent(progress.seconds, self.duration))
            if self.on_progress and (last is None or now > last):
                last = now
                self.on_progress(now)
        return last

    def _drain_stderr(self):
        # Drained all along so that ffmpeg never blocks on a full pipe.
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._tail.append(line[-TAIL_CHARS:])
                if self.on_header is not None and self._header_state in (None, "open"):
                    self._note_header(line)

    def _note_header(self, line):
        """Keep ``line`` when it belongs to the first input's description:
        from ``Input #0, ...`` to the next line that is not indented."""
        if self._header_state is None:
            if line.startswith("Input #0, "):
                self._header_state = "open"
                self._header.append(line)
                self._header_size = len(line)
            return
        if not line[0].isspace():
            self._header_state = "whole"  # read by the run's thread after this
            return
        self._header_size += len(line) + 1
        if self._header_size > HEADER_CHARS:
            self._header_state = "too_long"
            self._header.clear()
            return
        self._header.append(line)

    def _tell_header(self, at_end=False):
        """Hand the first input's description to on_header, once: when it
        is whole, or at the end whatever there is (an open description
        ended with stderr itself)."""
        state = self._header_state
        if self.on_header is None or self._header_told or not (state == "whole" or at_end):
            return
        self._header_told = True
        self.on_header("\n".join(self._header) if state in ("whole", "open") else None)

    def _stop(self, reason):
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
            running = self._proc is not None and not self._reaped
        if running:
            self._signal(signal.SIGTERM)
            self._after(KILL_GRACE, self._signal, signal.SIGKILL)

    def _over_budget(self, every=0.0):
        """Whether the run wrote more than its sandbox allows (looked at no
        more often than ``every`` seconds)."""
        if self.sandbox is None or self.sandbox.max_bytes is None:
            return False
        now = time.monotonic()
        if now - self._size_checked < every:
            return False
        self._size_checked = now
        return self.sandbox.left() < 0

    def _kill(self, reason):
        # At once: SIGTERM would let ffmpeg write its trailers first.
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
        self._signal(signal.SIGKILL)

    def _too_large_message(self):
        return (f"ffmpeg was stopped: the job's output would exceed {self.sandbox.max_bytes} bytes"
                " (the max_output_bytes setting)")

    def _signal(self, sig):
        # Under the lock and only before reaping: until then the pid, which is
        # also the group id, cannot have been given to another process.
        with self._lock:
            if self._proc is None or self._reaped:
                return
            if isinstance(self._proc, launcher_mod.Child):
                self._proc.send_signal(sig)  # through its pidfd: never a recycled pid
                return
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self):
        # Wait for the exit without reaping, then reap under the lock, so a
        # signal from another thread never reaches a recycled pid.
        if isinstance(self._proc, launcher_mod.Child):
            self._proc.wait()  # reaped by the fork server
        else:
            try:
                os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass
        with self._lock:
            self._proc.wait()
            self._reaped = True

    def _after(self, seconds, func, *args):
        timer = threading.Timer(seconds, func, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _raise_for(self, result):
        if self._stop_reason == "canceled":
            raise Canceled("encoding was canceled")
        if self._stop_reason == "timeout":
            raise JobFailed(f"ffmpeg did not finish within {self.timeout:g} s", code="TIMED_OUT")
        code = result.returncode
        if self._stop_reason == "too_large" or (self.sandbox is not None and code == -signal.SIGXFSZ):
            raise JobFailed(self._too_large_message(), code="OUTPUT_TOO_LARGE")
        if self.sandbox is not None and code == sandbox_mod.EXIT_SANDBOX and "nommer sandbox:" in result.stderr_tail:
            raise sandbox_failure(result.stderr_tail)
        if code != 0:
            how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
            raise JobFailed(f"ffmpeg failed ({how}): {error_lines(result.stderr_tail)}",
                            code="ENCODE_FAILED")


def sandbox_failure(stderr):
    """The JobFailed of a run whose sandbox could not be set up, from its
    stderr: SOURCE_UNREADABLE when the source read in place was removed or
    replaced since it was checked, CONFINEMENT_UNAVAILABLE otherwise."""
    marker = f"nommer sandbox: {sandbox_mod.SOURCE_CHANGED}"
    if marker in stderr:
        what = stderr[stderr.index(marker) + len(marker):].strip().splitlines()[0]
        name = os.path.basename(what.split(":", 1)[0])
        return JobFailed(f"the source {name} was removed or replaced while the job ran", code="SOURCE_UNREADABLE")
    return JobFailed(f"ffmpeg could not be confined: {error_lines(stderr, names_only=False)}",
                     code="CONFINEMENT_UNAVAILABLE")


# Lines that describe the streams rather than say what went wrong.
_DESCRIPTIONS = ("Input #", "Output #", "Stream mapping:", "frame=", "ffmpeg stats")


_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")
# An absolute path of two or more parts: every file ffmpeg names is one
# nommer chose in its work folder, known to the user by its name alone.
_PATH = re.compile(r"(?<![\w.:/])(?:/[^\s/'\"]+)+/([^\s/'\"]+)")


def error_lines(stderr_tail, limit=15, names_only=True):
    """The last ``limit`` lines of ``stderr_tail`` that are not stream
    descriptions, as a user may read them: files by their names alone (no
    encoder's work folder; ``names_only=False`` keeps whole paths, for what
    names the operator's own files), without the memory addresses ffmpeg
    prints beside a component's name."""
    lines = [ln for ln in stderr_tail.splitlines() if ln and not ln[0].isspace() and not ln.startswith(_DESCRIPTIONS)]
    text = "\n".join(lines[-limit:]) or stderr_tail
    if names_only:
        text = _PATH.sub(r"\1", text)
    return _ADDRESS.sub("]", text)


class PlanRun:
    """The passes of a Plan, in order, with one overall percent.

    Each pass counts for an equal share of the progress; cancel() from any
    thread stops the running pass and keeps later ones from starting.
    ``timeout`` bounds each pass; ``deadline`` (a time.monotonic() value)
    bounds them all together; ``sandbox`` (a Sandbox) confines each pass.
    """

    def __init__(self, plan, duration=None, on_progress=None, timeout=None, deadline=None, sandbox=None,
                 on_header=None):
        self.plan = plan
        self.sandbox = sandbox  # for every pass
        self.on_header = on_header  # the first pass's (see FfmpegRun)
        self.duration = duration
        self.on_progress = on_progress
        self.timeout = timeout  # per pass
        self.deadline = deadline
        self._lock = threading.Lock()
        self._current = None
        self._canceled = False
        self._last = None

    def run(self):
        """Run every pass; a list of RunResult, or the first pass's error."""
        os.makedirs(self.plan.workdir, exist_ok=True)
        results = []
        count = len(self.plan.commands)
        for index, argv in enumerate(self.plan.commands):
            with self._lock:
                if self._canceled:
                    raise Canceled("encoding was canceled")
                self._current = FfmpegRun(
                    argv, self.duration, self._reporter(index, count), self._pass_timeout(),
                    cwd=self.plan.workdir, sandbox=self.sandbox,
                    on_header=self.on_header if index == 0 else None,
                )
            results.append(self._current.run())
        return results

    def _pass_timeout(self):
        if self.deadline is None:
            return self.timeout
        left = max(0.001, self.deadline - time.monotonic())
        return min(left, self.timeout) if self.timeout else left

    def cancel(self):
        with self._lock:
            self._canceled = True
            current = self._current
        if current is not None:
            current.cancel()

    def _reporter(self, index, count):
        def report(pass_percent):
            overall = (index * 100 + pass_percent) // count
            if self.on_progress and (self._last is None or overall > self._last):
                self._last = overall
                self.on_progress(overall)
        return report


def run_plan(plan, duration=None, on_progress=None, timeout=None):
    """Run a Plan to the end; see PlanRun (keep one to cancel from elsewhere)."""
    return PlanRun(plan, duration, on_progress, timeout).run()
