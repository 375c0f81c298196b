"""Submit to DOWNLOADING with an idle encoder: the time from the moment the
client sends ``POST /jobs`` to the encoder's claim (the job's ``started_at``,
written by the encoder; same machine, same wall clock)."""

import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.core.model.jobs import parse_time  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402


def main(jobs=60):
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "tiny.mp4", seconds=0.5, size="160x120")
        samples = []
        with common.feeder([media], min_encoders=1, max_encoders=1, jobs_per_encoder=1,
                           max_inactivity=600) as (port, _):
            client = common.Client(port)
            time.sleep(2)
            for n in range(jobs):
                sent_wall = time.time()
                status, job = client.call("POST", "/jobs", {
                    "source": f"file://{source}",
                    "outputs": [{"destination": f"file://{media}/o{n}.mp4", "preset": "mp4-h264-360p"}]})
                assert status == 201, job
                done = common.wait_job(client, job["id"])
                assert done["state"] == "FINISHED", done
                samples.append(parse_time(done["started_at"]).timestamp() - sent_wall)
                time.sleep(0.3)  # the encoder is back in its idle wait
    return {"jobs": jobs, "p50_ms": common.percentile(samples, 50) * 1000,
            "p99_ms": common.percentile(samples, 99) * 1000, "max_ms": max(samples) * 1000}


if __name__ == "__main__":
    r = main()
    print(f"submit to DOWNLOADING over {r['jobs']} jobs: p50 {r['p50_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
