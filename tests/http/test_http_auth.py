"""Bearer tokens: every route but /health and the dashboard's page needs one."""

import hmac
import json
import re

import pytest

from nommer.core.security import api_tokens as tokens_mod
from nommer.http.app import create_app
from nommer.http.openapi import OPEN

TOKENS = ("old-token-0123456789abcdef", "new-token-fedcba9876543210")
JOB = "0123456789abcdef0123"


@pytest.fixture
def secured(api):
    return create_app(api, max_body_bytes=64 * 1024, api_tokens=list(TOKENS)).test_client()


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        # Files are named as the document names them: {filename}.
        path = re.sub(r"<(?:path:)?filename>", "{filename}", rule.rule.replace("<job_id>", JOB))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def all_routes():
    from nommer.http.app import create_app as make

    return sorted(set(routes(make(object()))))


@pytest.mark.parametrize("method, path", [r for r in all_routes() if (r[1], r[0].lower()) not in OPEN])
@pytest.mark.parametrize("authorization, problem", [
    (None, "is missing"),
    ("", "is missing"),
    ("Basic b2xkOnRva2Vu", "must be 'Bearer <token>'"),
    ("Bearer", "must be 'Bearer <token>'"),
    ("Bearer wrong-token-0123456789abcdef", "the token is not valid"),
    ("Bearer " + TOKENS[0][:-1], "the token is not valid"),
])
def test_every_route_refuses_without_a_valid_token(secured, stored_jobs, source, dest,
                                                   method, path, authorization, problem):
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]}

    answer = secured.open(path, method=method, json=body if method == "POST" else None, headers=headers)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="nommer"')
    data = answer.get_json()
    error = data if path.startswith("/job/submit") else data["error"]
    assert error["field"] == "Authorization"
    assert error["message"] == f"Authorization: {problem}" or problem in error["message"]
    assert stored_jobs() == 0


def test_the_legacy_route_answers_401_in_its_own_shape(secured):
    answer = secured.post("/job/submit", data=b"{}")
    assert answer.status_code == 401
    assert answer.get_json()["success"] is False
    assert answer.get_json()["error_code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("token", TOKENS)
def test_each_configured_token_works_so_one_can_be_rotated(secured, token, source, dest, stored_jobs):
    headers = {"Authorization": f"Bearer {token}"}
    body = {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]}

    assert secured.post("/jobs", json=body, headers=headers).status_code == 201
    assert secured.get("/jobs", headers={"Authorization": f"bearer  {token} "}).status_code == 200
    assert stored_jobs() == 1


def test_health_and_the_page_shell_stay_open(secured):
    assert secured.get("/health").status_code == 200
    page = secured.get("/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    # The page's script and the API reader's page are files, open too; the
    # document they read is not.
    script = secured.get("/static/dashboard.js")
    assert script.status_code == 200
    text = script.get_data(as_text=True)
    assert "sessionStorage" in text and '"Authorization": "Bearer " + token' in text
    assert "localStorage" not in text  # the token is gone when the tab closes
    assert secured.get("/docs").status_code == 200
    assert secured.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert secured.get("/openapi.json").status_code == 401
    assert secured.get("/error-codes").status_code == 401


def test_every_token_is_compared_with_no_early_exit(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append(real(a, b))
        return calls[-1]

    monkeypatch.setattr(tokens_mod.hmac, "compare_digest", counting)
    check = tokens_mod.TokenCheck(list(TOKENS) + ["third-token-0123456789abc"])

    assert check.problem("Bearer " + TOKENS[0]) is None
    assert calls == [True, False, False]  # the match came first, all were compared


def test_without_tokens_the_api_is_open_as_before(client):
    assert client.get("/jobs").status_code == 200


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.10", False), ("feeder.internal", False),
])
def test_without_tokens_only_loopback_is_allowed(host, ok):
    from nommer.core import config
    from nommer.core.errors import ConfigError

    settings = config.load(environ={}, overrides={"host": host})
    if ok:
        tokens_mod.check_exposure(settings)
        return
    with pytest.raises(ConfigError) as e:
        tokens_mod.check_exposure(settings)
    assert "'api_tokens'" in str(e.value) and "'host'" in str(e.value)
    tokens_mod.check_exposure(settings.replace(api_tokens=[TOKENS[0]]))


@pytest.mark.parametrize("environ, words", [
    ({"NOMMER_API_TOKENS": "tiny-tok"}, "shorter than 16 characters"),
    ({"NOMMER_API_TOKENS": "a-good-token-0123456789,with space in it 0123"}, "token 2"),
    ({"NOMMER_ALLOWED_NETWORKS": "10.0.0.0/8,not-a-net"}, "'not-a-net' is not a network"),
    ({"NOMMER_SECRET_KEY": "not-a-fernet-key"}, "not a Fernet key"),
    ({"NOMMER_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "24 to 64 bytes"),
    ({"NOMMER_MAX_BODY_BYTES": "10"}, "at least 1024"),
])
def test_security_settings_are_checked_at_start_and_never_echoed(environ, words):
    from nommer.core import config
    from nommer.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config.load(environ=environ)
    name = next(iter(environ))[len("NOMMER_"):].lower()
    assert f"'{name}'" in str(e.value) and words in str(e.value)
    if name != "allowed_networks" and name != "max_body_bytes":
        assert next(iter(environ.values())) not in str(e.value)


def test_ipv6_networks_come_through_the_environment():
    from nommer.core import config

    settings = config.load(environ={"NOMMER_ALLOWED_NETWORKS": "fd00::/8,10.0.0.0/8"})
    assert settings.allowed_networks == ["fd00::/8", "10.0.0.0/8"]


# legacy_networks: media-nommer's client sends no Authorization header.

LEGACY_NET = ["10.1.2.0/24", "fd00:1::/64"]
FFMPEG_NOMMER = "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer"


def legacy_body(source, dest):
    return {"source_path": source, "dest_path": dest, "notify_url": None,
            "job_options": {"nommer": FFMPEG_NOMMER, "options": [{"outfile_options": [["vcodec", "libx264"]]}]}}


def from_(client, address, method, path, **kw):
    return client.open(path, method=method, environ_base={"REMOTE_ADDR": address}, **kw)


@pytest.fixture
def legacy_and_tokens(api):
    return create_app(api, max_body_bytes=64 * 1024, api_tokens=list(TOKENS),
                      legacy_networks=LEGACY_NET).test_client()


@pytest.fixture
def legacy_only(api):
    return create_app(api, max_body_bytes=64 * 1024, legacy_networks=LEGACY_NET).test_client()


@pytest.mark.parametrize("path", ["/job/submit", "/job/submit/"])
@pytest.mark.parametrize("address", ["10.1.2.3", "::ffff:10.1.2.3", "fd00:1::7"])
@pytest.mark.parametrize("app", ["legacy_and_tokens", "legacy_only"])
def test_the_legacy_route_takes_no_token_from_the_legacy_networks(app, address, path, request, source, dest,
                                                                  stored_jobs):
    client = request.getfixturevalue(app)

    answer = from_(client, address, "POST", path, data=json.dumps(legacy_body(source, dest)),
                   headers={"Content-Type": "application/x-www-form-urlencoded",
                            "User-Agent": "Python-urllib/2.7"})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["success"] is True
    assert stored_jobs() == 1


@pytest.mark.parametrize("address", ["10.1.3.3", "192.168.1.10", "fd00:2::7"])
@pytest.mark.parametrize("app", ["legacy_and_tokens", "legacy_only"])
def test_the_legacy_route_from_other_networks_needs_a_token(app, address, request, source, dest, stored_jobs):
    client = request.getfixturevalue(app)

    answer = from_(client, address, "POST", "/job/submit", json=legacy_body(source, dest))

    assert answer.status_code == 401
    assert answer.get_json()["success"] is False and answer.get_json()["field"] == "Authorization"
    assert stored_jobs() == 0


@pytest.mark.parametrize("method, path", [r for r in all_routes() if not r[1].startswith("/job/submit")])
def test_the_legacy_networks_open_no_other_route_without_a_token(legacy_and_tokens, legacy_only, method, path,
                                                                 stored_jobs):
    from nommer.http import reader

    asked = path.replace("{filename}", sorted(reader.FILES)[0])  # a file that is there
    with_tokens = from_(legacy_and_tokens, "10.1.2.3", method, asked)
    without_tokens = from_(legacy_only, "10.1.2.3", method, asked)

    # with tokens the usual rule holds (/health and the page shell are open)
    assert with_tokens.status_code == (401 if (path, method.lower()) not in OPEN else 200)
    # without tokens nothing else is open to another machine, /health included
    assert without_tokens.status_code == 401
    error = without_tokens.get_json()["error"]
    assert error["field"] == "Authorization" and "legacy_networks" in error["message"]
    assert stored_jobs() == 0


def test_without_tokens_loopback_callers_keep_the_whole_api(legacy_only, source, dest):
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert from_(legacy_only, address, "GET", "/jobs").status_code == 200
        assert from_(legacy_only, address, "GET", "/health").status_code == 200
        assert from_(legacy_only, address, "POST", "/job/submit", json=legacy_body(source, dest)).status_code == 200


def test_legacy_networks_let_the_feeder_listen_beyond_loopback_without_tokens():
    from nommer.core import config

    settings = config.load(environ={"NOMMER_LEGACY_NETWORKS": "10.1.2.0/24, 10.1.3.0/24"},
                           overrides={"host": "0.0.0.0"})

    assert settings.legacy_networks == ["10.1.2.0/24", "10.1.3.0/24"]
    tokens_mod.check_exposure(settings)


def test_a_bad_legacy_network_is_refused_naming_the_setting():
    from nommer.core import config
    from nommer.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config.load(environ={"NOMMER_LEGACY_NETWORKS": "10.1.2.0/24,everyone"})
    assert "'legacy_networks'" in str(e.value) and "'everyone' is not a network" in str(e.value)
@pytest.mark.parametrize("healthy, status, word", [(True, 200, "ok"), (False, 503, "degraded")])
def test_health_without_a_token_says_only_up_or_down(secured, api, submit, healthy, status, word):
    api.healthy = healthy

    answer = secured.get("/health")

    assert answer.status_code == status
    assert answer.get_json() == {"status": word}


def test_health_with_a_valid_token_says_everything(secured, api):
    api.healthy = False

    answer = secured.get("/health", headers={"Authorization": f"Bearer {TOKENS[1]}"})

    assert answer.status_code == 503
    assert "metrics" in answer.get_json() and "actors" in answer.get_json()


def test_health_with_a_wrong_token_is_refused(secured):
    answer = secured.get("/health", headers={"Authorization": "Bearer wrong-token-0123456789abcdef"})
    assert answer.status_code == 401 and answer.get_json()["error"]["field"] == "Authorization"


def test_health_without_tokens_configured_says_everything(client):
    assert "metrics" in client.get("/health").get_json()
