"""Start ffmpeg confined: ``python -I -S sandbox.py [options] -- ffmpeg args...``
(the runner imports it as a module from its folder instead, to use its
cached bytecode: runner.Sandbox.wrap), or, as a fork server
(``--serve``, :func:`serve`), start each run by forking itself, which
saves a Python start per run (launcher.py is its client).

A small exec wrapper between the encoder and ffmpeg. In this order it:

1. asks for SIGKILL when the thread that started it dies (``--parent``: and
   exits at once if that parent is gone already), so ffmpeg never outlives
   its encoder;
2. sets resource limits: ``--fsize`` bytes per file written (RLIMIT_FSIZE;
   a write past it kills ffmpeg with SIGXFSZ) and no core dumps;
3. with ``--landlock``, confines itself with Linux Landlock: files may be
   written, created and removed only under the ``--write`` folders, read only
   there, under ``--read`` paths, the ``--read-file`` files (while their
   path still leads to the file that was checked: a ``file://`` source read
   in place), the program itself and the system folders
   the dynamic loader needs (:data:`SYSTEM_READ`); no TCP bind or connect;
   on kernels with Landlock ABI 6 or later, no signal to and no abstract unix
   socket of a process outside the sandbox;
4. execs the program, which inherits all of it and cannot undo it
   (no_new_privs, hard limits).

As a wrapper it imports only the standard library's os, sys, _signal,
resource and ctypes, so that each ffmpeg run pays little for it (see docs/security.md,
"Confinement", and bench/sandbox_startup.py). Failures print one ``nommer sandbox:`` line
on stderr and exit with :data:`EXIT_SANDBOX`; nothing runs unconfined when
confinement was asked for.
"""

import ctypes
import os
import resource
import sys

# The C module: the signal package would import enum, a third of the start-up.
import _signal as signal

EXIT_SANDBOX = 125  # the wrapper itself failed; the program never started

# System calls (x86-64 and arm64 share these numbers) and their constants,
# from linux/landlock.h and linux/prctl.h.
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

# Rights that a rule on a file (rather than a folder) may carry.
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_READ_FILE | FS_READ_DIR
# In the work folder: make, change and remove files and folders; never
# devices, pipes, sockets or symbolic links (a link there would point the
# uploader, which runs unconfined, at any file), never run anything.
WRITE = (READ | FS_WRITE_FILE | FS_TRUNCATE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR
         | FS_MAKE_REG | FS_REFER)

# What a dynamically linked ffmpeg and its loader read (and map executable);
# paths missing on a machine are skipped.
SYSTEM_EXEC = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/local/lib")
SYSTEM_READ = (
    "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime", "/usr/share/zoneinfo",
    "/dev/urandom", "/dev/random", "/proc/self", "/sys/devices/system/cpu",
)
# Read and written: the bit bucket of a first pass's output.
SYSTEM_WRITE_FILES = ("/dev/null",)


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in landlock.h
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class SandboxError(Exception):
    pass


class SourceChanged(SandboxError):
    """A file to read in place (``--read-file``) is gone or is another file."""

    def __str__(self):
        return f"{SOURCE_CHANGED} {self.args[0]}"


#: How the wrapper's stderr line starts when a --read-file was refused.
SOURCE_CHANGED = "source changed:"


def landlock_abi():
    """The Landlock ABI version of the running kernel; 0 without Landlock
    (not built in, disabled at boot, not Linux, or a seccomp filter that
    refuses the call)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = _libc()
    except OSError:
        return 0
    version = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                           ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(0, int(version))


def handled_fs(abi):
    """Every filesystem right Landlock ABI ``abi`` knows: all are denied
    unless a rule grants them."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def rules(write, read, execute, abi):
    """The (path, rights) rules for these folders and files, system paths
    added, each path's rights cut to what its kind and the ABI allow.
    Missing system paths are left out; a missing given path raises."""
    handled = handled_fs(abi)
    wanted = [(p, WRITE, True) for p in write]
    wanted += [(p, READ, True) for p in read]
    wanted += [(p, READ | FS_EXECUTE, True) for p in execute]
    wanted += [(p, READ | FS_EXECUTE, False) for p in SYSTEM_EXEC]
    wanted += [(p, READ, False) for p in SYSTEM_READ]
    wanted += [(p, READ | FS_WRITE_FILE | FS_IOCTL_DEV, False) for p in SYSTEM_WRITE_FILES]
    found = []
    for path, rights, given in wanted:
        try:
            is_dir = os.path.isdir(path)
            if not is_dir and not os.path.exists(path):
                raise FileNotFoundError(path)
        except OSError:
            if given:
                raise SandboxError(f"{path}: no such file or folder to allow") from None
            continue
        found.append((path, rights & handled & (~0 if is_dir else FILE_RIGHTS)))
    return found


def checked_files(read_files):
    """Rules to read each of ``read_files``, [(path, device, inode)]: files
    that were checked where they are (a job's ``file://`` source, read in
    place), each only if the path still leads to that very file, so that
    one swapped for another since it was checked is refused. Each is opened
    here and its rule is made on the open file: a name swapped later leads
    to a file without a rule."""
    found = []
    for path, device, inode in read_files:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            raise SourceChanged(f"{path}: cannot be opened ({e.strerror})") from None
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (int(device), int(inode)) or not _is_file(info):
            os.close(fd)
            raise SourceChanged(f"{path}: no longer the file that was checked")
        found.append((fd, path))
    return found


def _is_file(info):
    import stat

    return stat.S_ISREG(info.st_mode)


def confine(write, read, execute, abi=None, read_files=()):
    """Confine this process (and what it execs) with Landlock, or raise
    SandboxError. ``read_files``: see :func:`checked_files`."""
    abi = landlock_abi() if abi is None else abi
    if abi < 1:
        raise SandboxError("the kernel has no Landlock (needed by confinement = \"required\" or \"auto\")")
    libc = _libc()
    attr = _RulesetAttr(handled_fs(abi), NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise SandboxError(f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    try:
        for fd, path in checked_files(read_files):
            try:
                rule = _PathBeneathAttr(FS_READ_FILE, fd)
                if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    raise SandboxError(f"landlock_add_rule({path}) failed: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
        for path, rights in rules(write, read, execute, abi):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(rights, fd)
                if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    raise SandboxError(f"landlock_add_rule({path}) failed: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
        # No net rule: with TCP bind and connect handled, both are refused.
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            raise SandboxError(f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)


def die_with_parent(parent):
    """SIGKILL this process when the thread that started it dies; ``parent``
    is the pid it must still have (else that parent died before the ask)."""
    if _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise SandboxError(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    if parent and os.getppid() != parent:
        os._exit(EXIT_SANDBOX)


def limit(fsize):
    if fsize is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Python ignores these; ffmpeg must get their default actions (a write
    # past RLIMIT_FSIZE ends it with SIGXFSZ rather than a quiet EFBIG).
    for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _read_file(text):
    """(path, device, inode) of a ``--read-file DEVICE:INODE:PATH``."""
    device, _, rest = text.partition(":")
    inode, _, path = rest.partition(":")
    if not (device.isdigit() and inode.isdigit() and path.startswith("/")):
        raise SandboxError(f"--read-file takes DEVICE:INODE:/PATH, not {text!r}")
    return path, int(device), int(inode)


def parse(args):
    """(options dict, program argv) from the wrapper's own arguments."""
    opts = {"write": [], "read": [], "exec": [], "read_file": [], "fsize": None, "parent": 0, "landlock": False,
            "socket": None}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            if i + 1 >= len(args):
                break
            return opts, args[i + 1:]
        if arg == "--landlock":
            opts["landlock"] = True
            i += 1
            continue
        if arg not in ("--write", "--read", "--exec", "--read-file", "--fsize", "--parent", "--socket") \
                or i + 1 >= len(args):
            raise SandboxError(f"unknown or incomplete option {arg!r}")
        value = args[i + 1]
        key = arg[2:].replace("-", "_")
        if key == "read_file":
            _read_file(value)  # checked here, so that a bad one fails before anything runs
        if key in ("fsize", "parent", "socket"):
            if not value.isdigit():
                raise SandboxError(f"{arg} takes a whole number, not {value!r}")
            opts[key] = int(value)
        else:
            opts[key].append(value)
        i += 2
    raise SandboxError("no program given after --")


def start_confined(opts, argv, cwd=None, stdio=None):
    """In a child just forked (or the wrapper itself): steps 1 to 4 of the
    module's docstring, then exec ``argv``; never returns. ``stdio`` is
    (stdout fd, stderr fd) to put in place, with stdin from /dev/null, every
    other descriptor closed and a session of its own (the fork server's
    children); ``cwd`` the folder to start in."""
    try:
        if stdio is not None:
            os.setsid()
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(stdio[0], 1)
            os.dup2(stdio[1], 2)
            os.closerange(3, _max_fd())
        if cwd:
            os.chdir(cwd)
        die_with_parent(opts["parent"])
        limit(opts["fsize"])
        if opts["landlock"]:
            confine(opts["write"], opts["read"], [argv[0], *opts["exec"]],
                    read_files=[_read_file(f) for f in opts["read_file"]])
        os.execv(argv[0], argv)
    except BaseException as e:  # noqa: BLE001 - nothing may run unconfined, nor return to a server
        try:
            sys.stderr.write(f"nommer sandbox: {e}\n")
            sys.stderr.flush()
        finally:
            os._exit(EXIT_SANDBOX)


def _max_fd():
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 65536


def serve(args):
    """The fork server (``--serve --parent PID --socket FD``): one warm process
    per encoder that starts each confined run by forking itself, so that a
    run pays a fork instead of a Python start (runner.Launcher is its client).

    Over the SOCK_SEQPACKET socket FD each request is one message, a JSON
    object ``{"id", "argv", "cwd", "options"}`` (options as :func:`parse`
    makes them) carrying two descriptors, the child's stdout and stderr;
    the answer is ``{"id", "pid"}`` carrying a pidfd of the child (with which
    the client signals it without a race on a recycled pid), or ``{"id",
    "error"}``; when a child ends, ``{"pid", "returncode"}`` (negative: the
    signal that ended it, as subprocess says). The server dies with the
    thread that started it (``--parent``), and its children with it; it
    exits when the client closes the socket.
    """
    import json
    import select
    import socket

    try:
        opts, _ = parse([*args, "--", "serve"])
        die_with_parent(opts["parent"])
    except SandboxError as e:
        sys.stderr.write(f"nommer sandbox: {e}\n")
        os._exit(EXIT_SANDBOX)
    sock = socket.socket(fileno=opts["socket"])
    me = os.getpid()
    children = {}  # pidfd: pid
    while True:
        ready, _, _ = select.select([sock, *children], [], [])
        for fd in ready:
            if fd is sock:
                continue
            pid = children.pop(fd)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            _send(sock, {"pid": pid, "returncode": os.waitstatus_to_exitcode(status)})
        if sock not in ready:
            continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 2)
        except OSError:
            data, fds = b"", []
        if not data:
            os._exit(0)  # the client is gone; the children die with this process
        request = None
        try:
            request = json.loads(data)
            if len(fds) != 2:
                raise SandboxError("a request carries the child's stdout and stderr")
            options = {**request["options"], "parent": me}
            pid = os.fork()
            if pid == 0:
                start_confined(options, request["argv"], request.get("cwd"), stdio=fds)
            pidfd = os.pidfd_open(pid)
        except Exception as e:  # noqa: BLE001 - the client hears of every failure
            _send(sock, {"id": request.get("id") if isinstance(request, dict) else None,
                         "error": f"{type(e).__name__}: {e}"})
        else:
            children[pidfd] = pid
            _send(sock, {"id": request["id"], "pid": pid}, [pidfd])
        finally:
            for fd in fds:
                os.close(fd)


def _send(sock, message, fds=()):
    import json
    import socket

    try:
        socket.send_fds(sock, [json.dumps(message).encode()], list(fds))
    except OSError:
        os._exit(0)  # the client is gone; the children die with this process


def main(args):
    if args[:1] == ["--serve"]:
        return serve(args[1:])
    try:
        opts, argv = parse(args)
    except SandboxError as e:
        sys.stderr.write(f"nommer sandbox: {e}\n")
        sys.stderr.flush()
        os._exit(EXIT_SANDBOX)
    start_confined(opts, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
