"""One access line per request: method, path, status and milliseconds, never
a token, a query or a body."""

import structlog

from nommer.http.app import create_app

TOKEN = "access-token-0123456789abcdef"


def test_each_request_logs_one_line_without_token_query_or_body(api, source, dest):
    client = create_app(api, api_tokens=[TOKEN]).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with structlog.testing.capture_logs() as logs:
        created = client.post("/jobs", json={"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]},
                              headers=auth)
        listed = client.get("/jobs?state=PENDING&limit=5", headers=auth)
        refused = client.get("/jobs", headers={"Authorization": "Bearer wrong-token-0123456789abcdef"})
    lines = [e for e in logs if e["event"] == "request"]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("POST", "/jobs", created.status_code), ("GET", "/jobs", listed.status_code), ("GET", "/jobs", 401)]
    assert (created.status_code, listed.status_code, refused.status_code) == (201, 200, 401)
    assert all(isinstance(e["ms"], float) and e["ms"] >= 0 for e in lines)
    text = repr(logs)
    assert TOKEN not in text and "wrong-token" not in text and "limit=5" not in text
    assert source not in text
