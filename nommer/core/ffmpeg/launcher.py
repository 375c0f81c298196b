"""Confined runs started by a warm fork server instead of a wrapper each.

Starting the sandbox wrapper (``python -I -S sandbox.py``) costs a Python
start-up for every ffmpeg run, 13 to 26 ms on the machines nommer was
measured on (bench/sandbox_startup.py), which a job of a few seconds pays
three times (the probe, the encode, the probe of what was made). One
:class:`Launcher` per process keeps one wrapper process running in server
mode (sandbox.serve); each run is a fork of it that confines itself exactly
as the wrapper does and execs ffmpeg.

What stays as it was: every run dies with the encoder (the server dies with
the thread that started it, a thread of the launcher's own that lives as
long as the process, and each run dies with the server), has a session of
its own, and its limits and Landlock rules are set before ffmpeg starts.
The launcher signals a run through a pidfd, so a signal never reaches a
recycled pid. Where the server cannot run (no pidfd: Linux before 5.3),
:func:`launcher` answers None and runs go through the wrapper as before.
"""

import dataclasses
import itertools
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

from nommer.core.ffmpeg import sandbox as sandbox_mod

_SERVER_START = (
    f"import sys; sys.path.append({os.path.dirname(os.path.abspath(sandbox_mod.__file__))!r}); "
    "import sandbox; sandbox.main(sys.argv[1:])"
)


#: The largest request sent to the server; a run whose arguments make a
#: larger one is started through the wrapper instead (a socket message must
#: fit the socket's buffer, a few hundred KiB by default).
MAX_REQUEST = 64 * 1024


class LaunchFailed(OSError):
    """The fork server could not start a run (or is gone)."""


class TooLarge(LaunchFailed):
    """A run's arguments make a request larger than MAX_REQUEST."""


@dataclasses.dataclass(eq=False)
class Child:
    """One run started by the fork server: like a subprocess.Popen of it,
    with ``stdout`` and ``stderr`` pipes (binary files)."""

    pid: int
    pidfd: int
    stdout: object
    stderr: object
    returncode: int | None = None
    _ended: threading.Event = dataclasses.field(default_factory=threading.Event)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)  # the pidfd's

    def send_signal(self, sig):
        """Signal the run, if it has not been reaped yet (never another process)."""
        with self._lock:
            if self._ended.is_set():
                return
            try:
                signal.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                pass  # ended, not yet reported

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        """The run's exit code once it ended (negative: the signal that ended
        it); subprocess.TimeoutExpired after ``timeout`` seconds."""
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return self.returncode

    def communicate(self, timeout=None):
        """(stdout bytes, stderr bytes) read to the end and the run waited
        for; after ``timeout`` seconds the run is killed and
        subprocess.TimeoutExpired raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = {self.stdout: [], self.stderr: []}
        with selectors.DefaultSelector() as selector:
            for pipe in chunks:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self.kill()
                    self.wait()
                    self._close()
                    raise subprocess.TimeoutExpired(str(self.pid), timeout)
                for key, _ in selector.select(left):
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[key.fileobj].append(data)
                    else:
                        selector.unregister(key.fileobj)
        self.wait()
        self._close()
        return b"".join(chunks[self.stdout]), b"".join(chunks[self.stderr])

    def _close(self):
        self.stdout.close()
        self.stderr.close()

    def _ended_with(self, returncode):
        with self._lock:
            self.returncode = returncode
            self._ended.set()
            try:
                os.close(self.pidfd)
            except OSError:
                pass


class Launcher:
    """The client of one fork server (sandbox.serve), started on first use
    and again after it died."""

    def __init__(self):
        self._lock = threading.Lock()  # guards the fields below and sends
        self._ids = itertools.count(1)
        self._sock = None
        self._server = None  # its Popen
        self._waiting = {}  # request id: [Event, answer, pidfd]
        self._children = {}  # pid: Child
        self._early = {}  # pid: returncode of a child that ended before its answer was read
        self._want = threading.Condition(self._lock)
        self._started = threading.Event()
        self._start_error = None
        self.server_pid = None
        threading.Thread(target=self._keep, name="sandbox-launcher", daemon=True).start()

    def start(self, argv, *, cwd=None, options):
        """A Child running ``argv`` confined by ``options`` (sandbox.parse's
        dict: write, read, exec, fsize, landlock); LaunchFailed when the
        server cannot start it."""
        message = json.dumps({"id": 0, "argv": list(argv), "cwd": cwd, "options": options}).encode()
        if len(message) > MAX_REQUEST:
            raise TooLarge(f"the arguments of {argv[0]} take {len(message)} bytes")
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            sock = self._connection()
            with self._lock:
                request_id = next(self._ids)
                slot = self._waiting[request_id] = [threading.Event(), None, None]
                message = json.dumps({"id": request_id, "argv": list(argv), "cwd": cwd,
                                      "options": options}).encode()
                try:
                    socket.send_fds(sock, [message], [out_w, err_w])
                except OSError as e:
                    self._waiting.pop(request_id, None)
                    raise LaunchFailed(f"the sandbox server is gone: {e}") from None
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)  # the server holds them now; EOF comes when the run ends
            os.close(err_w)
        slot[0].wait()
        answer, pidfd = slot[1], slot[2]
        if answer is None or "pid" not in answer:
            os.close(out_r)
            os.close(err_r)
            reason = (answer or {}).get("error", "the sandbox server stopped")
            raise LaunchFailed(f"the sandbox server could not start {argv[0]}: {reason}")
        child = Child(answer["pid"], pidfd, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))
        with self._lock:
            if answer["pid"] in self._early:
                child._ended_with(self._early.pop(answer["pid"]))
            else:
                self._children[answer["pid"]] = child
        return child

    def _connection(self):
        with self._lock:
            if self._sock is None:
                self._started.clear()
                self._want.notify_all()
            else:
                return self._sock
        self._started.wait()
        with self._lock:
            if self._sock is None:
                raise LaunchFailed(f"the sandbox server did not start: {self._start_error}")
            return self._sock

    def _keep(self):
        """The launcher's own thread: starts the server (which dies with this
        thread, so with the process) and reads what it says."""
        while True:
            with self._lock:
                while self._sock is not None or self._started.is_set():
                    self._want.wait()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self._server = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _SERVER_START, "--serve", "--parent", str(os.getpid()),
                     "--socket", str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
            except OSError as e:
                self._start_error = str(e)
                ours.close()
                self._started.set()
                continue
            finally:
                theirs.close()
            self.server_pid = self._server.pid
            with self._lock:
                self._sock = ours
            self._started.set()
            self._read(ours)
            # The server is gone: every run it started died with it.
            with self._lock:
                self._sock = None
                self._started.clear()
                waiting, self._waiting = self._waiting, {}
                children, self._children = self._children, {}
                self._early.clear()
            for slot in waiting.values():
                slot[0].set()
            for child in children.values():
                child._ended_with(-signal.SIGKILL)
            ours.close()
            self._server.wait()

    def _read(self, sock):
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 1)
            except OSError:
                return
            if not data:
                return
            answer = json.loads(data)
            with self._lock:
                if "id" in answer:
                    slot = self._waiting.pop(answer["id"], None)
                    if slot is None:
                        for fd in fds:
                            os.close(fd)
                        continue
                    slot[1], slot[2] = answer, (fds[0] if fds else None)
                    slot[0].set()
                else:
                    child = self._children.pop(answer["pid"], None)
                    if child is None:
                        self._early[answer["pid"]] = answer["returncode"]
                    else:
                        child._ended_with(answer["returncode"])


_launcher = None  # (pid, Launcher or False)
_launcher_lock = threading.Lock()


def available():
    """Whether runs can go through a fork server here (Linux with pidfds)."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and \
        hasattr(signal, "pidfd_send_signal") and hasattr(socket, "send_fds") and _pidfd_works()


def _pidfd_works():
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def launcher():
    """This process's Launcher, or None where the fork server cannot run."""
    global _launcher
    with _launcher_lock:
        # A forked child has none of its parent's threads: it needs its own.
        if _launcher is None or _launcher[0] != os.getpid():
            _launcher = (os.getpid(), Launcher() if available() else False)
        return _launcher[1] or None
