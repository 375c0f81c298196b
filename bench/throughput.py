"""Submissions accepted per second through the API with the SQLite store.
No encoder runs (autoscale off), so the figure is the feeder's alone."""

import pathlib
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402


def main(clients=8, per_client=250):
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "tiny.mp4", seconds=0.5, size="160x120")
        with common.feeder([media], autoscale="false") as (port, _):
            errors = []

            def submit(worker):
                client = common.Client(port)
                for n in range(per_client):
                    status, job = client.call("POST", "/jobs", {
                        "source": f"file://{source}",
                        "outputs": [{"destination": f"file://{media}/{worker}-{n}.mp4",
                                     "preset": "mp4-h264-360p"}]})
                    if status != 201:
                        errors.append(job)
                client.close()

            threads = [threading.Thread(target=submit, args=(w,)) for w in range(clients)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            client = common.Client(port)
            status, page = client.call("GET", "/jobs?state=PENDING&limit=1000")
    total = clients * per_client
    assert not errors, errors[:3]
    return {"submissions": total, "clients": clients, "seconds": elapsed, "per_second": total / elapsed}


if __name__ == "__main__":
    r = main()
    print(f"{r['submissions']} submissions from {r['clients']} clients in {r['seconds']:.2f} s: "
          f"{r['per_second']:.0f}/s")
