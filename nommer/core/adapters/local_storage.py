"""Storage adapters of the embedded default: ``file://`` under allowed roots,
and ``http(s)://`` for reading sources."""

import glob
import os
import pathlib
import stat
import time
import urllib.error
import urllib.parse
import urllib.request

from nommer.core.credentials import basic_auth
from nommer.core.errors import Canceled, InvalidInput, JobFailed, TransientError
from nommer.core.netguard import AddressPolicy, opener, refused_reason
from nommer.core.storage import Storage, redact

CHUNK = 1024 * 1024


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


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it
    into place, so that a reader sees either nothing or the whole file."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")
    try:
        with open(tmp, "wb") as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def remove_stale_parts(path):
    """Remove temporary files of earlier writes of ``path`` whose writer died
    (an encoder killed during its upload)."""
    path = pathlib.Path(path)
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        try:
            pid = int(part.name[len(path.name) + 2:].split(".")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def _inside(path, folder):
    return path == folder or folder in path.parents


class FileStorage(Storage):
    """``file:///absolute/path`` confined to a list of root folders, never
    at or inside an ``excluded`` path (nommer's own files: the job store,
    other jobs' work folders, logs)."""

    schemes = ("file",)

    def __init__(self, roots, excluded=(), rate=0):
        self.roots = [pathlib.Path(r).resolve() for r in roots]
        self.excluded = [pathlib.Path(r).resolve() for r in excluded]
        self.rate = rate

    def path_of(self, uri, field="uri"):
        parts = urllib.parse.urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(
                field,
                f"{uri!r} names host {parts.netloc!r}; a file URI needs an absolute "
                "path: file:///folder/file.mp4",
            )
        try:
            raw = urllib.parse.unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidInput(field, "has percent-encoded bytes that are not UTF-8 text") from None
        if "\x00" in raw:
            raise InvalidInput(field, "a file path cannot hold a NUL character (%00)")
        if not raw.startswith("/"):
            raise InvalidInput(field, f"{uri!r} is not an absolute path; write file:///folder/file")
        if parts.query or parts.fragment:
            raise InvalidInput(field, f"{uri!r}: a file URI takes no ?query or #fragment")
        path = pathlib.Path(raw).resolve()  # follows symbolic links and ..
        self._confine(path, raw, field)
        return path

    def _confine(self, path, shown, field):
        if not any(_inside(path, root) for root in self.roots):
            roots = ", ".join(str(r) for r in self.roots) or "none configured"
            raise InvalidInput(
                field,
                f"{shown} is outside the folders nommer may use ({roots}); "
                "add its folder to the file_roots setting",
            )
        for folder in self.excluded:
            if _inside(path, folder):
                raise InvalidInput(
                    field,
                    f"{shown} is among nommer's own files in the data folder ({folder}: "
                    "the job store, work folders, logs); use another folder",
                )

    def check(self, uri, *, write, field="uri"):
        path = self.path_of(uri, field)
        if uri.endswith("/") or (path.exists() and path.is_dir()):
            raise InvalidInput(field, f"{path} is a folder; name a file")
        if path.exists() and not path.is_file():
            raise InvalidInput(field, f"{path} is not a regular file (a device, pipe or socket)")
        if write:
            parent = next((p for p in path.parents if p.exists()), None)
            if parent is None or not parent.is_dir():
                raise InvalidInput(field, f"cannot create a file under {path.parent}")
            if not os.access(parent, os.W_OK):
                raise InvalidInput(field, f"{parent} is not writable")

    def check_folder(self, uri, *, write, field="uri"):
        path = self.path_of(uri, field)
        if path.exists() and not path.is_dir():
            raise InvalidInput(field, f"{path} is a file; name a folder")
        if write:
            parent = next((p for p in (path, *path.parents) if p.exists()), None)
            if parent is None or not parent.is_dir():
                raise InvalidInput(field, f"cannot create a folder at {path}")
            if not os.access(parent, os.W_OK):
                raise InvalidInput(field, f"{parent} is not writable")

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        path = self.path_of(uri)
        src = self._open_source(path)
        with src, open(dest_path, "wb") as dst:
            total = os.fstat(src.fileno()).st_size
            return copy_stream(src, dst, total, progress, cancel, self.rate)

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
        path = self.path_of(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path_of(uri)  # again: a folder made or swapped meanwhile must not lead out
            total = os.path.getsize(src_path)
            with open(src_path, "rb") as src:
                size = atomic_write(path, lambda dst: copy_stream(src, dst, total, progress, cancel, self.rate))
            remove_stale_parts(path)
            return size
        except OSError as e:
            raise JobFailed(f"cannot write {path}: {e.strerror or e}", code="UPLOAD_FAILED") from None


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
        parts = urllib.parse.urlsplit(uri)
        if not parts.hostname:
            raise InvalidInput(field, f"{redact(uri)!r} has no host")
        try:
            parts.port
        except ValueError:
            raise InvalidInput(field, f"{redact(uri)!r} has a bad port") from None
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
