"""Storage of ``s3://bucket/key`` objects.

Downloads stream GetObject's body to the local file in chunks (progress,
cancel). Uploads go through boto3's transfer manager: one PutObject for a
small file, a multipart upload in ``part_size`` parts for a big one. S3 shows
an object only once it is complete, so a reader never sees half an output;
a failed or canceled multipart upload is aborted.

media-nommer's ``s3://KEY_ID:SECRET@bucket/key`` still works: that call gets
a client of its own with those keys. The keys never reach a log line or an
error message (they are scrubbed from AWS's messages too).

A legacy us-east-1 bucket name (upper case, underscores: media-nommer's docs
used ``nommer_in``) is no valid host name, so its calls go through a client
that addresses the bucket in the path; every other bucket keeps boto3's
default (virtual-hosted) addressing.
"""

import os
import threading

import botocore.exceptions
import structlog
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from nommer.core import s3uri
from nommer.core.adapters import aws
from nommer.core.adapters.local_storage import copy_stream
from nommer.core.errors import Canceled, JobFailed, TransientError
from nommer.core.model.media_types import media_type
from nommer.core.ports.storage import Storage

# Lazy: resolved at each call, after the process configured logging.
log = structlog.get_logger("nommer.s3")

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId",
                     "SignatureDoesNotMatch", "AccountProblem", "InvalidObjectState", "403"})


class _Progress(BaseSubscriber):
    """Adds up the transfer manager's progress (from its worker threads) and
    stops the upload when the job is canceled."""

    def __init__(self, total, progress, cancel):
        self.total = total
        self.progress = progress
        self.cancel = cancel
        self.done = 0
        self.lock = threading.Lock()

    def on_progress(self, future, bytes_transferred, **kwargs):
        if self.cancel is not None and self.cancel.is_set():
            raise Canceled("the upload was canceled")
        with self.lock:
            # A retried part reports negative progress first.
            self.done = min(self.total, max(0, self.done + bytes_transferred))
            done = self.done
        if self.progress is not None:
            self.progress(done, self.total)


class S3Storage(Storage):
    schemes = ("s3",)

    def __init__(self, region=None, part_size=8 * 1024 * 1024, max_concurrency=4,
                 retries=None):
        self.region = region
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.retries = retries or aws.RETRIES
        self._clients = {}  # addressing style -> client of URIs without credentials
        self._lock = threading.Lock()

    @property
    def client(self):
        """The client of URIs without credentials (boto3's default chain)."""
        return self._shared_client("auto")

    def _shared_client(self, style):
        with self._lock:
            if style not in self._clients:
                self._clients[style] = aws.client(
                    "s3", self.region, retries=self.retries,
                    max_pool_connections=self.max_concurrency * 4, s3={"addressing_style": style})
            return self._clients[style]

    def _client_for(self, location):
        style = addressing_style(location)
        if location.has_credentials:
            # Made per call and dropped: these keys belong to this URI only.
            return aws.client("s3", self.region, key_id=location.key_id,
                              secret=location.secret, retries=self.retries,
                              s3={"addressing_style": style})
        return self._shared_client(style)

    def check(self, uri, *, write, field="uri"):
        """See Storage.check: the URI's shape only (bucket naming rules, a key,
        no trailing slash); no network call."""
        s3uri.parse(uri, field)

    def location(self, uri, field="uri"):
        """See Storage.location. S3 takes keys literally (``a//b`` and ``a/b``
        are two objects), and so does this."""
        # A folder URI ends in "/", which parse refuses for a file: parse
        # the URI of a file in it and drop that name.
        folder = uri.endswith("/")
        where = s3uri.parse(uri + "x" if folder else uri, field)
        names = where.key.split("/")
        return ("s3", where.bucket, *(names[:-1] if folder else names))

    def fetch(self, uri, dest_path, progress=None, cancel=None):
        location = s3uri.parse(uri, "source")
        client = self._client_for(location)
        log.debug("downloading", uri=location.shown())
        try:
            answer = client.get_object(Bucket=location.bucket, Key=location.key)
            body = answer["Body"]
            try:
                with open(dest_path, "wb") as dst:
                    return copy_stream(body, dst, answer.get("ContentLength"), progress, cancel)
            finally:
                body.close()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._failure(e, location, reading=True) from None

    def put(self, src_path, uri, progress=None, cancel=None):
        location = s3uri.parse(uri, "destination")
        client = self._client_for(location)
        total = os.path.getsize(src_path)
        config = TransferConfig(multipart_threshold=self.part_size,
                                multipart_chunksize=self.part_size,
                                max_request_concurrency=self.max_concurrency)
        # nommer's own table, never the host's mime.types.
        extra = {"ContentType": media_type(location.key)}
        subscriber = _Progress(total, progress, cancel)
        log.debug("uploading", uri=location.shown(), size=total)
        try:
            with TransferManager(client, config) as manager:
                future = manager.upload(str(src_path), location.bucket, location.key,
                                        extra_args=extra, subscribers=[subscriber])
                self._wait(future, cancel)
        except Canceled:
            raise
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._failure(e, location, reading=False) from None
        if progress is not None and subscriber.done < total:
            progress(total, total)  # an empty file reports no progress of its own
        return total

    @staticmethod
    def _wait(future, cancel):
        """Wait for the upload; cancel it (the transfer manager aborts a
        multipart upload) when ``cancel`` is set."""
        if cancel is None:
            return future.result()
        while not future.done():
            if cancel.wait(0.1):
                future.cancel()
                break
        try:
            return future.result()
        except Exception:
            if cancel.is_set():
                raise Canceled("the upload was canceled") from None
            raise

    def _failure(self, error, location, reading):
        """The nommer error for a failed S3 call, with no credential in it."""
        shown = location.shown()
        code = aws.error_code(error) if isinstance(error, botocore.exceptions.ClientError) else ""
        status = aws.http_status(error)
        reason = _scrub(aws.describe(error), location)
        if aws.is_transient(error):
            return TransientError(f"S3 {shown}: {reason}")
        if code in _NOT_FOUND or status == 404:
            what = "bucket" if code == "NoSuchBucket" else "object"
            name = location.bucket if what == "bucket" else shown
            if reading:
                return JobFailed(f"source {shown} was not found: the {what} {name} does not exist",
                                 code="SOURCE_NOT_FOUND")
            return JobFailed(f"cannot write {shown}: the {what} {name} does not exist",
                             code="UPLOAD_FAILED")
        if code in _DENIED or status == 403:
            if reading:
                return JobFailed(f"source {shown} cannot be read: access denied ({reason})",
                                 code="SOURCE_UNREADABLE")
            return JobFailed(f"cannot write {shown}: access denied ({reason})",
                             code="UPLOAD_FAILED")
        if reading:
            return JobFailed(f"source {shown} cannot be read: {reason}", code="SOURCE_UNREADABLE")
        return JobFailed(f"cannot write {shown}: {reason}", code="UPLOAD_FAILED")


def _scrub(text, location):
    for secret in (location.secret, location.key_id):
        if secret:
            text = text.replace(secret, "***")
    return text


def addressing_style(location):
    """botocore's addressing style for ``location``: ``path`` for a legacy
    bucket name that is no valid host name, else boto3's default."""
    return "path" if location.path_style else "auto"
