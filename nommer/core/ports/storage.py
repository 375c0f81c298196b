"""The Storage port: reading sources and writing outputs by URI.

One adapter per scheme family (``file``, ``http(s)``, ``s3``); a
:class:`StorageRouter` picks the adapter from the URI's scheme.
"""

import abc
import contextlib
import dataclasses
import re
import os
import urllib.parse

from nommer.core import s3uri
from nommer.core.security.credentials import redact, shown  # noqa: F401 - redact is used through this module too
from nommer.core.errors import Canceled, InvalidInput

MAX_URI_LENGTH = 4096


@dataclasses.dataclass(frozen=True)
class LocalFile:
    """A source that can be read where it is: its path, and the device and
    inode of the file that was checked there (a confined reader is allowed
    that very file, see ffmpeg/sandbox.py ``--read-file``)."""

    path: str
    device: int
    inode: int
    size: int


class Storage(abc.ABC):
    schemes = ()
    writable = True

    @abc.abstractmethod
    def check(self, uri, *, write, field="uri"):
        """Raise InvalidInput (naming ``field``) when ``uri`` cannot be used:
        outside the allowed roots, malformed, or not writable."""

    @abc.abstractmethod
    def fetch(self, uri, dest_path, progress=None, cancel=None):
        """Copy the object at ``uri`` to the local file ``dest_path``.

        ``progress(done_bytes, total_bytes_or_None)`` is called now and then;
        ``cancel`` is a threading.Event that stops the copy (raises Canceled).
        Raises JobFailed for a missing or unreadable source, TransientError
        for a failure worth retrying. Returns the number of bytes.
        """

    def local_file(self, uri):
        """A :class:`LocalFile` when the source ``uri`` is a file on this
        machine that may be read in place instead of fetched, after the
        same checks as :meth:`fetch` (JobFailed as it raises them); None
        when it must be fetched."""
        return None

    @abc.abstractmethod
    def put(self, src_path, uri, progress=None, cancel=None):
        """Store the local file at ``uri`` so that a reader sees either the
        complete file or nothing. Returns the number of bytes."""

    def looking(self):
        """A context in which one thread's checks and locations of a URI
        may share one look at it (a submission's URIs are each resolved
        once, not once per question). Outside it every call looks afresh."""
        return contextlib.nullcontext()

    def location(self, uri, field="uri"):
        """Where ``uri`` leads, as a tuple that two URIs of the same object
        share (``("s3", bucket, *key names)``), so that a job cannot write its
        own source or one place twice; None when this adapter cannot tell."""
        return None

    def check_folder(self, uri, *, write, field="uri"):
        """Raise InvalidInput (naming ``field``) when files cannot be stored
        under the folder ``uri`` (which ends in ``/``). By default, checks the
        URI of a file in it."""
        self.check(uri + "index", write=write, field=field)

    def put_folder(self, src_dir, uri, progress=None, cancel=None):
        """Store every file under the local folder ``src_dir`` under the
        folder ``uri`` (ending in ``/``), keeping relative paths, each file
        complete or absent. Playlists go last, the master playlist very last,
        so that a player that finds a playlist finds what it lists.

        ``progress(done_bytes, total_bytes)`` covers the whole folder.
        Returns [(uri, bytes)] in the order stored.
        """
        files = folder_files(src_dir)
        total = sum(os.path.getsize(os.path.join(src_dir, f)) for f in files)
        stored, before = [], 0
        for name in files:
            if cancel is not None and cancel.is_set():
                raise Canceled("the upload was canceled")
            one = None if progress is None else (lambda done, _t, b=before: progress(b + done, total))
            size = self.put(os.path.join(src_dir, name), uri + name, progress=one, cancel=cancel)
            stored.append((uri + name, size))
            before += size
        return stored


def folder_files(folder):
    """Relative paths of the files under ``folder``, in upload order:
    media first, then playlists, then master playlists and DASH manifests."""
    found = []
    for base, _dirs, names in os.walk(folder):
        for name in names:
            found.append(os.path.relpath(os.path.join(base, name), folder).replace(os.sep, "/"))

    def rank(name):
        leaf = name.rsplit("/", 1)[-1]
        if leaf.endswith(".mpd"):
            return 2
        if not leaf.endswith(".m3u8"):
            return 0
        return 2 if leaf.startswith("master") else 1

    return sorted(found, key=lambda n: (rank(n), n))


# Searched on every URI of every submission: a compiled pattern, not a loop.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def scheme_of(uri, field="uri"):
    """The lower-case scheme of ``uri``; InvalidInput naming ``field`` when
    it is no URI of any scheme."""
    if isinstance(uri, str):
        scheme = _schemes.get(uri)
        if scheme is not None:
            return scheme
    scheme = _scheme_of(uri, field)
    # never keep a URI that may carry a credential: user info, or a query
    # or fragment (a signed link's signature, a token), as redact hides them
    if "@" not in uri and "?" not in uri and "#" not in uri:
        if len(_schemes) >= _SCHEMES_KEPT:
            _schemes.clear()
        _schemes[uri] = scheme
    return scheme


# The schemes of the URIs seen last: each URI of a submission is asked about
# several times (its kind, its adapter, where it leads, whether it may be used).
_schemes = {}
_SCHEMES_KEPT = 256


def _scheme_of(uri, field):
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(field, "must be a non-empty URI string")
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidInput(field, f"is longer than {MAX_URI_LENGTH} characters")
    if _CONTROL.search(uri):
        raise InvalidInput(field, "contains control characters (a URI has none; percent-encode them)")
    if _SURROGATE.search(uri):
        raise InvalidInput(field, "contains an unpaired UTF-16 surrogate, which is not text")
    if s3uri.is_s3(uri):
        return "s3"  # its own parser reads keys whose secret holds "/"
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise InvalidInput(field, f"{shown(uri)!r} is not a valid URI ({e})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidInput(
            field, f"{shown(uri)!r} has no scheme; write file:///path, http(s):// or s3://"
        )
    return scheme


class _Together:
    """Contexts entered in order and left in reverse, like an ExitStack's
    (a class of its own: this is entered for every submission)."""

    __slots__ = ("contexts", "entered")

    def __init__(self, contexts):
        self.contexts = contexts
        self.entered = 0

    def __enter__(self):
        try:
            for context in self.contexts:
                context.__enter__()
                self.entered += 1
        except BaseException as e:
            self._leave(type(e), e, e.__traceback__)
            raise
        return self

    def __exit__(self, *exc):
        self._leave(*exc)
        return False

    def _leave(self, *exc):
        while self.entered:
            self.entered -= 1
            self.contexts[self.entered].__exit__(*exc)


class StorageRouter:
    """Sends each URI to the adapter of its scheme."""

    def __init__(self, adapters):
        self._by_scheme = {}
        for adapter in adapters:
            for scheme in adapter.schemes:
                self._by_scheme[scheme] = adapter
        self._adapters = tuple({id(a): a for a in self._by_scheme.values()}.values())

    def adapter(self, uri, field="uri"):
        scheme = scheme_of(uri, field)
        try:
            return self._by_scheme[scheme]
        except KeyError:
            known = ", ".join(sorted(self._by_scheme))
            raise InvalidInput(
                field, f"scheme {scheme!r} is not supported here (use one of: {known})"
            ) from None

    def check(self, uri, *, write, field="uri", folder=False):
        """Raise InvalidInput naming ``field`` when ``uri`` cannot be used.

        ``folder`` says whether the output it names is a folder of files (HLS,
        images), whose URI must end in ``/``, or one file, whose URI must not.
        """
        adapter = self.adapter(uri, field)
        if write and not adapter.writable:
            raise InvalidInput(field, f"{scheme_of(uri)}:// URIs can be read but not written")
        if folder:
            if not uri.endswith("/"):
                raise InvalidInput(
                    field, f"{shown(uri)!r} names a file, and this output makes a folder of files: "
                    "end the URI with '/'")
            adapter.check_folder(uri, write=write, field=field)
        else:
            if uri.endswith("/"):
                raise InvalidInput(
                    field, f"{shown(uri)!r} names a folder, and this output makes one file: name the file")
            adapter.check(uri, write=write, field=field)

    def looking(self):
        """Every adapter's :meth:`Storage.looking` at once."""
        return _Together([a.looking() for a in self._adapters])

    def location(self, uri, field="uri"):
        """The adapter's :meth:`Storage.location` of ``uri``: a folder URI
        (ending in ``/``) gives the location of the folder."""
        return self.adapter(uri, field).location(uri, field)

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        return self.adapter(uri).fetch(uri, dest_path, progress=progress, cancel=cancel)

    def local_file(self, uri):
        return self.adapter(uri).local_file(uri)

    def put(self, src_path, uri, progress=None, cancel=None):
        return self.adapter(uri).put(src_path, uri, progress=progress, cancel=cancel)

    def put_folder(self, src_dir, uri, progress=None, cancel=None):
        return self.adapter(uri).put_folder(src_dir, uri, progress=progress, cancel=cancel)
