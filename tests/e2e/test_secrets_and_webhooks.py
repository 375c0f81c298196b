"""A real feeder with tokens, a secret key and a webhook secret: a job whose
URIs carry credentials runs (the source server demands them), and no secret
shows up in any log, answer, webhook body or in the job store's file; the
webhooks verify with the documented algorithm and are recorded on the job."""

import base64
import http.server
import json
import subprocess
import sys
import threading
import time

import pytest
from cryptography.fernet import Fernet

from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver
from tests import documented

from .farm import wait_for
from .feeder import FeederProcess, call, free_port

SRC_PASSWORD = "Src-pa55-7f3a91"
HOOK_PASSWORD = "Hook-t0k-4c2e88"
TOKEN = "api-token-9d8c7b6a5f4e3d2c"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"webhook-secret-of-32-bytes-long!").decode()
# Secrets in query parameters outside the usual names, and in a fragment.
SRC_SESSION = "Src-sess-5e1b07"
SRC_FRAGMENT = "Src-frag-a0c3d9"
HOOK_CLIENT_SECRET = "Hook-cs-91e2f4"
SECRETS = (SRC_PASSWORD, HOOK_PASSWORD, SRC_SESSION, SRC_FRAGMENT, HOOK_CLIENT_SECRET)


class MediaServer:
    """Serves one file to requests with the right basic credentials only."""

    def __init__(self, path):
        self.seen = []
        expected = "Basic " + base64.b64encode(f"alice:{SRC_PASSWORD}".encode()).decode()
        data, seen = path.read_bytes(), self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="media"')
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


verify_webhook = documented.verify_webhook()  # exactly as docs/security.md shows it


@pytest.fixture(scope="module")
def setup(tmp_path_factory, ffmpeg_exe):
    workdir = tmp_path_factory.mktemp("secrets")
    media = workdir / "media"
    media.mkdir()
    clip = make_clip(ffmpeg_exe, workdir / "clip.mp4", seconds=1.0, size="320x240")
    source_server = MediaServer(clip)
    receiver = Receiver(verify=lambda headers, body: verify_webhook(WEBHOOK_SECRET, headers, body))
    receiver.url = (f"http://hook:{HOOK_PASSWORD}@127.0.0.1:{receiver.port}/hook"
                    f"?client_secret={HOOK_CLIENT_SECRET}")
    feeder = FeederProcess(
        workdir, [media], token=TOKEN, max_encoders=1, max_inactivity=30,
        secret_key=Fernet.generate_key().decode(), webhook_secret=WEBHOOK_SECRET,
        log_level="debug", notify_backoff=0.1, max_body_bytes=4096,
    ).start()
    yield {"feeder": feeder, "media": media, "source": source_server, "receiver": receiver,
           "workdir": workdir}
    assert feeder.stop() == 0, feeder.log()
    source_server.server.shutdown()
    source_server.server.server_close()
    receiver.close()


def submit(setup, password, name):
    feeder, port = setup["feeder"], setup["source"].port
    return feeder.post("/jobs", {
        "source": f"http://alice:{password}@127.0.0.1:{port}/clip.mp4?session={SRC_SESSION}#{SRC_FRAGMENT}",
        "outputs": [{"destination": (setup["media"] / name).as_uri(), "preset": "mp4-h264-360p"}],
        "notify_url": setup["receiver"].url,
    })


def test_a_job_with_credentials_runs_and_no_secret_leaks(setup):
    feeder = setup["feeder"]
    status, job = submit(setup, SRC_PASSWORD, "ok.mp4")
    assert status == 201, job
    status, bad = submit(setup, "Wrong-pa55-000", "bad.mp4")
    assert status == 201, bad

    done = feeder.wait_job(job["id"])
    failed = feeder.wait_job(bad["id"])
    assert done["state"] == "FINISHED", done
    assert (setup["media"] / "ok.mp4").stat().st_size > 0
    assert failed["state"] == "ERROR" and "401" in failed["details"]
    assert failed["source"].startswith("http://alice:***@127.0.0.1")
    assert any(seen and seen.startswith("Basic ") for seen in setup["source"].seen)

    # every webhook arrived signed, and was recorded on the job
    receiver = setup["receiver"]
    wait_for(lambda: any(json.loads(p["body"])["state"] == "FINISHED" for p in receiver.posts
                         if json.loads(p["body"])["job_id"] == job["id"]), 20, "the FINISHED webhook")
    assert receiver.posts and all(p["verified"] for p in receiver.posts)
    assert all(p["path"] == f"/hook?client_secret={HOOK_CLIENT_SECRET}" for p in receiver.posts)
    hook_auth = "Basic " + base64.b64encode(f"hook:{HOOK_PASSWORD}".encode()).decode()
    assert all(p["headers"].get("authorization") == hook_auth for p in receiver.posts)
    recorded = wait_for(lambda: (lambda j: j["notifications"] if any(
        n["state"] == "FINISHED" for n in j["notifications"]) else None)(feeder.get(f"/jobs/{job['id']}")[1]),
        20, "the FINISHED delivery to be recorded")
    finished = next(n for n in recorded if n["state"] == "FINISHED")
    assert finished["status"] == 204 and finished["attempts"] == 1 and finished["delivered_at"]
    assert {n["id"] for n in recorded} <= {p["headers"]["webhook-id"] for p in receiver.posts}

    # no secret anywhere: logs, answers, webhook bodies, the store's files
    time.sleep(0.5)
    places = {"feeder log": feeder.log_path.read_bytes()}
    data = setup["workdir"] / "data"
    for path in list((data / "logs").glob("*.log")) + list(data.glob("nommer.sqlite3*")):
        places[path.name] = path.read_bytes()
    places["answers"] = json.dumps([feeder.get("/jobs")[1], done, failed]).encode()
    places["webhooks"] = b"".join(p["body"] for p in receiver.posts)
    assert any(b'"job claimed"' in text for text in places.values())  # the logs were read
    for where, text in places.items():
        for secret in SECRETS:
            assert secret.encode() not in text, f"{secret} is in the {where}"


def test_the_body_limit_setting_reaches_the_api(setup):
    status, answer = setup["feeder"].post("/jobs", raw=b'{"source": "' + b"x" * 5000 + b'"}')
    assert status == 413
    assert answer["error"]["field"] == "body" and "4096" in answer["error"]["message"]


def test_the_real_feeder_wants_its_token(setup):
    base = setup["feeder"].base
    assert call(base, "GET", "/jobs")[0] == 401
    status, answer = call(base, "GET", "/jobs", headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert status == 401 and answer["error"]["field"] == "Authorization"
    assert call(base, "GET", "/health")[0] == 200


def test_without_tokens_the_feeder_will_not_listen_beyond_loopback(tmp_path):
    env = {**setup_env(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "nommer.feeder", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'api_tokens'" in done.stderr and "'host'" in done.stderr and "0.0.0.0" in done.stderr
    assert not (tmp_path / "data" / "nommer.sqlite3").exists()  # stopped before anything


def setup_env(tmp_path):
    from .farm import farm_env

    return farm_env(tmp_path / "data", [tmp_path])
