"""Jobs with several outputs through a real encoder process: one download and
one decode, a state and a result per output, HLS and image folders, sources
that cannot succeed failing before any encode, progress, and timeouts."""

import functools
import http.server
import json
import os
import subprocess
import threading

import pytest

from nommer.core import ffmpeg

from nommer.core.model import results
from nommer.core.model.jobs import State
from nommer.testing.media import make_clip

from .farm import (
    encoder_farm, farm_env, open_parts, place_job, start_encoder, state_history, uri, wait_final, wait_for,
)

BROKEN = {"broken": {"description": "asks for a pixel format that does not exist", "extension": "mp4",
                     "args": ["-c:v", "libx264", "-pix_fmt", "no_such_format"]}}


class CountingServer:
    """Serves a folder on loopback and counts the GETs of each path."""

    def __init__(self, folder):
        self.gets = {}
        counts = self.gets

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                counts[self.path] = counts.get(self.path, 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    with encoder_farm(tmp_path_factory.mktemp("outputs-farm"), "enc-outputs",
                      jobs_per_encoder=2, presets=json.dumps(BROKEN)) as farm:
        served = CountingServer(farm["media"])
        try:
            yield {**farm, "http": served}
        finally:
            served.close()






@pytest.fixture(scope="module")
def five_outputs(farm, ffmpeg_exe):
    """A job of five outputs (two of them folders) from an HTTP source."""
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "five.mp4", seconds=1.0, size="480x270")
    outputs = [
        {"destination": uri(media / "five" / "small.mp4"), "preset": "mp4-h264-360p"},
        {"destination": uri(media / "five" / "small.webm"), "preset": "webm-vp9-720p"},
        {"destination": uri(media / "five" / "sound.m4a"), "preset": "m4a-aac"},
        {"destination": uri(media / "five" / "thumbs") + "/", "preset": "thumbnails-jpeg", "interval": 0.5},
        {"destination": uri(media / "five" / "hls") + "/", "preset": "hls-h264-ladder"},
    ]
    job = place_job(farm["parts"], farm["http"].base + "/five.mp4", outputs)
    done = wait_final(farm["parts"].store, job.id, timeout=180)
    assert done.state == State.FINISHED, done.details
    return done


def test_five_outputs_download_the_source_once(farm, five_outputs):
    assert farm["http"].gets == {"/five.mp4": 1}
    assert [o["state"] for o in five_outputs.outputs] == ["FINISHED"] * 5
    assert five_outputs.progress == 100
    assert five_outputs.phases == {"download": 100, "encode": 100, "upload": 100}


def test_each_file_output_reports_what_it_is(farm, five_outputs, ffmpeg_exe):
    for output, (width, height) in zip(five_outputs.outputs[:2], [(480, 270), (480, 270)]):
        result = output["result"]
        path = output["destination"][len("file://"):]
        assert result["file_count"] == 1 and "manifest" not in result
        assert results.shown(result, output["destination"])["files"] == [output["destination"]]
        assert result["size"] == os.path.getsize(path)
        assert (result["width"], result["height"]) == (width, height)
        assert result["duration"] == pytest.approx(1.0, abs=0.1)
        assert result["bitrate"] == pytest.approx(result["size"] * 8 / result["duration"], rel=0.01)
    audio = five_outputs.outputs[2]["result"]
    assert (audio["width"], audio["height"]) == (None, None) and audio["duration"] == pytest.approx(1.0, abs=0.1)


def test_thumbnails_land_under_the_folder_destination(farm, five_outputs):
    output = five_outputs.outputs[3]
    result = output["result"]
    folder = farm["media"] / "five" / "thumbs"
    images = ["thumb-00001.jpg", "thumb-00002.jpg"]
    assert sorted(os.listdir(folder)) == [results.MANIFEST, *images]
    assert result["count"] == result["file_count"] == 2
    assert results.shown(result, output["destination"])["files"] == [uri(folder / n) for n in images]
    assert result["first"] == images[0]
    assert result["size"] == sum((folder / n).stat().st_size for n in images)
    book = json.loads((folder / results.MANIFEST).read_text())
    assert [(f["path"], f["size"], f["content_type"]) for f in book["files"]] == [
        (n, (folder / n).stat().st_size, "image/jpeg") for n in images]


def test_hls_output_plays_back_from_its_destination(farm, five_outputs, ffmpeg_exe):
    output = five_outputs.outputs[4]
    result = output["result"]
    shown = results.shown(result, output["destination"])
    folder = farm["media"] / "five" / "hls"
    assert shown["playlist"] == uri(folder) + "/master.m3u8"
    # A 270p source: the 360p rendition only, at the source's size.
    assert [(r["name"], r["width"], r["height"]) for r in result["renditions"]] == [("360p", 480, 270)]
    made = sorted(set(os.listdir(folder)) - {results.MANIFEST})
    assert sorted(shown["files"]) == [uri(folder / n) for n in made]
    played = subprocess.run(
        [ffmpeg_exe, "-v", "error", "-protocol_whitelist", "file", "-i", str(folder / "master.m3u8"),
         "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0 and not played.stderr.strip(), played.stderr
    info = ffmpeg.probe(ffmpeg_exe, folder / "master.m3u8", own=True)
    assert info["duration"] == pytest.approx(1.0, abs=0.1)
    assert {s["type"] for s in info["streams"]} == {"video", "audio"}


def test_hls_output_has_a_manifest_beside_it_and_a_summary_in_its_record(farm, five_outputs):
    output = five_outputs.outputs[4]
    result = output["result"]
    folder = farm["media"] / "five" / "hls"
    made = sorted(set(os.listdir(folder)) - {results.MANIFEST})
    assert results.result_bytes(result) <= results.MAX_RESULT_BYTES
    assert result["manifest"] == results.MANIFEST and result["file_count"] == len(made)
    assert results.shown(result, output["destination"])["manifest"] == uri(folder / results.MANIFEST)
    book = json.loads((folder / results.MANIFEST).read_text())
    assert (book["job_id"], book["output"], book["preset"]) == (five_outputs.id, 4, "hls-h264-ladder")
    assert sorted(f["path"] for f in book["files"]) == made
    assert all(f["size"] == (folder / f["path"]).stat().st_size for f in book["files"])
    segments = [f for f in book["files"] if f["path"].endswith(".ts")]
    assert {f["content_type"] for f in segments} == {"video/mp2t"}
    assert result["renditions"][0]["segments"] == len(segments)
    assert sum(f["duration"] for f in segments) == pytest.approx(1.0, abs=0.1)
    assert book["size"] == result["size"] == sum(f["size"] for f in book["files"])


def test_source_without_video_fails_before_any_encode(farm, ffmpeg_exe):
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "voice.m4a", seconds=1.0, video=False)
    job = place_job(farm["parts"], uri(media / "voice.m4a"), [
        {"destination": uri(media / "novideo" / "voice.m4a"), "preset": "m4a-aac"},
        {"destination": uri(media / "novideo" / "video.mp4"), "preset": "mp4-h264-360p"},
    ])
    done = wait_final(farm["parts"].store, job.id, timeout=60)
    assert done.state == State.ERROR and done.error_code == "NO_VIDEO_STREAM"
    assert "outputs[1] (mp4-h264-360p)" in done.details and "needs a video stream" in done.details
    assert [o["state"] for o in done.outputs] == ["SKIPPED", "ERROR"]  # never made: it ended with the job
    assert done.outputs[1]["error_code"] == "NO_VIDEO_STREAM"
    assert [s["type"] for s in done.probe["streams"]] == ["audio"]  # probed, and kept
    assert state_history(farm["parts"], job.id) == ["DOWNLOADING", "ERROR"]  # never ENCODING
    assert not (media / "novideo").exists()


def test_source_of_zero_seconds_fails_with_zero_duration(farm, ffmpeg_exe):
    media = farm["media"]
    subprocess.run([ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "0",
                    str(media / "silence.wav")], check=True)
    job = place_job(farm["parts"], uri(media / "silence.wav"),
                    [{"destination": uri(media / "silence.m4a"), "preset": "m4a-aac"}])
    done = wait_final(farm["parts"].store, job.id, timeout=60)
    assert (done.state, done.error_code) == (State.ERROR, "ZERO_DURATION")
    assert "0 seconds" in done.details


def test_one_failing_output_fails_the_job_and_spares_the_others(farm, ffmpeg_exe):
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "mixed.mp4", seconds=1.0, size="320x240")
    job = place_job(farm["parts"], uri(media / "mixed.mp4"), [
        {"destination": uri(media / "mixed" / "good.mp4"), "preset": "mp4-h264-360p"},
        {"destination": uri(media / "mixed" / "bad.mp4"), "preset": "broken"},
    ])
    done = wait_final(farm["parts"].store, job.id, timeout=120)
    assert (done.state, done.error_code) == (State.ERROR, "ENCODE_FAILED")
    assert [o["state"] for o in done.outputs] == ["FINISHED", "ERROR"]
    assert "outputs[1] (broken) failed: ffmpeg failed" in done.details and "no_such_format" in done.details
    assert "ENCODE_FAILED" not in done.details  # the code is said once, in error_code
    assert "/work/" not in done.details and " @ 0x" not in done.details  # no internal paths
    assert (media / "mixed" / "good.mp4").stat().st_size == done.outputs[0]["result"]["size"]
    assert not (media / "mixed" / "bad.mp4").exists()


def test_progress_rises_to_100_phase_by_phase(farm, ffmpeg_exe):
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "longer.mp4", seconds=20.0, size="640x360")
    store = farm["parts"].store
    job = place_job(farm["parts"], uri(media / "longer.mp4"), [
        {"destination": uri(media / "longer-360.mp4"), "preset": "mp4-h264-360p"},
        {"destination": uri(media / "longer.m4a"), "preset": "m4a-aac"},
    ])
    seen = []

    def record():
        j = store.get(job.id)
        if not seen or (j.progress, j.phases) != seen[-1][1:]:
            seen.append((j.state, j.progress, j.phases))
        return j.is_final

    wait_for(record, 180, "the job to end", step=0.02)
    assert seen[-1][0] == State.FINISHED and seen[-1][1] == 100
    overall = [p for _, p, _ in seen]
    assert overall == sorted(overall)
    encoding = [ph["encode"] for state, _, ph in seen if state == State.ENCODING and ph]
    assert len({p for p in encoding if 0 < p < 100}) >= 3, seen  # seen rising while it ran
    assert encoding == sorted(encoding)


def test_encode_timeout_ends_in_timed_out(tmp_path, farm, ffmpeg_exe):
    clip = make_clip(ffmpeg_exe, farm["media"] / "slow.mp4", seconds=30.0, size="640x360")
    env = farm_env(tmp_path / "data", [farm["media"]], encode_timeout=1)
    parts = open_parts(env)
    proc = start_encoder(env, "enc-timeout", tmp_path / "enc.log")
    try:
        job = place_job(parts, uri(clip), [{"destination": uri(farm["media"] / "slow-out.mp4"),
                                            "preset": "mp4-h265-1080p"}])
        done = wait_final(parts.store, job.id, timeout=60)
        assert (done.state, done.error_code) == (State.ERROR, "TIMED_OUT")
        assert "encode_timeout (1 s)" in done.details
        assert done.outputs[0]["state"] == "ERROR"
        assert not (farm["media"] / "slow-out.mp4").exists()
    finally:
        proc.terminate()
        proc.wait(30)
        parts.close()


def test_a_job_run_again_replaces_its_outputs_but_never_a_file_nommer_did_not_write(farm, ffmpeg_exe):
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "again.mp4", seconds=1.0, size="160x90")
    outputs = [{"destination": uri(media / "again" / "out.mp4"), "preset": "mp4-h264-360p"},
               {"destination": uri(media / "again" / "thumbs") + "/", "preset": "thumbnails-jpeg",
                "interval": 0.5}]
    for _ in range(2):
        job = place_job(farm["parts"], uri(media / "again.mp4"), outputs)
        done = wait_final(farm["parts"].store, job.id, timeout=120)
        assert done.state == State.FINISHED, done.details

    # Someone else's file where an output goes, with the same name: kept.
    (media / "again" / "out.mp4").unlink()
    (media / "again" / "out.mp4").write_bytes(b"the operator's own file")
    job = place_job(farm["parts"], uri(media / "again.mp4"), outputs[:1])
    done = wait_final(farm["parts"].store, job.id, timeout=120)
    assert done.state == State.ERROR and done.error_code == "DESTINATION_INVALID", done.details
    assert "nommer did not write it" in done.details
    assert (media / "again" / "out.mp4").read_bytes() == b"the operator's own file"


@pytest.fixture(scope="module")
def streaming(farm, ffmpeg_exe):
    """A job from a source with two subtitle languages, plus a caption file:
    a CMAF ladder, a DASH ladder and an MP4."""
    from nommer.testing.media import add_subtitles, srt_text

    media = farm["media"]
    clip = make_clip(ffmpeg_exe, media / "talk-plain.mp4", seconds=1.0, size="480x270")
    add_subtitles(ffmpeg_exe, clip, media / "talk.mkv")
    (media / "talk.fr.srt").write_text(srt_text([("00:00:00,100", "00:00:00,900", "Bonjour")]), encoding="utf-8")
    caption = [{"uri": uri(media / "talk.fr.srt"), "language": "fr"}]
    outputs = [
        {"destination": uri(media / "streaming" / "cmaf") + "/", "preset": "cmaf-h264-ladder", "captions": caption},
        {"destination": uri(media / "streaming" / "dash") + "/", "preset": "dash-h264-ladder"},
        {"destination": uri(media / "streaming" / "talk.mp4"), "preset": "mp4-h264-360p", "captions": caption},
    ]
    job = place_job(farm["parts"], uri(media / "talk.mkv"), outputs)
    done = wait_final(farm["parts"].store, job.id, timeout=180)
    assert done.state == State.FINISHED, done.details
    return done


@pytest.mark.parametrize("index,preset", [(0, "cmaf-h264-ladder"), (1, "dash-h264-ladder")])
def test_streaming_ladders_land_whole_with_their_manifests(farm, streaming, index, preset):
    import xml.etree.ElementTree as ET

    from nommer.core.ffmpeg import dash

    output = streaming.outputs[index]
    result = output["result"]
    folder = farm["media"] / "streaming" / ("cmaf" if index == 0 else "dash")
    shown = results.shown(result, output["destination"])
    assert shown["playlist"] == uri(folder) + "/" + dash.MPD
    assert (shown.get("hls_playlist") == uri(folder) + "/master.m3u8") == (index == 0)
    book = json.loads((folder / results.MANIFEST).read_text())
    assert book["preset"] == preset
    assert sorted(f["path"] for f in book["files"]) == sorted(set(os.listdir(folder)) - {results.MANIFEST})
    # Every file the MPD names is there, and the subtitles are listed.
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    root = ET.parse(folder / dash.MPD).getroot()
    listed = dash.representations(folder / dash.MPD)
    for rep in listed:
        for name in ([rep["init"]] if rep["init"] else []) + [n for n, _ in rep["segments"]]:
            assert (folder / name).is_file(), name
    langs = [s.get("lang") for s in root.iter(f"{{{ns['d']}}}AdaptationSet") if s.get("contentType") == "text"]
    assert langs == (["eng", "ger", "fr"] if index == 0 else ["eng", "ger"])
    video = [r for r in result["renditions"] if r["content"] == "video"]
    assert [(r["width"], r["height"]) for r in video] == [(480, 270)]
    assert result["duration"] == pytest.approx(1.0, abs=0.1)


def test_streaming_mp4_carries_the_source_subtitles_and_the_caption_file(farm, streaming, ffmpeg_exe):
    info = ffmpeg.probe(ffmpeg_exe, farm["media"] / "streaming" / "talk.mp4", own=True)
    subs = [(s["codec"], s["language"]) for s in info["streams"] if s["type"] == "subtitle"]
    assert subs == [("mov_text", "eng"), ("mov_text", "ger"), ("mov_text", "fre")]


def test_a_caption_file_that_is_not_subtitles_ends_the_job_before_encoding(farm, ffmpeg_exe):
    media = farm["media"]
    make_clip(ffmpeg_exe, media / "plain.mp4", seconds=0.5, size="160x90")
    job = place_job(farm["parts"], uri(media / "plain.mp4"), [
        {"destination": uri(media / "badcaption" / "o.mp4"), "preset": "mp4-h264-360p",
         "captions": [{"uri": uri(media / "plain.mp4"), "language": "en"}]},
    ])
    done = wait_final(farm["parts"].store, job.id, timeout=60)
    assert done.state == State.ERROR and done.error_code == "CAPTION_INVALID", done.details
    assert "outputs[0].captions[0].uri" in done.details
    assert not (media / "badcaption").exists()
