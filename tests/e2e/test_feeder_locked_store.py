"""A feeder whose SQLite file another process keeps locked answers a
submission 503 with Retry-After once its request_timeout has passed,
instead of holding the request; nothing of the refused submission is
stored, and the next one, once the lock is gone, is taken."""

import json
import sqlite3
import time
import urllib.error
import urllib.request

from nommer.testing.media import make_clip

from .feeder import FeederProcess


def post_job(base, body):
    """(status, headers, parsed body) of POST /jobs."""
    request = urllib.request.Request(base + "/jobs", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def test_a_submission_meeting_a_locked_store_is_answered_503_with_retry_after(tmp_path, ffmpeg_exe):
    media = tmp_path / "media"
    media.mkdir()
    make_clip(ffmpeg_exe, media / "tiny.mp4", seconds=0.5, size="160x120")
    feeder = FeederProcess(tmp_path, [media], autoscale="false", request_timeout=1).start()

    def body(name):
        return {"source": f"file://{media}/tiny.mp4",
                "outputs": [{"destination": f"file://{media}/{name}.mp4", "preset": "mp4-h264-360p"}]}

    try:
        # another process's long write: the lock SQLite's own waits give up on
        other = sqlite3.connect(tmp_path / "data" / "nommer.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            status, headers, answer = post_job(feeder.base, body("refused"))
            waited = time.monotonic() - started
        finally:
            other.rollback()
            other.close()
        assert status == 503, answer
        assert headers["Retry-After"] == "1"
        assert answer["error"]["code"] == "TRANSIENT", answer
        assert "locked" in answer["error"]["message"] or "busy" in answer["error"]["message"]
        # request_timeout (1 s), not the store's own patience (30 s for each of 6 tries)
        assert waited < 15, waited

        status, listed = feeder.get("/jobs")
        assert status == 200 and listed["jobs"] == []
        status, headers, job = post_job(feeder.base, body("taken"))
        assert status == 201, job
        assert "Retry-After" not in headers
    finally:
        assert feeder.stop() == 0
