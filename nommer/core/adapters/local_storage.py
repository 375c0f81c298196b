"""Storage adapters of the embedded default: ``file://`` under allowed roots,
and ``http(s)://`` for reading sources."""

import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request

from nommer.core.errors import Canceled, InvalidInput, JobFailed, TransientError
from nommer.core.storage import Storage, redact

CHUNK = 1024 * 1024


def copy_stream(src, dst, total=None, progress=None, cancel=None):
    """Copy file object ``src`` into ``dst`` in chunks; returns the byte count."""
    done = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise Canceled("the copy was canceled")
        chunk = src.read(CHUNK)
        if not chunk:
            return done
        dst.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)


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


class FileStorage(Storage):
    """``file:///absolute/path`` confined to a list of root folders."""

    schemes = ("file",)

    def __init__(self, roots):
        self.roots = [pathlib.Path(r).resolve() for r in roots]

    def path_of(self, uri, field="uri"):
        parts = urllib.parse.urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(
                field,
                f"{uri!r} names host {parts.netloc!r}; a file URI needs an absolute "
                "path: file:///folder/file.mp4",
            )
        raw = urllib.parse.unquote(parts.path)
        if not raw.startswith("/"):
            raise InvalidInput(field, f"{uri!r} is not an absolute path; write file:///folder/file")
        if parts.query or parts.fragment:
            raise InvalidInput(field, f"{uri!r}: a file URI takes no ?query or #fragment")
        path = pathlib.Path(raw).resolve()  # follows symbolic links and ..
        if not any(path == root or root in path.parents for root in self.roots):
            roots = ", ".join(str(r) for r in self.roots)
            raise InvalidInput(
                field,
                f"{raw} is outside the folders nommer may use ({roots}); "
                "add its folder to the file_roots setting",
            )
        return path

    def check(self, uri, *, write, field="uri"):
        path = self.path_of(uri, field)
        if uri.endswith("/") or (path.exists() and path.is_dir()):
            raise InvalidInput(field, f"{path} is a folder; name a file")
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
        try:
            src = open(path, "rb")
        except FileNotFoundError:
            raise JobFailed(f"source {path} does not exist", code="SOURCE_NOT_FOUND") from None
        except IsADirectoryError:
            raise JobFailed(f"source {path} is a folder, not a file", code="SOURCE_UNREADABLE") from None
        except PermissionError:
            raise JobFailed(f"source {path} cannot be read (permission denied)", code="SOURCE_UNREADABLE") from None
        with src, open(dest_path, "wb") as dst:
            total = os.fstat(src.fileno()).st_size
            return copy_stream(src, dst, total, progress, cancel)

    def put(self, src_path, uri, progress=None, cancel=None):
        path = self.path_of(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            total = os.path.getsize(src_path)
            with open(src_path, "rb") as src:
                return atomic_write(path, lambda dst: copy_stream(src, dst, total, progress, cancel))
        except OSError as e:
            raise JobFailed(f"cannot write {path}: {e.strerror or e}", code="UPLOAD_FAILED") from None


class HttpStorage(Storage):
    """Downloads ``http://`` and ``https://`` sources; it cannot write."""

    schemes = ("http", "https")
    writable = False

    def __init__(self, timeout=30.0):
        self.timeout = timeout

    def check(self, uri, *, write, field="uri"):
        parts = urllib.parse.urlsplit(uri)
        if not parts.hostname:
            raise InvalidInput(field, f"{redact(uri)!r} has no host")
        try:
            parts.port
        except ValueError:
            raise InvalidInput(field, f"{redact(uri)!r} has a bad port") from None

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        shown = redact(uri)
        request = urllib.request.Request(uri, headers={"User-Agent": "nommer"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with open(dest_path, "wb") as dst:
                    return copy_stream(response, dst, total, progress, cancel)
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise JobFailed(f"source {shown} was not found (HTTP {e.code})", code="SOURCE_NOT_FOUND") from None
            if e.code >= 500 or e.code == 429:
                raise TransientError(f"source {shown} answered HTTP {e.code}") from None
            raise JobFailed(f"source {shown} answered HTTP {e.code} {e.reason}", code="SOURCE_UNREADABLE") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise TransientError(f"cannot download {shown}: {reason}") from None

    def put(self, src_path, uri, progress=None, cancel=None):
        raise InvalidInput("destination", "http(s) destinations cannot be written")
