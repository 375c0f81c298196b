"""Screenshots of the dashboard's pages for docs/dashboard.md.

``python -m tests.e2e.dashboard_shots docs/img`` starts a feeder on
loopback with a local fleet, runs a few jobs (one finishes, one fails, one is
canceled, one is encoding) and saves jobs.png, job.png and fleet.png; the
browser tests call :func:`take` too, so the script keeps working.
"""

import pathlib
import sys
import tempfile

from .browser import Browser
from .farm import wait_for
from .feeder import FeederProcess

TOKEN = "docs-token-0123456789abcdef"


def submit(feeder, source, destination, preset="mp4-h264-480p"):
    status, job = feeder.post("/jobs", {"source": source, "outputs": [{"destination": destination, "preset": preset}]})
    assert status == 201, job
    return job


def run_jobs(feeder, media):
    """A farm with a history: FINISHED, ERROR, CANCELED and a running job."""
    out = media / "out"
    out.mkdir(exist_ok=True)
    done = submit(feeder, (media / "clip.mp4").as_uri(), (out / "clip-480p.mp4").as_uri())
    status, several = feeder.post("/jobs", {"source": (media / "clip.mp4").as_uri(), "outputs": [
        {"destination": (out / "clip-hls").as_uri() + "/", "preset": "hls-h264-ladder"},
        {"destination": (out / "clip-thumbs").as_uri() + "/", "preset": "thumbnails-jpeg", "interval": 1}]})
    assert status == 201, several
    failed = submit(feeder, (media / "missing.mp4").as_uri(), (out / "missing.mp4").as_uri())
    canceled = submit(feeder, (media / "long.mp4").as_uri(), (out / "canceled.webm").as_uri(), "webm-vp9-720p")
    feeder.post(f"/jobs/{canceled['id']}/cancel")
    feeder.wait_job(done["id"], timeout=60)
    feeder.wait_job(failed["id"], timeout=60)
    feeder.wait_job(several["id"], timeout=60)
    running = submit(feeder, (media / "long.mp4").as_uri(), (out / "long-720p.webm").as_uri(), "webm-vp9-720p")
    wait_for(lambda: feeder.get(f"/jobs/{running['id']}")[1]["progress"] >= 12, 60, "the long job to get going", step=0.2)
    return {"done": done, "several": several, "failed": failed, "running": running}


def take(browser, feeder, jobs, folder):
    """Save jobs.png, job.png (a job with several outputs), job-error.png
    (the failed job) and fleet.png into ``folder``."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    driver = browser.driver
    driver.get(feeder.base + "/")
    if feeder.token:
        driver.execute_script("sessionStorage.setItem('nommer-token', arguments[0])", feeder.token)
    driver.get(feeder.base + "/#/jobs")
    browser.wait(lambda d: browser.find(f'tr[data-job="{jobs["running"]["id"]}"]'), what="the jobs list")
    driver.save_screenshot(str(folder / "jobs.png"))
    # The fleet while the long job still runs, before the slower job pages.
    driver.get(feeder.base + "/#/fleet")
    running = feeder.get(f"/jobs/{jobs['running']['id']}")[1]
    browser.wait(lambda d: browser.find(".encoder-job"),
                 what=f"the fleet with its job (the job is {running['state']}, {running['progress']}%: "
                      f"{running.get('details') or 'no details'})")
    driver.save_screenshot(str(folder / "fleet.png"))
    size = driver.get_window_size()
    driver.set_window_size(size["width"], 1500)  # a job's page is long
    try:
        driver.get(feeder.base + f"/#/jobs/{jobs['several']['id']}")
        browser.wait(lambda d: "manifest" in browser.text('tr[data-output="0"]'), what="the outputs' results")
        driver.save_screenshot(str(folder / "job.png"))
        driver.get(feeder.base + f"/#/jobs/{jobs['failed']['id']}")
        browser.wait(lambda d: "What to do" in browser.text("#job-error"), what="the failed job's advice")
        driver.save_screenshot(str(folder / "job-error.png"))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return [folder / name for name in ("jobs.png", "job.png", "job-error.png", "fleet.png")]


def main(folder):
    import imageio_ffmpeg

    from nommer.testing.media import make_clip

    work = pathlib.Path(tempfile.mkdtemp(prefix="nommer-shots-"))
    media = work / "media"
    media.mkdir()
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    make_clip(ffmpeg, media / "clip.mp4", seconds=2.0, size="640x360")
    make_clip(ffmpeg, media / "long.mp4", seconds=120.0, size="640x360")
    feeder = FeederProcess(work, [media], token=TOKEN, max_encoders=1).start()
    browser = None
    try:
        jobs = run_jobs(feeder, media)
        browser = Browser(width=1280, height=760)
        for path in take(browser, feeder, jobs, folder):
            print(path)
    finally:
        if browser:
            browser.close()
        feeder.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/img")
