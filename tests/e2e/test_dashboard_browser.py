"""The dashboard in a real browser (headless Chromium, Debian's package)
against a real feeder process with API tokens and a local fleet, on loopback.

Without Chromium these tests fail, saying what to install; NOMMER_NO_BROWSER=1
skips them.
"""

import pytest

SLOW = "webm-vp9-720p"

from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from . import browser as browser_mod
from . import dashboard_shots
from .farm import wait_for
from .feeder import FeederProcess

TOKEN = "dash-token-0123456789abcdef"


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_exe):
    folder = tmp_path_factory.mktemp("media")
    make_clip(ffmpeg_exe, folder / "clip.mp4", seconds=1.0, size="320x240")
    # Few frames, quick to make; VP9 (SLOW) keeps a job of it encoding a while.
    make_clip(ffmpeg_exe, folder / "long.mp4", seconds=60.0, size="640x360", rate=10)
    # Still encoding after the fleet page's checks, even on a quiet machine.
    make_clip(ffmpeg_exe, folder / "longer.mp4", seconds=300.0, size="640x360", rate=10)
    (folder / "out").mkdir()
    return folder


@pytest.fixture(scope="module")
def feeder(tmp_path_factory, media):
    browser_mod.require()
    # Jobs are encoded whole unless they ask for acceleration; one that asks
    # is cut at about 20 s of its source.
    f = FeederProcess(tmp_path_factory.mktemp("feeder"), [media], token=TOKEN, max_encoders=1,
                      acceleration="DISABLED", accelerate_min_seconds=30, segment_seconds=20).start()
    yield f
    assert f.stop() == 0, f.log()


@pytest.fixture(scope="module")
def browser():
    browser_mod.require()
    b = browser_mod.Browser()
    yield b
    b.close()


@pytest.fixture
def page(browser, feeder):
    """The browser on the dashboard, the token given."""
    browser.driver.get(feeder.base + "/")
    browser.driver.execute_script("sessionStorage.setItem('nommer-token', arguments[0])", TOKEN)
    browser.driver.get(feeder.base + "/#/jobs")
    browser.wait(lambda d: browser.find("#jobs") and "updated" in browser.text("#status"), what="the jobs list")
    return browser


def submit(feeder, media, name, source="clip.mp4", preset="mp4-h264-480p", **more):
    status, job = feeder.post("/jobs", {"source": (media / source).as_uri(), "outputs": [
        {"destination": (media / "out" / name).as_uri(), "preset": preset}], **more})
    assert status == 201, job
    return job


def row_state(browser, job_id):
    return browser.text(f'tr[data-job="{job_id}"] .state')


def test_without_a_token_the_page_asks_for_one_and_shows_nothing(browser, feeder, media):
    job = submit(feeder, media, "secret.mp4")
    browser.driver.get(feeder.base + "/")
    browser.driver.execute_script("sessionStorage.clear()")
    browser.driver.get(feeder.base + "/#/jobs")

    browser.wait(lambda d: browser.find("#login") and browser.find("#login")[0].is_displayed(), what="the token form")
    assert job["id"] not in browser.driver.page_source
    assert not browser.find("#nav")[0].is_displayed()

    browser.find("#token")[0].send_keys("not-the-token-0123456789")
    browser.click("#login button")
    browser.wait(lambda d: "refused" in browser.text("#login-error"), what="the refusal")
    assert job["id"] not in browser.driver.page_source

    browser.find("#token")[0].send_keys(TOKEN)
    browser.click("#login button")
    browser.wait(lambda d: browser.find(f'tr[data-job="{job["id"]}"]'), what="the job in the list")
    assert browser.driver.execute_script("return sessionStorage.getItem('nommer-token')") == TOKEN
    assert browser.driver.execute_script("return localStorage.length") == 0
    assert not browser.console_errors() or all("401" in e for e in browser.console_errors())


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_job_progresses_to_finished_on_the_page_and_its_page_shows_outputs_and_history(page, feeder, media, receiver):
    job = submit(feeder, media, "watched.mp4", notify_url=receiver.url)

    page.wait(lambda d: row_state(page, job["id"]) == "FINISHED", 60, "the job to finish on the page")
    row = page.text(f'tr[data-job="{job["id"]}"]')
    assert "100%" in row and "clip.mp4" in row and "mp4-h264-480p" in row
    page.click(f'tr[data-job="{job["id"]}"] td.id a')

    page.wait(lambda d: page.text("#job-id") == job["id"], what="the job's page")
    page.wait(lambda d: "FINISHED" in page.text('tr[data-output="0"]'), what="the output's state")
    assert "1 file" in page.text('tr[data-output="0"]')
    history = page.text("table.history")
    for state in ("PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"):
        assert state in history
    assert "T" not in page.text('dd[data-fact="submitted"]')  # local time, not ISO text
    page.wait(lambda d: "FINISHED" in page.text("table.notifications") and "204" in page.text("table.notifications"),
              what="the webhook deliveries")
    assert page.find("pre.probe")  # what ffprobe found, folded away
    assert page.find("button.retry") and not page.find("button.cancel")


def test_cancel_from_the_list_then_retry_from_the_job_page(page, feeder, media):
    job = submit(feeder, media, "to-cancel.mp4", source="longer.mp4", preset=SLOW)
    page.wait(lambda d: page.find(f'button.cancel[data-job="{job["id"]}"]'), what="the cancel button")

    page.click(f'button.cancel[data-job="{job["id"]}"]')
    page.driver.switch_to.alert.accept()

    page.wait(lambda d: row_state(page, job["id"]) == "CANCELED", 20, "the job to show CANCELED")
    assert feeder.get(f"/jobs/{job['id']}")[1]["state"] == "CANCELED"

    page.driver.get(feeder.base + f"/#/jobs/{job['id']}")
    page.click(f'button.retry[data-job="{job["id"]}"]')
    page.driver.switch_to.alert.accept()
    page.wait(lambda d: page.text("#job-id") not in ("", job["id"]), what="the new job's page")
    new_id = page.text("#job-id")
    status, new = feeder.get(f"/jobs/{new_id}")
    assert status == 200 and new["source"] == job["source"]
    assert feeder.post(f"/jobs/{new_id}/retry")[0] == 409  # not finished: nothing to retry
    assert feeder.post(f"/jobs/{new_id}/cancel")[0] == 200  # the encoder has better things to do


def test_filters_and_paging_past_the_first_page(page, feeder, media):
    ids = [submit(feeder, media, f"page-{i}.mp4", source="long.mp4")["id"] for i in range(5)]
    for job_id in ids:
        assert feeder.post(f"/jobs/{job_id}/cancel")[0] == 200
    page.driver.get(feeder.base + "/#/jobs?state=CANCELED&limit=3")

    page.wait(lambda d: len(page.find("tr.job")) == 3, what="a first page of 3")
    first = [r.get_attribute("data-job") for r in page.find("tr.job")]
    assert first == sorted(ids, reverse=True)[:3]  # newest first
    assert all(page.text(f'tr[data-job="{i}"] .state') == "CANCELED" for i in first)
    assert page.find("#newer")[0].get_attribute("disabled") is not None

    page.wait(lambda d: page.find("#older")[0].is_enabled(), what="Older to be enabled")
    page.click("#older")
    page.wait(lambda d: page.text("#page-number") == "page 2" and page.find("tr.job")
              and page.find("tr.job")[0].get_attribute("data-job") not in first, what="the second page")
    second = [r.get_attribute("data-job") for r in page.find("tr.job")]
    assert not set(second) & set(first) and set(ids) - set(first) <= set(second)

    page.click("#newer")
    page.wait(lambda d: [r.get_attribute("data-job") for r in page.find("tr.job")] == first, what="the first page again")

    # The start of an id keeps the rows it starts; a whole id opens the job.
    page.find("#search")[0].send_keys(first[1][:-2] + "\n")
    page.wait(lambda d: [r.get_attribute("data-job") for r in page.find("tr.job")] == [first[1]], what="the search")
    assert "CANCELED" in page.find(".filter.here")[0].get_attribute("data-filter")
    page.find("#search")[0].clear()
    page.find("#search")[0].send_keys(ids[0] + "\n")
    page.wait(lambda d: page.text("#job-id") == ids[0], what="the job found by its id")


def test_fleet_page_shows_each_encoder_with_its_state_heartbeat_and_jobs(page, feeder, media):
    job = submit(feeder, media, "fleet.mp4", source="longer.mp4", preset=SLOW)
    wait_for(lambda: feeder.get(f"/jobs/{job['id']}")[1]["state"] == "ENCODING", 60, "the job to encode", step=0.2)
    encoder = feeder.get(f"/jobs/{job['id']}")[1]["encoder_id"]

    page.click("#nav-fleet")

    page.wait(lambda d: page.find(f'tr[data-encoder="{encoder}"] .encoder-job'), what="the encoder with its job")
    row = page.text(f'tr[data-encoder="{encoder}"]')
    assert "running" in row and job["id"] in row and "encode" in row and " ago" in row
    summary = page.text("#fleet-summary")
    assert summary.startswith("1 encoder (1 running)") and not summary.rstrip().endswith(":")
    # When the encoder is predicted to be done, and why the Scaler did what it did.
    page.wait(lambda d: page.text(f'tr[data-encoder="{encoder}"] .busy-until').strip(), what="busy until")
    def fleet_with_busy_until():
        fleet = feeder.get("/fleet")[1]
        return fleet if any(e["id"] == encoder and e["busy_until"] for e in fleet["encoders"]) else None

    fleet = wait_for(fleet_with_busy_until, 10, "busy_until in /fleet")
    [beat] = [e for e in fleet["encoders"] if e["id"] == encoder]
    assert beat["busy_until"] > beat["last_seen"]
    assert fleet["scaler"]["decision"]["reason"]
    page.wait(lambda d: fleet["scaler"]["decision"]["reason"].split()[0] in page.text("#scaler-decision"),
              what="the Scaler's decision")
    assert feeder.post(f"/jobs/{job['id']}/cancel")[0] == 200


def test_the_page_recovers_when_the_feeder_restarts(page, feeder, media):
    before = submit(feeder, media, "before-restart.mp4")
    page.wait(lambda d: page.find(f'tr[data-job="{before["id"]}"]'), what="the job before the restart")

    feeder.stop()
    page.wait(lambda d: "cannot reach the feeder" in page.text("#status"), 20, "the page to notice")
    assert page.find(f'tr[data-job="{before["id"]}"]')  # what it knew stays shown
    feeder.start()
    after = submit(feeder, media, "after-restart.mp4")

    page.wait(lambda d: page.find(f'tr[data-job="{after["id"]}"]'), 30, "the page to recover")
    assert "updated" in page.text("#status") and page.find(f'tr[data-job="{before["id"]}"]')


def test_api_reader_sends_the_token_and_shows_every_operation(page, feeder):
    page.driver.get(feeder.base + "/docs")

    page.wait(lambda d: page.find('[id^="operations-jobs-retryJob"]'), 30, "Swagger UI to show retryJob")
    assert page.find('[id^="operations-jobs-submitJob"]')
    page.wait(lambda d: page.find(".btn.authorize.locked"), what="Authorize to show the tab's token")
    assert not [e for e in page.console_errors() if "Content Security Policy" in e]


def test_screenshots_of_each_page(browser, feeder, media, tmp_path):
    jobs = dashboard_shots.run_jobs(feeder, media)
    try:
        shots = dashboard_shots.take(browser, feeder, jobs, tmp_path)
    finally:
        feeder.post(f"/jobs/{jobs['running']['id']}/cancel")

    for shot in shots:
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_fleet_page_shows_an_interrupted_spot_encoder(page, feeder):
    from nommer.core.adapters.sqlite_store import SqliteJobStore

    # The heartbeat record a spot encoder leaves when EC2's notice came.
    notice = {"kind": "instance-action", "action": "terminate", "time": "2026-12-02T10:02:00Z",
              "seen_at": "2026-12-02T10:00:01.000000Z"}
    store = SqliteJobStore(feeder.workdir / "data" / "nommer.sqlite3")
    try:
        store.heartbeat("i-0spot00000000001", {"pid": 1, "jobs": [], "slots": 2, "finished": 0,
                                               "failed": 0, "released": 1, "market": "spot",
                                               "interrupted": notice})
        page.click("#nav-fleet")
        cell = 'tr[data-encoder="i-0spot00000000001"] .state'
        page.wait(lambda d: page.find(cell), what="the interrupted encoder")
        row = page.text('tr[data-encoder="i-0spot00000000001"]')
        assert page.text(cell) == "interrupted"
        assert "spot" in row
    finally:
        store.forget_encoder("i-0spot00000000001")
        store.close()


def test_an_accelerated_job_shows_its_pieces_in_the_list_and_on_its_page(page, feeder, media):
    job = submit(feeder, media, "pieces.mp4", source="long.mp4", acceleration="ENABLED")

    page.wait(lambda d: row_state(page, job["id"]) == "FINISHED", 120, "the accelerated job to finish on the page")
    status, done = feeder.get(f"/jobs/{job['id']}")
    assert status == 200 and done["state"] == "FINISHED", done
    total = sum(done["pieces"].values())
    assert total >= 4 and done["pieces"] == {"DONE": total}  # segments, audio, stitch
    assert f"{total}/{total} pieces" in page.text(f'tr[data-job="{job["id"]}"]')

    page.click(f'tr[data-job="{job["id"]}"] td.id a')
    page.wait(lambda d: page.text("#job-id") == job["id"], what="the job's page")
    assert page.text('dd[data-fact="acceleration"]') == "ENABLED"
    assert page.text('dd[data-fact="pieces"]').endswith(f"{total} of {total} done ({total} done)")
