"""Where the pieces of accelerated jobs wait to be stitched (``scratch_uri``):
a folder every encoder reaches (locally, ``data_dir/scratch``) or an S3
prefix. One folder per job and attempt; a job's folder goes when it ends,
deleted by whoever finds it ended (deleting twice is harmless).
"""

import os
import pathlib
import shutil
import tempfile
import urllib.parse

from nommer.core import s3uri


def location(config):
    """Where ``config`` keeps scratch files: a pathlib.Path, an ``s3://``
    folder URI (ending in /), or None when there is no place every encoder
    reaches (AWS without ``scratch_uri``)."""
    uri = config.scratch_uri
    if not uri:
        return config.data_dir / "scratch" if config.backend == "local" else None
    if s3uri.is_s3(uri):
        return uri.rstrip("/") + "/"
    if uri.startswith("file://"):
        uri = urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    return pathlib.Path(uri).expanduser().resolve()


class Scratch:
    """Files of accelerated jobs, by job id, attempt and name."""

    def __init__(self, config, storage=None):
        self.root = location(config)
        self.storage = storage  # for an S3 prefix

    @property
    def available(self):
        return self.root is not None

    @property
    def on_s3(self):
        return isinstance(self.root, str)

    def _uri(self, job_id, attempt, name=""):
        return f"{self.root}{job_id}/{attempt}/{name}"

    def _path(self, job_id, attempt, name):
        if "/" in name or name.startswith("."):
            raise ValueError(f"unsafe scratch file name {name!r}")
        return self.root / job_id / str(attempt) / name

    def put(self, local, job_id, attempt, name, cancel=None):
        """Store the file ``local`` as ``name`` of the job's attempt; whole or not at all."""
        if self.on_s3:
            self.storage.put(str(local), self._uri(job_id, attempt, name), cancel=cancel)
            return
        path = self._path(job_id, attempt, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
        os.close(fd)
        try:
            shutil.copyfile(local, part)
            os.replace(part, path)
        except BaseException:
            pathlib.Path(part).unlink(missing_ok=True)
            raise

    def get(self, job_id, attempt, name, local, cancel=None):
        """Copy ``name`` of the job's attempt to the file ``local``."""
        if self.on_s3:
            self.storage.fetch(self._uri(job_id, attempt, name), str(local), cancel=cancel)
            return
        shutil.copyfile(self._path(job_id, attempt, name), local)

    def remove(self, job_id):
        """Delete every file of job ``job_id``; nothing when there is none."""
        if self.root is None:
            return
        if self.on_s3:
            self._remove_s3(job_id)
            return
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def exists(self, job_id):
        if self.root is None:
            return False
        if self.on_s3:
            return bool(self._keys(job_id))
        return (self.root / job_id).exists()

    def _client_and_prefix(self, job_id):
        location = s3uri.parse(self.root + f"{job_id}/x")
        prefix = location.key[:-1]
        adapter = self.storage.adapter(self.root)
        return adapter.client, location.bucket, prefix

    def _keys(self, job_id):
        client, bucket, prefix = self._client_and_prefix(job_id)
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", ())]
        return keys

    def _remove_s3(self, job_id):
        client, bucket, _ = self._client_and_prefix(job_id)
        keys = self._keys(job_id)
        for start in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
