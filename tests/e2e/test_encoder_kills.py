"""An encoder killed (SIGKILL) in the middle of a job loses nothing: once its
lease runs out, another encoder takes the job over and finishes it."""

import functools
import http.server
import os
import pathlib
import shutil
import signal
import threading

import pytest

from nommer.core import ffmpeg
from nommer.core.model.jobs import State
from nommer.testing.media import make_clip

from .farm import farm_env, open_parts, place_job, start_encoder, wait_final, wait_for
from .farm import decodes, ffmpeg_processes_in

RATE = 1_500_000  # bytes/s per transfer, so that downloads and uploads take seconds
# A file:// source is read in place and an output on the work folder's file
# system linked into place: neither is a transfer. So the source comes over
# http and the outputs go to another file system, as they do in a farm.
OTHER_FS = pathlib.Path("/dev/shm")


def quiet_server(folder):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    root = tmp_path_factory.mktemp("kills")
    if not OTHER_FS.is_dir() or OTHER_FS.stat().st_dev == root.stat().st_dev:
        pytest.skip("no second file system for the outputs here")
    media = root / "media"
    media.mkdir()
    outputs = OTHER_FS / f"nommer-kills-{os.getpid()}"
    outputs.mkdir()
    env = farm_env(root / "data", [media, outputs], lease_seconds=3, transfer_rate_limit=RATE,
                   jobs_per_encoder=1)
    source = make_clip(ffmpeg_exe, media / "source.mp4", seconds=8.0, size="854x480",
                       codec="libx264")
    assert source.stat().st_size > 2 * RATE, "the download must take a while"
    encoders = {}

    def spawn():
        name = f"enc-{len(encoders) + 1}"
        encoders[name] = start_encoder(env, name, root / f"{name}.log")

    spawn()
    spawn()
    parts = open_parts(env)
    server = quiet_server(media)
    yield {"env": env, "parts": parts, "media": media, "outputs": outputs, "source": source,
           "source_uri": f"http://127.0.0.1:{server.server_address[1]}/{source.name}",
           "encoders": encoders, "spawn": spawn, "root": root}
    server.shutdown()
    server.server_close()
    for proc in encoders.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    parts.close()
    shutil.rmtree(outputs, ignore_errors=True)


# Legacy options at a high bitrate, so that the output takes seconds to upload.
BIG_OUTPUT = [{"outfile_options": [["vcodec", "libx264"], ["preset", "ultrafast"],
                                   ["b", "6M"], ["acodec", "aac"]]}]


@pytest.mark.parametrize("phase", [State.DOWNLOADING, State.ENCODING, State.UPLOADING])
def test_killed_encoder_loses_nothing(farm, ffmpeg_exe, phase):
    store = farm["parts"].store
    out = farm["outputs"] / f"after-kill-{phase.value.lower()}.mp4"
    job = place_job(farm["parts"], farm["source_uri"], [{"destination": f"file://{out}", "options": BIG_OUTPUT}])
    held = wait_for(lambda: (lambda j: j if j.state == phase else None)(store.get(job.id)),
                    60, f"the job to reach {phase}", step=0.02)
    victim = farm["encoders"][held.encoder_id]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    farm["spawn"]()  # the fleet would start another; so do we
    done = wait_final(store, job.id, timeout=120)
    assert done.state == State.FINISHED, done.details
    assert done.attempt == 2
    assert done.encoder_id != held.encoder_id
    assert decodes(ffmpeg_exe, out)
    assert ffmpeg.probe(ffmpeg_exe, out)["duration"] == pytest.approx(8.0, abs=0.1)
    # the killed encoder's ffmpeg died with it
    workdir = farm["root"] / "data" / "work" / f"{job.id}-{held.attempt}-{held.encoder_id}"
    wait_for(lambda: not ffmpeg_processes_in(workdir), 10, "no orphan ffmpeg")
    assert not workdir.exists()  # the encoder started after the kill removed it
    assert farm["parts"].new_jobs.depth() == (0, 0)
