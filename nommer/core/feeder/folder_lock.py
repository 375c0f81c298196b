"""One feeder per data folder.

Two feeders on one data folder would share its store and queues, start two
fleets of encoders for the same work and answer different things about it.
The first feeder holds an advisory lock on ``<data folder>/feeder.pid`` (the
kernel lets go of it when the process ends, however it ends), and a second
one refuses to start, naming the folder and the first one's pid.
"""

import fcntl
import os

from nommer.core.errors import ConfigError

LOCK_NAME = "feeder.pid"


class FolderInUse(ConfigError):
    """Another feeder runs on this data folder."""


class FolderLock:
    def __init__(self, folder):
        self.path = folder / LOCK_NAME
        self.fd = None

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FolderInUse(
                f"data_dir: {self.path.parent} is in use by another feeder (pid {other}); "
                "stop that one, or give this one another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing lets go of the lock; the file may stay
            self.fd = None
