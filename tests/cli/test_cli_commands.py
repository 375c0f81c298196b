"""The nommer command without a feeder: arguments, URIs and what it says
when it cannot reach one or is refused (a real HTTP server on loopback)."""

import http.server
import io
import json
import threading

import pytest

from nommer.cli import main, to_uri


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_local_paths_become_file_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thumbs").mkdir()
    assert to_uri("in.mp4") == f"file://{tmp_path}/in.mp4"
    assert to_uri("out/hls/") == f"file://{tmp_path}/out/hls/"
    assert to_uri("thumbs") == f"file://{tmp_path}/thumbs/"  # an existing folder
    assert to_uri("s3://bucket/key.mp4") == "s3://bucket/key.mp4"
    assert to_uri("https://example.com/a b.mp4") == "https://example.com/a b.mp4"


class Api:
    """A loopback server answering like a feeder; keeps what it was sent."""

    def __init__(self, status, answer):
        self.requests = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                api.requests.append({"method": self.command, "path": self.path,
                                     "auth": self.headers.get("Authorization"),
                                     "body": json.loads(self.rfile.read(length) or b"null")})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api_answering():
    made = []

    def make(status, answer):
        made.append(Api(status, answer))
        return made[-1]

    yield make
    for api in made:
        api.close()


def test_submit_sends_the_outputs_in_order_with_the_token(api_answering, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mov").write_bytes(b"video")
    api = api_answering(201, {"id": "0123456789abcdef0123", "state": "PENDING"})
    status, out, _ = run("--url", api.url, "submit", "in.mov", "--preset", "mp4-h264-720p", "--to", "a.mp4",
                         "--preset", "thumbnails-jpeg", "--to", "thumbs/", "--interval", "5",
                         "--notify", "https://app.example/hook", "--token", "s3cret")
    assert (status, out) == (0, "0123456789abcdef0123\n")
    request = api.requests[0]
    assert (request["method"], request["path"], request["auth"]) == ("POST", "/jobs", "Bearer s3cret")
    assert request["body"] == {
        "source": f"file://{tmp_path}/in.mov",
        "outputs": [{"preset": "mp4-h264-720p", "destination": f"file://{tmp_path}/a.mp4"},
                    {"preset": "thumbnails-jpeg", "destination": f"file://{tmp_path}/thumbs/", "interval": 5.0}],
        "notify_url": "https://app.example/hook",
    }


def test_captions_go_with_the_output_being_built(api_answering, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mkv").write_bytes(b"video")
    api = api_answering(201, {"id": "0123456789abcdef0123", "state": "PENDING"})
    status, _, err = run("--url", api.url, "submit", "in.mkv", "--preset", "cmaf-h264-ladder", "--to", "cmaf/",
                         "--caption", "en=talk.en.srt", "--caption", "pt-BR=s3://subs/talk.pt.vtt",
                         "--preset", "dash-h264-ladder", "--to", "dash/")
    assert status == 0, err
    assert api.requests[0]["body"]["outputs"] == [
        {"preset": "cmaf-h264-ladder", "destination": f"file://{tmp_path}/cmaf/",
         "captions": [{"uri": f"file://{tmp_path}/talk.en.srt", "language": "en"},
                      {"uri": "s3://subs/talk.pt.vtt", "language": "pt-BR"}]},
        {"preset": "dash-h264-ladder", "destination": f"file://{tmp_path}/dash/"}]


@pytest.mark.parametrize("args,words", [
    (("--caption", "en=a.srt", "--preset", "p", "--to", "x/"), "--caption must follow the --preset"),
    (("--preset", "p", "--to", "x/", "--caption", "a.srt"), "give LANGUAGE=FILE"),
    (("--preset", "p", "--to", "x/", "--caption", "en="), "give LANGUAGE=FILE"),
])
def test_a_malformed_caption_is_refused_before_sending(api_answering, capsys, args, words):
    api = api_answering(201, {})
    with pytest.raises(SystemExit) as stop:  # argparse's usage error
        run("--url", api.url, "submit", "in.mov", *args)
    assert stop.value.code == 2 and words in capsys.readouterr().err
    assert api.requests == []
def test_submit_sends_a_priority_when_given(api_answering, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mov").write_bytes(b"video")
    api = api_answering(201, {"id": "0123456789abcdef0123", "state": "PENDING"})
    status, _, _ = run("--url", api.url, "submit", "in.mov", "--preset", "mp4-h264-720p", "--to", "a.mp4",
                       "--priority", "-20")
    assert status == 0 and api.requests[0]["body"]["priority"] == -20


def test_submit_sends_an_acceleration_when_given(api_answering, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mov").write_bytes(b"video")
    api = api_answering(201, {"id": "0123456789abcdef0123", "state": "PENDING"})
    status, _, _ = run("--url", api.url, "submit", "in.mov", "--preset", "mp4-h264-720p", "--to", "a.mp4",
                       "--acceleration", "ENABLED")
    assert status == 0 and api.requests[0]["body"]["acceleration"] == "ENABLED"
    run("--url", api.url, "submit", "in.mov", "--preset", "mp4-h264-720p", "--to", "a.mp4")
    assert "acceleration" not in api.requests[1]["body"]


def test_an_output_without_its_pair_is_refused_before_sending(api_answering):
    api = api_answering(201, {})
    status, _, err = run("--url", api.url, "submit", "in.mov", "--preset", "a", "--to", "x.mp4", "--preset", "b")
    assert status == 2 and "output 2 has no --to" in err
    assert api.requests == []


def test_the_apis_own_message_is_shown_for_a_refusal(api_answering, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mov").write_bytes(b"video")
    api = api_answering(400, {"error": {"code": "INVALID", "field": "outputs[0].preset",
                                        "message": "outputs[0].preset: unknown preset 'vhs'"}})
    status, out, err = run("submit", "in.mov", "--preset", "vhs", "--to", "x.mp4", "--url", api.url)
    assert (status, out) == (2, "")
    assert err == "nommer: outputs[0].preset: unknown preset 'vhs'\n"


def test_an_authentication_refusal_says_how_to_give_a_token(api_answering):
    api = api_answering(401, {"error": {"code": "UNAUTHORIZED", "field": None, "message": "a token is required"}})
    status, _, err = run("list", "--url", api.url)
    assert status == 2 and "a token is required" in err and "NOMMER_TOKEN" in err


def test_no_feeder_says_how_to_start_one(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NOMMER_URL", f"http://127.0.0.1:{port}")
    status, _, err = run("presets")
    assert status == 3
    assert err == f"nommer: no feeder at http://127.0.0.1:{port}: is `python -m nommer.feeder` running?\n"


def test_list_prints_a_table(api_answering):
    api = api_answering(200, {"jobs": [{"id": "0123456789abcdef0123", "state": "FINISHED", "progress": 100,
                                        "created_at": "2026-01-01T00:00:00.000000Z", "source": "file:///m/in.mov"}],
                              "next_cursor": None})
    status, out, _ = run("list", "--state", "FINISHED", "--url", api.url)
    assert status == 0
    assert api.requests[0]["path"] == "/jobs?state=FINISHED&limit=50"
    header, row = out.splitlines()
    assert header.split() == ["ID", "STATE", "PROGRESS", "CREATED", "SOURCE"]
    assert row.split() == ["0123456789abcdef0123", "FINISHED", "100%", "2026-01-01T00:00:00.000000Z", "file:///m/in.mov"]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_in_place_on_a_terminal_and_by_lines_elsewhere():
    from nommer.cli.render import ProgressView

    jobs = [{"state": "DOWNLOADING", "progress": 5, "phase": "download", "phases": {"download": 50}},
            {"state": "DOWNLOADING", "progress": 5, "phase": "download", "phases": {"download": 50}},
            {"state": "ENCODING", "progress": 50, "phase": "encode", "phases": {"encode": 50}}]
    for stream in (Terminal(), io.StringIO()):
        view = ProgressView(stream)
        for job in jobs:
            view.show(job)
        view.close()
        text = stream.getvalue()
        assert text.count("DOWNLOADING") == 1  # an unchanged state is not drawn again
        assert " 50%  encode 50%" in text and "[" + "#" * 15 + "." * 15 + "]" in text
        if isinstance(stream, Terminal):
            assert text.startswith("\r") and text.count("\n") == 1
        else:
            assert text.count("\n") == 2 and "\r" not in text


@pytest.mark.parametrize("source, problem", [("missing.mov", "no such file"), ("folder", "not a file")])
def test_a_local_source_that_is_not_a_file_is_refused_before_sending(api_answering, tmp_path, monkeypatch,
                                                                     source, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    api = api_answering(201, {"id": "0123456789abcdef0123", "state": "PENDING"})
    status, out, err = run("--url", api.url, "submit", source, "--preset", "mp4-h264-720p", "--to", "a.mp4")
    assert (status, out) == (2, "")
    assert err == f"nommer: source {source}: {problem}\n"
    assert api.requests == []


def test_a_url_without_a_scheme_is_taken_as_http(api_answering):
    api = api_answering(200, {"presets": []})
    status, _, err = run("--url", api.url.removeprefix("http://"), "presets")
    assert (status, err) == (0, "")
    assert api.requests[0]["path"] == "/presets"


def test_version(capsys):
    from nommer import __version__

    with pytest.raises(SystemExit) as exit:
        run("--version")
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"nommer {__version__}\n"


def test_json_output_of_list_and_presets_is_the_apis_answer(api_answering):
    listing = {"jobs": [{"id": "0123456789abcdef0123", "state": "ERROR", "progress": 10,
                         "created_at": "2026-01-01T00:00:00.000000Z", "source": "file:///m/in.mov"}],
               "next_cursor": "abc"}
    api = api_answering(200, listing)
    status, out, _ = run("list", "--json", "--url", api.url)
    assert status == 0 and json.loads(out) == listing
    presets = api_answering(200, {"presets": [{"name": "aac", "kind": "audio", "extension": "m4a",
                                               "description": "AAC"}]})
    status, out, _ = run("presets", "--json", "--url", presets.url)
    assert status == 0 and json.loads(out) == [{"name": "aac", "kind": "audio", "extension": "m4a",
                                                "description": "AAC"}]


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(api_answering, tmp_path):
    import subprocess
    import sys

    rows = [{"id": f"{n:020d}", "state": "FINISHED", "progress": 100,
             "created_at": "2026-01-01T00:00:00.000000Z", "source": "file:///m/in.mov"} for n in range(5000)]
    api = api_answering(200, {"jobs": rows, "next_cursor": None})
    done = subprocess.run(f"'{sys.executable}' -m nommer.cli list --limit 1000 --url {api.url} | head -n 1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["ID", "STATE", "PROGRESS", "CREATED", "SOURCE"]
    assert done.stderr == ""


def test_progress_shows_elapsed_time_and_what_is_left():
    from nommer.cli.render import ProgressView

    clock = iter([100.0, 100.0, 110.0, 130.0])
    stream = io.StringIO()
    view = ProgressView(stream, now=lambda: next(clock))
    view.show({"state": "ENCODING", "progress": 10})
    view.show({"state": "ENCODING", "progress": 60})
    view.show({"state": "FINISHED", "progress": 100})
    first, second, last = stream.getvalue().splitlines()
    assert first.endswith("  10%  0s")  # no rate yet: no time left shown
    assert second.endswith("  60%  10s left 8s")  # 50 points in 10 s, 40 to go
    assert last.endswith(" 100%  30s")
