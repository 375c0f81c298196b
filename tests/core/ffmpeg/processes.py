"""Helpers of the ffmpeg tests that start processes."""

import os
import signal
import time

import pytest


def kill_parent_and_expect_child_gone(parent, child, seconds=5):
    """SIGKILL ``parent`` (a Popen) and fail unless its ffmpeg ``child``
    (a pid) is gone within ``seconds``."""
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("ffmpeg outlived its parent")
