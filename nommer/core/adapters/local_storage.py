"""Storage adapters of the embedded default: ``file://`` under allowed roots,
and ``http(s)://`` for reading sources."""

import errno
import os
import pathlib
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from nommer.core.security.credentials import basic_auth, shown
from nommer.core.errors import Canceled, InvalidInput, JobFailed, TransientError
from nommer.core.security.netguard import AddressPolicy, opener, refused_reason
from nommer.core.ports.storage import LocalFile, Storage, folder_files, redact

CHUNK = 1024 * 1024
# What Linux file systems take: one name, and a whole path (PATH_MAX).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
# How long (seconds) the folders one submission's check found are taken as
# they were by the checks of the next ones (see _Folders).
FOLDER_SECONDS = 1.0
# At most this many folders are kept; beyond, the oldest half is forgotten.
FOLDERS_KEPT = 4096
# The extended attribute nommer puts on every file it writes, so that a later
# job may replace it (a job run again) while files nommer did not write stay.
# It travels with the file, not with its name: a file put in its place by
# someone else has no mark.
OWN_MARK = "user.nommer.output"
OWN_VALUE = b"1"


def copy_stream(src, dst, total=None, progress=None, cancel=None, rate=0):
    """Copy file object ``src`` into ``dst`` in chunks; returns the byte count.

    ``rate`` caps the speed in bytes per second (0: no cap); the pause it
    needs is a wait on ``cancel``, so a canceled copy stops at once.
    """
    done = 0
    chunk_size = min(CHUNK, max(16 * 1024, rate // 8)) if rate else CHUNK
    started = time.monotonic()
    while True:
        if cancel is not None and cancel.is_set():
            raise Canceled("the copy was canceled")
        chunk = src.read(chunk_size)
        if not chunk:
            return done
        dst.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        if rate:
            ahead = done / rate - (time.monotonic() - started)
            if ahead > 0 and cancel is not None and cancel.wait(ahead):
                raise Canceled("the copy was canceled")
            elif ahead > 0 and cancel is None:
                time.sleep(ahead)


def atomic_write(path, write, mark=False, before_replace=None):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it
    into place, so that a reader sees either nothing or the whole file.

    ``mark`` puts nommer's mark on the file (where the file system keeps
    extended attributes); ``before_replace()`` is called last, just before
    the rename, and may raise to leave ``path`` as it is."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")
    try:
        with open(tmp, "wb") as f:
            result = write(f)
            f.flush()
            if mark:
                _mark(f.fileno())
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def atomic_link(src_path, path, mark=False, before_replace=None, linked=None):
    """Put the file at ``src_path`` at ``path`` too, without copying a byte:
    a hard link under a temporary name beside ``path``, flushed to disk, then
    renamed into place, so that a reader sees either nothing or the whole
    file. Returns its size, or None when it cannot be linked (another file
    system, a file system or a rule that refuses hard links, not a regular
    file): then it must be copied. ``mark`` and ``before_replace`` as in
    :func:`atomic_write`; ``linked(size)`` is called once the temporary
    link is made, before ``before_replace``."""
    path = pathlib.Path(path)
    try:
        info = os.lstat(src_path)
        if not stat.S_ISREG(info.st_mode) or info.st_dev != os.stat(path.parent).st_dev:
            return None
    except OSError:
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")
    try:
        os.link(src_path, tmp, follow_symlinks=False)
    except OSError:
        return None
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            if mark:
                _mark(fd)
            os.fsync(fd)  # what ffmpeg wrote may not be on disk yet
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if linked is not None:
            linked(size)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def remove_stale_parts(path):
    """Remove temporary files of earlier writes of ``path`` whose writer died
    (an encoder killed during its upload)."""
    path = pathlib.Path(path)
    # Names compared as they are: a glob pattern would be compiled anew for
    # every output's name, which costs more than the look itself.
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and n.endswith(".part")]
    except OSError:
        return
    for name in names:
        try:
            pid = int(name[len(prefix):].split(".")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            (path.parent / name).unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def _inside(path, folder):
    """Whether ``path`` is ``folder`` or inside it; both are resolved absolute
    paths as text (compared as text: this runs for every URI of every
    submission, and pathlib's ``parents`` costs tens of times more)."""
    return path == folder or path.startswith(folder if folder.endswith("/") else folder + "/")


# What a stat of a path that is not there (yet) fails with; any other failure
# (a folder nommer may not enter) makes the path unusable.
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _mark(fd):
    try:
        os.setxattr(fd, OWN_MARK, OWN_VALUE)
    except OSError:
        pass  # a file system without extended attributes: the file stays unmarked


def written_by_nommer(path):
    """True when the file at ``path`` carries nommer's mark (see OWN_MARK)."""
    try:
        return os.getxattr(path, OWN_MARK, follow_symlinks=False) == OWN_VALUE
    except OSError:
        return False


class _Folders:
    """The folders (lstat, and whether this process may write in them) that
    the checks of submissions found, taken as they were for
    ``FOLDER_SECONDS``: a burst of submissions from one folder to another
    looks at each folder once, not once per submission. Only the checks at
    submission use it; the encoder resolves every path again when it opens
    or writes the file (links refused there), so a folder changed meanwhile
    is caught where it matters. Files and failures are never kept.

    Threads: shared by every request thread; each call is one dict
    operation, which the interpreter makes atomic."""

    __slots__ = ("seconds", "found")

    def __init__(self, seconds=FOLDER_SECONDS):
        self.seconds = seconds
        self.found = {}  # path: [lstat, writable (None: not asked yet), until (monotonic)]

    def get(self, path):
        entry = self.found.get(path)
        if entry is not None and entry[2] > time.monotonic():
            return entry
        return None

    def keep(self, path, info):
        if len(self.found) >= FOLDERS_KEPT:
            for old in list(self.found)[:FOLDERS_KEPT // 2]:
                self.found.pop(old, None)
        self.found[path] = [info, None, time.monotonic() + self.seconds]


class _Lstats:
    """``os.lstat`` of each path asked, once: the answers of one look at a
    submission's URIs, whose paths share their leading folders (a source and
    its destinations), so that each folder is looked at once, not once per
    URI and once more per check. A failed lstat is kept as its OSError.
    With ``folders`` (a :class:`_Folders`), a folder found by a recent look
    is taken from there."""

    __slots__ = ("seen", "folders")

    def __init__(self, folders=None):
        self.seen = {}
        self.folders = folders

    def lstat(self, path):
        """The lstat of ``path``; raises its OSError."""
        found = self.seen.get(path)
        if found is None:
            kept = self.folders.get(path) if self.folders is not None else None
            if kept is not None:
                found = kept[0]
            else:
                try:
                    found = os.lstat(path)
                except OSError as e:
                    found = e
                else:
                    if self.folders is not None and stat.S_ISDIR(found.st_mode):
                        self.folders.keep(path, found)
            self.seen[path] = found
        if isinstance(found, OSError):
            raise found
        return found

    def writable(self, path):
        """``os.access(path, os.W_OK)`` of a folder ``path``."""
        kept = self.folders.get(path) if self.folders is not None else None
        if kept is None:
            return os.access(path, os.W_OK)
        if kept[1] is None:
            kept[1] = os.access(path, os.W_OK)
        return kept[1]

    def stat(self, path):
        """The stat of ``path`` (links followed): its lstat when it is no link."""
        info = self.lstat(path)
        return os.stat(path) if stat.S_ISLNK(info.st_mode) else info

    def lexists(self, path):
        try:
            self.lstat(path)
        except OSError:
            return False
        return True

    def realpath(self, path):
        """``os.path.realpath(path)`` of an absolute text path, the same
        answer by the same steps (links followed, ``..`` after them; a loop
        of links left unresolved), its lstats kept."""
        resolved, _ = self._join("/", path[1:], {})
        return os.path.abspath(resolved)

    def _join(self, path, rest, seen):
        # posixpath._joinrealpath (non-strict), with self.lstat
        while rest:
            name, _, rest = rest.partition("/")
            if not name or name == ".":
                continue
            if name == "..":
                if path:
                    path, name = os.path.split(path)
                    if name == "..":
                        path = os.path.join(path, "..", "..")
                else:
                    path = ".."
                continue
            # os.path.join(path, name), for a name without "/": a join per
            # folder of every URI of every submission
            newpath = path + name if path.endswith("/") else path + "/" + name
            try:
                is_link = stat.S_ISLNK(self.lstat(newpath).st_mode)
            except OSError:
                is_link = False
            if not is_link:
                path = newpath
                continue
            if newpath in seen:
                path = seen[newpath]
                if path is not None:
                    continue  # already resolved
                return os.path.join(newpath, rest), False  # a loop
            seen[newpath] = None  # resolving
            target = os.readlink(newpath)
            if target.startswith("/"):
                path, ok = self._join("/", target[1:], seen)
            else:
                path, ok = self._join(path, target, seen)
            if not ok:
                return os.path.join(path, rest), False
            seen[newpath] = path
        return path, True


def _nearest_existing(path, lstats=None):
    """``(path or its nearest ancestor that exists, its stat)``; ``(None,
    None)`` when none does. Raises the OSError of a stat that failed for
    another reason than absence."""
    look = lstats.stat if lstats is not None else os.stat
    while True:
        try:
            return path, look(path)
        except OSError as e:
            if e.errno not in _ABSENT:
                raise
        parent = os.path.dirname(path)
        if parent == path:
            return None, None
        path = parent


def check_path_length(path, field):
    """Raise InvalidInput naming ``field`` when a name in ``path`` (text) is
    longer than a file system takes, or the whole path is."""
    text = str(path)
    if len(text) * 4 <= MAX_PATH_BYTES and max(map(len, text.split("/"))) * 4 <= MAX_NAME_BYTES:
        return  # too short to be too long: UTF-8 takes at most 4 bytes a character
    data = os.fsencode(text)
    if len(data) > MAX_PATH_BYTES:
        raise InvalidInput(field, f"the path is {len(data)} bytes long; at most {MAX_PATH_BYTES} bytes are allowed")
    for name in data.split(b"/"):
        if len(name) > MAX_NAME_BYTES:
            start = os.fsdecode(name[:24])
            raise InvalidInput(
                field, f"the name {start!r}... is {len(name)} bytes long; "
                f"a file or folder name may have at most {MAX_NAME_BYTES} bytes")


class _Look:
    """FileStorage.looking's context: a look for this thread, unless an
    outer one holds already (a class: it is entered for every submission)."""

    __slots__ = ("looks", "folders", "outer")

    def __init__(self, looks, folders):
        self.looks = looks
        self.folders = folders
        self.outer = False

    def __enter__(self):
        self.outer = getattr(self.looks, "memo", None) is not None
        if not self.outer:
            self.looks.memo = {}
            self.looks.lstats = _Lstats(self.folders)
        return self

    def __exit__(self, *exc):
        if not self.outer:
            self.looks.memo = self.looks.lstats = None
        return False


class FileStorage(Storage):
    """``file:///absolute/path`` confined to a list of root folders, never
    at or inside an ``excluded`` path (nommer's own files: the data folder,
    the configuration file).

    An existing file is replaced only when nommer wrote it (it carries
    nommer's mark, see OWN_MARK) or ``allow_overwrite`` is set.
    """

    schemes = ("file",)

    def __init__(self, roots, excluded=(), rate=0, allow_overwrite=False):
        self.roots = [pathlib.Path(r).resolve() for r in roots]
        self.excluded = [pathlib.Path(r).resolve() for r in excluded]
        self._root_texts = [str(r) for r in self.roots]
        self._excluded_texts = [(str(f), f) for f in self.excluded]
        self._looks = threading.local()  # .memo: {uri: _resolve's answer} while looking
        self._folders = _Folders()  # of the looks at submissions
        self.rate = rate
        self.allow_overwrite = allow_overwrite

    def looking(self):
        """See Storage.looking: inside, each URI is resolved and stat'ed
        once for this thread (a submission asks where each URI leads, then
        whether it can be used: a realpath and a stat each time otherwise).
        The folders on the way are taken as recent looks found them (see
        _Folders)."""
        return _Look(self._looks, self._folders)

    def _lstats(self):
        """The lstats of the look in progress; fresh ones outside a look."""
        return getattr(self._looks, "lstats", None) or _Lstats()

    def path_of(self, uri, field="uri"):
        return pathlib.Path(self._resolve(uri, field)[0])

    def _resolve(self, uri, field):
        """The real path ``uri`` names (text, links and ``..`` followed),
        checked to be inside the roots, and what a stat of it found:
        ``(path, stat result or None, the OSError of the stat or None)``."""
        memo = getattr(self._looks, "memo", None)
        if memo is not None and uri in memo:
            return memo[uri]
        resolved = self._resolve_now(uri, field)
        if memo is not None:
            memo[uri] = resolved
        return resolved

    def _resolve_now(self, uri, field):
        parts = urllib.parse.urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(
                field,
                f"{shown(uri)!r} names host {parts.netloc.rpartition('@')[2]!r}; a file URI needs an absolute "
                "path: file:///folder/file.mp4",
            )
        try:
            raw = urllib.parse.unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidInput(field, "has percent-encoded bytes that are not UTF-8 text") from None
        if "\x00" in raw:
            raise InvalidInput(field, "a file path cannot hold a NUL character (%00)")
        if not raw.startswith("/"):
            raise InvalidInput(field, f"{shown(uri)!r} is not an absolute path; write file:///folder/file")
        if parts.query or parts.fragment:
            raise InvalidInput(field, "a file URI takes no ?query or #fragment")
        check_path_length(raw, field)
        lstats = self._lstats()
        try:
            path = lstats.realpath(raw)  # follows symbolic links and ..
        except OSError as e:
            raise InvalidInput(field, f"{raw} cannot be used: {e.strerror or e}") from None
        # realpath leaves a loop of links unresolved without a word; the stat
        # that the checks need anyway finds it.
        try:
            info, failure = lstats.stat(path), None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise InvalidInput(field, f"{raw} leads through a loop of symbolic links") from None
            info, failure = None, e
        check_path_length(path, field)  # links followed, it may have grown
        self._confine(path, raw, field)
        return path, info, failure

    def location(self, uri, field="uri"):
        """Where ``uri`` leads, links and ``..`` followed, as a tuple of names;
        two URIs of the same file or folder have the same one."""
        path = self._resolve(uri, field)[0]  # absolute and normal: no "", "." or ".." names
        return ("file", "/", *filter(None, path.split("/")))

    def _confine(self, path, shown_path, field):
        path = os.fspath(path)
        if not any(_inside(path, root) for root in self._root_texts):
            roots = ", ".join(self._root_texts) or "none configured"
            raise InvalidInput(
                field,
                f"{shown_path} is outside the folders nommer may use ({roots}); "
                "add its folder to the file_roots setting",
            )
        for text, folder in self._excluded_texts:
            if _inside(path, text):
                raise InvalidInput(
                    field,
                    f"{shown_path} is one of nommer's own files ({folder}: the data folder, "
                    "with the job store, work folders and logs, or the configuration file); "
                    "use another folder",
                )

    def check(self, uri, *, write, field="uri"):
        path, info, failure = self._resolve(uri, field)
        try:
            if failure is not None and failure.errno not in _ABSENT:
                raise failure
            if uri.endswith("/") or (info is not None and stat.S_ISDIR(info.st_mode)):
                raise InvalidInput(field, f"{path} is a folder; name a file")
            if info is not None and not stat.S_ISREG(info.st_mode):
                raise InvalidInput(field, f"{path} is not a regular file (a device, pipe or socket)")
            if write:
                lstats = self._lstats()
                parent, parent_info = _nearest_existing(os.path.dirname(path), lstats)
                if parent_info is None or not stat.S_ISDIR(parent_info.st_mode):
                    raise InvalidInput(field, f"cannot create a file under {os.path.dirname(path)}")
                if not lstats.writable(parent):
                    raise InvalidInput(field, f"{parent} is not writable")
                self._may_replace(path, field, exists=info is not None or lstats.lexists(path))
        except OSError as e:
            raise InvalidInput(field, f"{path} cannot be used: {e.strerror or e}") from None

    def _may_replace(self, path, field, exists=None):
        """Raise InvalidInput unless writing ``path`` replaces nothing nommer
        may not replace. ``exists`` is True when the caller knows something
        is there; None to look."""
        if exists is None:
            exists = os.path.lexists(path)
        if self.allow_overwrite or not exists or written_by_nommer(path):
            return
        raise InvalidInput(
            field,
            f"{path} exists and nommer did not write it; nommer replaces only files it "
            "wrote itself for an earlier job (set allow_overwrite to let it replace any file)",
        )

    def check_folder(self, uri, *, write, field="uri"):
        path = self.path_of(uri, field)
        try:
            if path.exists() and not path.is_dir():
                raise InvalidInput(field, f"{path} is a file; name a folder")
            if write:
                parent = next((p for p in (path, *path.parents) if p.exists()), None)
                if parent is None or not parent.is_dir():
                    raise InvalidInput(field, f"cannot create a folder at {path}")
                if not os.access(parent, os.W_OK):
                    raise InvalidInput(field, f"{parent} is not writable")
        except OSError as e:
            raise InvalidInput(field, f"{path} cannot be used: {e.strerror or e}") from None

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        path = self.path_of(uri)
        src = self._open_source(path)
        with src, open(dest_path, "wb") as dst:
            total = os.fstat(src.fileno()).st_size
            return copy_stream(src, dst, total, progress, cancel, self.rate)

    def local_file(self, uri):
        path = self.path_of(uri)
        with self._open_source(path) as src:
            info = os.fstat(src.fileno())
            # Where the open file really is, links and all followed.
            where = os.path.realpath(f"/proc/self/fd/{src.fileno()}")
        if not os.path.isabs(where) or not os.path.exists(where):
            where = str(path)
        return LocalFile(where, info.st_dev, info.st_ino, info.st_size)

    def _open_source(self, path):
        """``path`` opened for reading, refused unless it is a regular file
        that is still inside the roots once open."""
        try:
            # O_NOFOLLOW: a link put in place since path_of resolved the path
            # is refused; O_NONBLOCK: a pipe cannot hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise JobFailed(f"source {path} does not exist", code="SOURCE_NOT_FOUND") from None
        except PermissionError:
            raise JobFailed(f"source {path} cannot be read (permission denied)", code="SOURCE_UNREADABLE") from None
        except OSError as e:
            raise JobFailed(f"source {path} cannot be opened: {e.strerror}", code="SOURCE_UNREADABLE") from None
        src = os.fdopen(fd, "rb")
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise JobFailed(f"source {path} is a folder, not a file", code="SOURCE_UNREADABLE")
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise JobFailed(f"source {path} is not a regular file", code="SOURCE_UNSAFE")
            # A folder on the way may have been swapped for a link meanwhile;
            # where the open file really is settles it.
            opened = pathlib.Path(os.path.realpath(f"/proc/self/fd/{fd}"))
            if opened.is_absolute() and os.path.exists(f"/proc/self/fd/{fd}"):
                try:
                    self._confine(opened, str(path), "source")
                except InvalidInput as e:
                    raise JobFailed(str(e), code="SOURCE_UNSAFE") from None
        except BaseException:
            src.close()
            raise
        return src

    def put(self, src_path, uri, progress=None, cancel=None):
        path = self._destination(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path_of(uri)  # again: a folder made or swapped meanwhile must not lead out
            total = os.path.getsize(src_path)
            if cancel is not None and cancel.is_set():
                raise Canceled("the copy was canceled")
            # On the work folder's own file system the output is linked into
            # place rather than copied: no byte written twice.
            def still_wanted():
                if cancel is not None and cancel.is_set():
                    raise Canceled("the copy was canceled")
                self._destination(uri)

            size = atomic_link(src_path, path, mark=True, before_replace=still_wanted,
                               linked=None if progress is None else lambda size: progress(size, total))
            if size is None:
                with open(src_path, "rb") as src:
                    size = atomic_write(
                        path, lambda dst: copy_stream(src, dst, total, progress, cancel, self.rate),
                        mark=True, before_replace=lambda: self._destination(uri))
            remove_stale_parts(path)
            return size
        except OSError as e:
            raise JobFailed(f"cannot write {path}: {e.strerror or e}", code="UPLOAD_FAILED") from None

    def put_folder(self, src_dir, uri, progress=None, cancel=None):
        # Every file is checked before the first is written, so that a
        # refused one leaves the folder as it was.
        for name in folder_files(src_dir):
            self._destination(uri + name)
        return super().put_folder(src_dir, uri, progress=progress, cancel=cancel)

    def _destination(self, uri):
        """The path of destination ``uri``; JobFailed when it may not be written."""
        try:
            path = self.path_of(uri, "destination")
            self._may_replace(path, "destination")
        except InvalidInput as e:
            raise JobFailed(str(e), code="DESTINATION_INVALID") from None
        return path


class HttpStorage(Storage):
    """Downloads ``http://`` and ``https://`` sources; it cannot write.

    Every connection, redirects included, goes only where ``policy`` allows.
    A ``user:password@`` in the URI is sent as HTTP basic authentication, to
    the URI's own host only (never along a redirect).
    """

    schemes = ("http", "https")
    writable = False

    def __init__(self, policy=None, timeout=30.0, rate=0):
        self.policy = policy or AddressPolicy()
        self.timeout = timeout
        self.rate = rate
        self._opener = opener(self.policy)

    def check(self, uri, *, write, field="uri"):
        if write:
            raise InvalidInput(field, "http(s):// URIs can be read but not written")
        parts = urllib.parse.urlsplit(uri)
        if not parts.hostname:
            raise InvalidInput(field, f"{shown(uri)!r} has no host")
        try:
            parts.port
        except ValueError:
            raise InvalidInput(field, f"{shown(uri)!r} has a bad port") from None
        self.policy.check_url(uri, field)

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        shown = redact(uri)
        bare, authorization = basic_auth(uri)
        request = urllib.request.Request(bare, headers={"User-Agent": "nommer"})
        if authorization:
            # Unredirected: a redirect to another host must not take it along.
            request.add_unredirected_header("Authorization", authorization)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with open(dest_path, "wb") as dst:
                    return copy_stream(response, dst, total, progress, cancel, self.rate)
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise JobFailed(f"source {shown} was not found (HTTP {e.code})", code="SOURCE_NOT_FOUND") from None
            if e.code >= 500 or e.code == 429:
                raise TransientError(f"source {shown} answered HTTP {e.code}") from None
            raise JobFailed(f"source {shown} answered HTTP {e.code} {e.reason}", code="SOURCE_UNREADABLE") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            refused = refused_reason(e)
            if refused is not None:
                raise JobFailed(f"source {shown}: {refused}", code="SOURCE_UNSAFE") from None
            reason = getattr(e, "reason", e)
            raise TransientError(f"cannot download {shown}: {reason}") from None

    def put(self, src_path, uri, progress=None, cancel=None):
        raise InvalidInput("destination", "http(s) destinations cannot be written")
