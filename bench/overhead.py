"""Pipeline overhead: a 20 s 720p source encoded through the farm (submit to
FINISHED, with an idle encoder already running) against the same ffmpeg
command run directly, in the same run."""

import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core import ffmpeg as ff  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402

PRESET = "mp4-h264-480p"


def main(rounds=3):
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "source.mp4", seconds=20, size="1280x720")
        plan = ff.build_commands(exe, source, media / "direct.mp4", {"preset": PRESET}, media / "w")
        direct, farm = [], []
        with common.feeder([media], min_encoders=1, max_encoders=1, jobs_per_encoder=1,
                           max_inactivity=600) as (port, _):
            client = common.Client(port)
            hooks = common.Hooks()
            time.sleep(2)  # the kept encoder is up and idle
            for n in range(rounds):
                started = time.monotonic()
                for argv in plan.commands:
                    subprocess.run(argv, check=True, capture_output=True)
                direct.append(time.monotonic() - started)
                started = time.monotonic()
                status, job = client.call("POST", "/jobs", {
                    "source": f"file://{source}",
                    "outputs": [{"destination": f"file://{media}/farm-{n}.mp4", "preset": PRESET}],
                    "notify_url": hooks.url})
                assert status == 201, job
                ended, state = hooks.wait(job["id"])
                farm.append(ended - started)
                assert state == "FINISHED", client.call("GET", f"/jobs/{job['id']}")
            hooks.close()
    d, f = min(direct), min(farm)
    return {"direct_s": d, "farm_s": f, "ratio": f / d, "rounds": rounds,
            "direct_all": direct, "farm_all": farm}


if __name__ == "__main__":
    r = main()
    print(f"direct ffmpeg {r['direct_s']:.2f} s, through the farm {r['farm_s']:.2f} s, "
          f"ratio {r['ratio']:.3f} (best of {r['rounds']})")
