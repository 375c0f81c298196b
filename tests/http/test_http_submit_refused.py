"""POST /jobs: every refused submission answers 400 naming the field, and
stores nothing."""

import json

import pytest

PRESET = "mp4-h264-480p"


def good(source, dest):
    return {"source": source, "outputs": [{"destination": dest, "preset": PRESET}]}


def out(dest, **fields):
    return {"destination": dest, **fields}


def one_pass(**sides):
    return [{"outfile_options": [["c:v", "libx264"]], **sides}]


# Each case: a function of (good body, source, dest, media) giving the body
# to send, and the field the error must name.
CASES = {
    "not JSON": (lambda b, s, d, m: b"source=file:///in.mov", "body"),
    "broken JSON": (lambda b, s, d, m: json.dumps(b).encode()[:-1], "body"),
    "JSON array": (lambda b, s, d, m: [b], "body"),
    "JSON string": (lambda b, s, d, m: "a job", "body"),
    "JSON null": (lambda b, s, d, m: None, "body"),
    "empty body": (lambda b, s, d, m: b"", "body"),
    "blank body": (lambda b, s, d, m: b" \n ", "body"),
    "not UTF-8": (lambda b, s, d, m: b'{"source": "\xff"}', "body"),
    "missing source": (lambda b, s, d, m: {"outputs": b["outputs"]}, "source"),
    "number as source": (lambda b, s, d, m: {**b, "source": 42}, "source"),
    "null source": (lambda b, s, d, m: {**b, "source": None}, "source"),
    "empty source": (lambda b, s, d, m: {**b, "source": ""}, "source"),
    "unknown field": (lambda b, s, d, m: {**b, "urgency": 1}, "urgency"),
    "unknown field in an output": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, bitrate="1M")]}, "outputs[0].bitrate"),
    "missing outputs": (lambda b, s, d, m: {"source": s}, "outputs"),
    "empty outputs": (lambda b, s, d, m: {**b, "outputs": []}, "outputs"),
    "outputs an object": (lambda b, s, d, m: {**b, "outputs": out(d, preset=PRESET)}, "outputs"),
    "output a string": (lambda b, s, d, m: {**b, "outputs": [d]}, "outputs[0]"),
    "output without destination": (lambda b, s, d, m: {**b, "outputs": [{"preset": PRESET}]}, "outputs[0].destination"),
    "both preset and options": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, options=one_pass())]}, "outputs[0]"),
    "neither preset nor options": (lambda b, s, d, m: {**b, "outputs": [out(d)]}, "outputs[0]"),
    "unknown preset": (lambda b, s, d, m: {**b, "outputs": [out(d, preset="vhs-lp")]}, "outputs[0].preset"),
    "number as preset": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=720)]}, "outputs[0].preset"),
    "bad second output": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET), out((m / "2.mp4").as_uri(), preset="nope")]}, "outputs[1].preset"),
    "same destination twice": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET), out(d, preset=PRESET)]}, "outputs[1].destination"),
    "too many outputs": (lambda b, s, d, m: {**b, "outputs": [out((m / f"{i}.mp4").as_uri(), preset=PRESET) for i in range(21)]}, "outputs"),
    "source outside the roots": (lambda b, s, d, m: {**b, "source": "file:///etc/passwd"}, "source"),
    "source climbing out with ..": (lambda b, s, d, m: {**b, "source": (m / ".." / ".." / "in.mov").as_uri()}, "source"),
    "relative file URI": (lambda b, s, d, m: {**b, "source": "file:media/in.mov"}, "source"),
    "file URI with a host": (lambda b, s, d, m: {**b, "source": "file://media/in.mov"}, "source"),
    "source without scheme": (lambda b, s, d, m: {**b, "source": "/srv/in.mov"}, "source"),
    "ftp source": (lambda b, s, d, m: {**b, "source": "ftp://files.example/in.mov"}, "source"),
    "source a folder": (lambda b, s, d, m: {**b, "source": m.as_uri() + "/"}, "source"),
    "http destination": (lambda b, s, d, m: {**b, "outputs": [out("https://cdn.example/out.mp4", preset=PRESET)]}, "outputs[0].destination"),
    "destination outside the roots": (lambda b, s, d, m: {**b, "outputs": [out("file:///tmp/elsewhere/out.mp4", preset=PRESET)]}, "outputs[0].destination"),
    "number as destination": (lambda b, s, d, m: {**b, "outputs": [out(7, preset=PRESET)]}, "outputs[0].destination"),
    "notify_url not a URL": (lambda b, s, d, m: {**b, "notify_url": "call me maybe"}, "notify_url"),
    "notify_url ftp": (lambda b, s, d, m: {**b, "notify_url": "ftp://app.example/hook"}, "notify_url"),
    "notify_url without host": (lambda b, s, d, m: {**b, "notify_url": "https:///hook"}, "notify_url"),
    "notify_url a number": (lambda b, s, d, m: {**b, "notify_url": 3}, "notify_url"),
    "options empty": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[])]}, "outputs[0].options"),
    "options an object": (lambda b, s, d, m: {**b, "outputs": [out(d, options=one_pass()[0])]}, "outputs[0].options"),
    "three passes": (lambda b, s, d, m: {**b, "outputs": [out(d, options=one_pass() * 3)]}, "outputs[0].options"),
    "unknown key in a pass": (lambda b, s, d, m: {**b, "outputs": [out(d, options=one_pass(threads=2))]}, "outputs[0].options[0].threads"),
    "option without value": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["an"]]}])]}, "outputs[0].options[0].outfile_options[0][1]"),
    "option of three items": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["b:v", "1M", "x"]]}])]}, "outputs[0].options[0].outfile_options[0]"),
    "option name a number": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [[1, "x"]]}])]}, "outputs[0].options[0].outfile_options[0][0]"),
    "option value an object": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["crf", {"v": 1}]]}])]}, "outputs[0].options[0].outfile_options[0][1]"),
    "option value true": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["an", True]]}])]}, "outputs[0].options[0].outfile_options[0][1]"),
    "move_atom_to_front a string": (lambda b, s, d, m: {**b, "outputs": [out(d, options=one_pass(move_atom_to_front="yes"))]}, "outputs[0].options[0].move_atom_to_front"),
    "unsafe option -i": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"infile_options": [["i", "/etc/passwd"]]}])]}, "outputs[0].options[0].infile_options[0]"),
    "unsafe filter": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["vf", "scale=640:-2,movie=in.mov"]]}])]}, "outputs[0].options[0].outfile_options[0]"),
    "unsafe format": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["f", "image2"]]}])]}, "outputs[0].options[0].outfile_options[0]"),
    # Addresses nommer does not connect to, however spelled.
    "source on loopback": (lambda b, s, d, m: {**b, "source": "http://127.0.0.1:8001/jobs"}, "source"),
    "source on decimal loopback": (lambda b, s, d, m: {**b, "source": "http://2130706433/a.mp4"}, "source"),
    "source on octal loopback": (lambda b, s, d, m: {**b, "source": "http://0177.0.0.1/a.mp4"}, "source"),
    "source on hex loopback": (lambda b, s, d, m: {**b, "source": "https://0x7f.1/a.mp4"}, "source"),
    "source on mapped loopback": (lambda b, s, d, m: {**b, "source": "http://[::ffff:127.0.0.1]/a.mp4"}, "source"),
    "source on localhost": (lambda b, s, d, m: {**b, "source": "http://localhost/a.mp4"}, "source"),
    "source on the metadata service": (lambda b, s, d, m: {**b, "source": "http://169.254.169.254/latest/meta-data/iam/"}, "source"),
    "source on the IPv6 metadata service": (lambda b, s, d, m: {**b, "source": "http://[fd00:ec2::254]/latest/"}, "source"),
    "source on a private network": (lambda b, s, d, m: {**b, "source": "https://192.168.1.20/a.mp4"}, "source"),
    "notify_url on loopback": (lambda b, s, d, m: {**b, "notify_url": "http://127.0.0.1:8001/jobs"}, "notify_url"),
    "notify_url on the metadata service": (lambda b, s, d, m: {**b, "notify_url": "http://169.254.169.254/latest/"}, "notify_url"),
    "notify_url on a private network": (lambda b, s, d, m: {**b, "notify_url": "https://10.0.0.5/hook"}, "notify_url"),
    "notify_url unspecified": (lambda b, s, d, m: {**b, "notify_url": "http://0.0.0.0/hook"}, "notify_url"),
    "notify_url multicast": (lambda b, s, d, m: {**b, "notify_url": "http://[ff02::1]/hook"}, "notify_url"),
    # Schemes and shapes of URIs.
    "data source": (lambda b, s, d, m: {**b, "source": "data:video/mp4;base64,AAAA"}, "source"),
    "s3 notify_url": (lambda b, s, d, m: {**b, "notify_url": "s3://bucket/hook"}, "notify_url"),
    "file notify_url": (lambda b, s, d, m: {**b, "notify_url": "file:///etc/passwd"}, "notify_url"),
    "https destination": (lambda b, s, d, m: {**b, "outputs": [out("https://example.com/o.mp4", preset=PRESET)]}, "outputs[0].destination"),
    "source with NUL": (lambda b, s, d, m: {**b, "source": s + "%00.mp4"}, "source"),
    "source with a raw NUL": (lambda b, s, d, m: {**b, "source": s + "\u0000"}, "source"),
    "source with a bad port": (lambda b, s, d, m: {**b, "source": "http://cdn.example:99999/a.mp4"}, "source"),
    "source with a broken IPv6 host": (lambda b, s, d, m: {**b, "source": "http://[::1/a.mp4"}, "source"),
    "source with a lone surrogate": (lambda b, s, d, m: {**b, "source": s + "\ud800"}, "body"),  # not JSON text
    "huge source URI": (lambda b, s, d, m: {**b, "source": "https://cdn.example/" + "a" * 5000}, "source"),
    # ffmpeg options that would reach beyond the job's own files.
    "value given to a flag": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["f", "mpegts"], ["an", "tcp:10.0.0.1:80"]]}])]}, "outputs[0].options[0].outfile_options[1]"),
    "flag for a value option": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"infile_options": [["f", None]]}])]}, "outputs[0].options[0].infile_options[0]"),
    "concat -safe 0": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"infile_options": [["safe", "0"]]}])]}, "outputs[0].options[0].infile_options[0]"),
    "hls extensions": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"infile_options": [["allowed_segment_extensions", "ALL"]]}])]}, "outputs[0].options[0].infile_options[0]"),
    "input format hls": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"infile_options": [["f", "hls"]]}])]}, "outputs[0].options[0].infile_options[0]"),
    "a protocol as a value": (lambda b, s, d, m: {**b, "outputs": [out(d, options=[{"outfile_options": [["metadata", "subfile,,start,0,end,0,,:etc/passwd"]]}])]}, "outputs[0].options[0].outfile_options[0]"),
    "HLS to a file URI": (lambda b, s, d, m: {**b, "outputs": [out(d, preset="hls-h264-ladder")]}, "outputs[0].destination"),
    "thumbnails to a file URI": (lambda b, s, d, m: {**b, "outputs": [out(d, preset="thumbnails-jpeg")]}, "outputs[0].destination"),
    "a file preset to a folder URI": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/out/", preset=PRESET)]}, "outputs[0].destination"),
    "interval for a video preset": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, interval=5)]}, "outputs[0].interval"),
    "interval of zero": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/t/", preset="thumbnails-jpeg", interval=0)]}, "outputs[0].interval"),
    "interval of a year": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/t/", preset="thumbnails-jpeg", interval=3e7)]}, "outputs[0].interval"),
    "interval a string": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/t/", preset="thumbnails-jpeg", interval="5")]}, "outputs[0].interval"),
    "interval true": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/t/", preset="thumbnails-jpeg", interval=True)]}, "outputs[0].interval"),
    # Caption files: the source's rules, a language tag, presets that carry them.
    "captions not a list": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions={"uri": s, "language": "en"})]}, "outputs[0].captions"),
    "caption without uri": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"language": "en"}])]}, "outputs[0].captions[0].uri"),
    "caption with an unknown field": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": s, "language": "en", "forced": True}])]}, "outputs[0].captions[0].forced"),
    "caption language a name": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": s, "language": "English"}])]}, "outputs[0].captions[0].language"),
    "caption language with underscore": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": s, "language": "pt_BR"}])]}, "outputs[0].captions[0].language"),
    "caption outside the roots": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": "file:///etc/passwd", "language": "en"}])]}, "outputs[0].captions[0].uri"),
    "second caption on loopback": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": s, "language": "en"}, {"uri": "http://127.0.0.1:8001/a.srt", "language": "de"}])]}, "outputs[0].captions[1].uri"),
    "caption over ftp": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": "ftp://files.example/a.srt", "language": "en"}])]}, "outputs[0].captions[0].uri"),
    "caption with credentials": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": "https://user:pw@cdn.example/a.srt", "language": "en"}])]}, "outputs[0].captions[0].uri"),
    "captions for webm": (lambda b, s, d, m: {**b, "outputs": [out((m / "o.webm").as_uri(), preset="webm-vp9-720p", captions=[{"uri": s, "language": "en"}])]}, "outputs[0].captions"),
    "seventeen captions": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, captions=[{"uri": s, "language": "en"}] * 17)]}, "outputs[0].captions"),
    "21 captions in a job": (lambda b, s, d, m: {**b, "outputs": [out((m / f"{i}.mp4").as_uri(), preset=PRESET, captions=[{"uri": s, "language": "en"}] * 7) for i in range(3)]}, "outputs"),
    "DASH to a file URI": (lambda b, s, d, m: {**b, "outputs": [out(d, preset="dash-h264-ladder")]}, "outputs[0].destination"),
    # Loudness, quality reports and targets (nommer/core/ffmpeg/extras.py).
    "loudness target above -5 LUFS": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, loudness=3)]}, "outputs[0].loudness"),
    "loudness object target below -70": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, loudness={"target": -90})]}, "outputs[0].loudness.target"),
    "unknown loudness target": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, loudness="loud")]}, "outputs[0].loudness"),
    "loudness true peak above 0": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, loudness={"target": -23, "true_peak": 2})]}, "outputs[0].loudness.true_peak"),
    "loudness on a silent preset": (lambda b, s, d, m: {**b, "outputs": [out(d, preset="poster-jpeg", loudness="ebu-r128")]}, "outputs[0].loudness"),
    "loudness for passes": (lambda b, s, d, m: {**b, "outputs": [out(d, options=one_pass(), loudness=-23)]}, "outputs[0].loudness"),
    "unknown metric": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, quality=["psnr", "butteraugli"])]}, "outputs[0].quality[1]"),
    "quality a string": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, quality="vmaf")]}, "outputs[0].quality"),
    "quality of HLS": (lambda b, s, d, m: {**b, "outputs": [out(m.as_uri() + "/h/", preset="hls-h264-ladder", quality=["vmaf"])]}, "outputs[0].quality"),
    "target_vmaf over 100": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, target_vmaf=101)]}, "outputs[0].target_vmaf"),
    "target_vmaf of 0": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, target_vmaf=0)]}, "outputs[0].target_vmaf"),
    "target_vmaf a string": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, target_vmaf="93")]}, "outputs[0].target_vmaf"),
    "keep_if_smaller a string": (lambda b, s, d, m: {**b, "outputs": [out(d, preset=PRESET, keep_if_smaller="yes")]}, "outputs[0].keep_if_smaller"),
    "progress_events without notify_url": (lambda b, s, d, m: {**b, "progress_events": True}, "progress_events"),
    "progress_events a string": (lambda b, s, d, m: {**b, "progress_events": "yes", "notify_url": "https://app.example/h"}, "progress_events"),
    "priority above 50": (lambda b, s, d, m: {**b, "priority": 51}, "priority"),
    "priority below -50": (lambda b, s, d, m: {**b, "priority": -51}, "priority"),
    "priority a string": (lambda b, s, d, m: {**b, "priority": "high"}, "priority"),
    "priority a fraction": (lambda b, s, d, m: {**b, "priority": 1.5}, "priority"),
    "priority true": (lambda b, s, d, m: {**b, "priority": True}, "priority"),
    "priority null": (lambda b, s, d, m: {**b, "priority": None}, "priority"),
}


@pytest.mark.parametrize("case", CASES)
def test_refused_naming_the_field(case, post, source, dest, media, stored_jobs):
    make, field = CASES[case]
    body = make(good(source, dest), source, dest, media)

    answer = post("/jobs", body)

    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    assert len(error["message"]) > len(field) + 10  # says what is wrong, too
    assert stored_jobs() == 0


def test_the_good_body_of_the_table_is_accepted(post, source, dest, stored_jobs):
    # Guards the table above: its cases fail for their change, not the base.
    assert post("/jobs", good(source, dest)).status_code == 201
    assert stored_jobs() == 1


def test_captions_and_the_streaming_presets_are_accepted_and_kept(post, source, dest, media, store):
    captions = [{"uri": (media / "in.en.srt").as_uri(), "language": "en"},
                {"uri": (media / "in.pt.vtt").as_uri(), "language": "pt-BR"}]
    body = {"source": source, "outputs": [
        {"destination": dest, "preset": PRESET, "captions": captions},
        {"destination": (media / "cmaf").as_uri() + "/", "preset": "cmaf-h264-ladder", "captions": captions[:1]},
        {"destination": (media / "dash").as_uri() + "/", "preset": "dash-h264-ladder"},
    ]}
    answer = post("/jobs", body)
    assert answer.status_code == 201, answer.get_json()
    job = store.get(answer.get_json()["id"])
    assert [o.get("captions") for o in job.outputs] == [captions, captions[:1], None]


def test_an_unknown_field_message_lists_the_known_ones(post, source, dest):
    answer = post("/jobs", {**good(source, dest), "outputs": [out(dest, preset=PRESET, bitrate="1M")]})

    assert answer.get_json()["error"]["code"] == "UNKNOWN_FIELD"
    assert "destination, preset, options" in answer.get_json()["error"]["message"]


def test_a_type_error_says_what_was_given(post, source, dest):
    message = post("/jobs", {**good(source, dest), "source": 42}).get_json()["error"]["message"]

    assert message == "source: must be a string, not a number"


def test_preset_and_options_together_or_neither_say_which(post, source, dest):
    both = {**good(source, dest), "outputs": [out(dest, preset=PRESET, options=one_pass())]}
    neither = {**good(source, dest), "outputs": [out(dest)]}

    assert post("/jobs", both).get_json()["error"]["message"] == (
        "outputs[0]: has both preset and options; give exactly one"
    )
    assert post("/jobs", neither).get_json()["error"]["message"] == (
        "outputs[0]: needs a preset or options (exactly one of them)"
    )


def test_a_body_above_the_limit_is_refused_with_413(app, post, source, dest, stored_jobs):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = {**good(source, dest), "notify_url": "https://app.example/" + "x" * limit}

    answer = post("/jobs", body)

    assert answer.status_code == 413
    assert answer.get_json()["error"]["field"] == "body"
    assert str(limit) in answer.get_json()["error"]["message"]
    assert stored_jobs() == 0


def test_credentials_without_a_secret_key_are_refused(store, media, source, dest):
    from nommer.core.adapters.local_storage import FileStorage, HttpStorage
    from nommer.core.feeder.service import JobService
    from nommer.core.ports.storage import StorageRouter
    from nommer.http.app import create_app
    from tests.http.conftest import ServiceApi

    service = JobService(store, StorageRouter([FileStorage([media]), HttpStorage()]))  # no key
    client = create_app(ServiceApi(service)).test_client()
    for field, body in [
        ("source", {**good(source, dest), "source": "https://alice:s3cret@cdn.example/a.mov"}),
        ("source", {**good(source, dest), "source": "https://cdn.example/a.mov?X-Amz-Signature=s3cret"}),
        ("notify_url", {**good(source, dest), "notify_url": "https://hook:s3cret@app.example/h"}),
    ]:
        answer = client.post("/jobs", json=body)
        assert answer.status_code == 400
        error = answer.get_json()["error"]
        assert error["field"] == field and "secret_key" in error["message"]
        assert "s3cret" not in answer.get_data(as_text=True)
    assert sum(store.counts().values()) == 0


def test_a_source_in_the_data_folder_is_refused(tmp_path, store):
    from nommer.core.adapters.local_storage import FileStorage
    from nommer.core.feeder.service import JobService
    from nommer.core.ports.storage import StorageRouter
    from nommer.http.app import create_app
    from tests.http.conftest import ServiceApi

    data = tmp_path / "data"
    service = JobService(store, StorageRouter([FileStorage([tmp_path], excluded=[data / "nommer.db"])]))
    client = create_app(ServiceApi(service)).test_client()
    body = {"source": (data / "nommer.db").as_uri(),
            "outputs": [{"destination": (tmp_path / "o.mp4").as_uri(), "preset": PRESET}]}

    answer = client.post("/jobs", json=body)

    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "source"
    assert "data folder" in answer.get_json()["error"]["message"]
    assert sum(store.counts().values()) == 0


@pytest.mark.parametrize("route, field", [("/jobs", "source"), ("/job/submit", "source_path")])
@pytest.mark.parametrize("uri", [
    "file://user:secretpw@host/media/in.mov",
    "file://user:secretpw@localhost/media/in.mov",
    "file:///media/in.mov?client_secret=secretpw",
    "file:///media/in.mov#secretpw",
    "nommer://user:secretpw@host/in.mov",
    "http://user:secretpw@[::1/in.mov",
    "http://user:secretpw@127.0.0.1/in.mov",
])
def test_a_refused_uri_is_never_repeated_with_its_secrets(client, store, dest, route, field, uri):
    body = (good(uri, dest) if route == "/jobs" else
            {"source_path": uri, "dest_path": dest, "job_options": {"nommer": "ffmpeg", "options": one_pass()}})

    answer = client.post(route, json=body)

    assert answer.status_code == (400 if route == "/jobs" else 200)  # media-nommer's refusal is a 200
    data = answer.get_json()
    assert (data if route == "/job/submit" else data["error"])["field"] == field
    text = answer.get_data(as_text=True)
    assert "secretpw" not in text and "user" not in text
    assert sum(store.counts().values()) == 0


def test_credential_parameters_and_fragments_are_sealed_and_never_shown(client, store, box, dest):

    secrets = [f"hunter{n}" for n in range(6)]
    source = ("https://cdn.example/in.mov?width=640&client_secret={}&private_token={}"
              "&access_key={}&session={}&jwt={}#{}".format(*secrets))
    notify = "https://app.example/hook?X-Amz-Credential=hunter9"

    answer = client.post("/jobs", json={**good(source, dest), "notify_url": notify})

    assert answer.status_code == 201, answer.get_json()
    job_id = answer.get_json()["id"]
    shown = client.get(f"/jobs/{job_id}").get_data(as_text=True) + answer.get_data(as_text=True)
    stored = store.get(job_id)
    for secret in secrets + ["hunter9"]:
        assert secret not in shown
        assert secret not in stored.source + stored.notify_url
    assert "width=640" in stored.source and stored.source.endswith("#***")
    # the encoder gets the URI as given
    from nommer.core.security.credentials import real_uris

    assert real_uris(box, stored)["source"] == source


@pytest.mark.parametrize("route", ["/jobs", "/job/submit"])
@pytest.mark.parametrize("host", ["%31%32%37.0.0.1:8080", "\u2460\u2461\u2466.0.0.1", "%6c%6f%63%61%6c%68%6f%73%74."])
def test_a_spelled_out_loopback_host_is_refused_at_submit(client, store, dest, route, host):
    source = f"http://{host}/x.mp4"
    body = (good(source, dest) if route == "/jobs" else
            {"source_path": source, "dest_path": dest, "job_options": {"nommer": "ffmpeg", "options": one_pass()}})

    answer = client.post(route, json=body)

    assert answer.status_code == (400 if route == "/jobs" else 200)  # media-nommer's refusal is a 200
    data = answer.get_json()
    error = data if route == "/job/submit" else data["error"]
    assert error["field"] == ("source" if route == "/jobs" else "source_path")
    assert "loopback" in error["message"]
    assert sum(store.counts().values()) == 0


def test_a_spelled_out_loopback_webhook_is_refused(client, store, source, dest):
    answer = client.post("/jobs", json={**good(source, dest), "notify_url": "http://%31%32%37.0.0.1:9/h"})
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "notify_url"
    assert sum(store.counts().values()) == 0


@pytest.mark.parametrize("priority", [-50, 0, 50])
def test_a_priority_in_range_is_kept_and_shown(post, client, source, dest, priority):
    answer = post("/jobs", {**good(source, dest), "priority": priority})

    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["priority"] == priority
    assert client.get(answer.headers["Location"]).get_json()["priority"] == priority


def test_priority_defaults_to_0(post, source, dest):
    assert post("/jobs", good(source, dest)).get_json()["priority"] == 0


def test_the_service_refuses_a_priority_out_of_range_and_stores_nothing(api, source, dest, stored_jobs):
    from nommer.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        api.submit(source, [out(dest, preset=PRESET)], None, priority=99)
    assert refused.value.field == "priority"
    assert stored_jobs() == 0
