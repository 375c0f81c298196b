"""Where a job may write: never its own source, never one place twice, never
over a file nommer did not write (unless allow_overwrite), never nommer's own
files; over-long names and loops of links are refused naming the field. Both
POST /jobs and media-nommer's /job/submit."""

import os

import pytest

from nommer.core.adapters.local_storage import FileStorage, HttpStorage
from nommer.core.feeder.service import JobService
from nommer.core.ports.storage import StorageRouter
from nommer.http.app import create_app
from tests.http.conftest import ServiceApi

MP4 = "mp4-h264-480p"


def client_for(store, media, **storage):
    service = JobService(store, StorageRouter([FileStorage([media], **storage), HttpStorage()]))
    return create_app(ServiceApi(service)).test_client()


def body(source, *destinations, preset=MP4):
    outputs = [{"destination": d, "preset": p} for d, p in
               ((d if isinstance(d, tuple) else (d, preset)) for d in destinations)]
    return {"source": source, "outputs": outputs}


def legacy(source, destination):
    return {"source_path": source, "dest_path": destination,
            "job_options": {"nommer": "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer",
                            "options": [{"outfile_options": [["c:v", "libx264"]]}]}}


def refused(client, payload, field, words, route="/jobs"):
    answer = client.post(route, json=payload)
    # media-nommer's route refuses with a 200 its client can read
    assert answer.status_code == (200 if route.startswith("/job/submit") else 400), answer.get_json()
    data = answer.get_json()
    error = data if route.startswith("/job/submit") else data["error"]
    assert error["field"] == field, error
    assert words in error["message"], error
    return error


@pytest.fixture
def client(store, media):
    return client_for(store, media)


@pytest.mark.parametrize("allow_overwrite", [False, True])
def test_the_source_itself_is_never_a_destination(store, media, source, stored_jobs, allow_overwrite):
    client = client_for(store, media, allow_overwrite=allow_overwrite)
    before = (media / "in.mov").read_bytes()

    refused(client, body(source, source), "outputs[0].destination", "own source")
    refused(client, body(source, (media / "." / "sub" / ".." / "in.mov").as_uri()),
            "outputs[0].destination", "own source")
    refused(client, legacy(source, source), "dest_path", "own source", route="/job/submit")

    assert (media / "in.mov").read_bytes() == before
    assert stored_jobs() == 0


def test_a_link_to_the_source_is_the_source(store, media, source, stored_jobs):
    (media / "alias.mp4").symlink_to(media / "in.mov")
    client = client_for(store, media, allow_overwrite=True)

    refused(client, body(source, (media / "alias.mp4").as_uri()), "outputs[0].destination", "own source")
    refused(client, body((media / "alias.mp4").as_uri(), source), "outputs[0].destination", "own source")
    assert stored_jobs() == 0


def test_an_existing_file_nommer_did_not_write_is_not_replaced(client, media, source, stored_jobs):
    config = media / "nommer.toml"
    config.write_text('port = 8001\n')

    error = refused(client, body(source, config.as_uri()), "outputs[0].destination", "nommer did not write it")
    assert "allow_overwrite" in error["message"]
    refused(client, legacy(source, config.as_uri()), "dest_path", "nommer did not write it", route="/job/submit")

    assert config.read_text() == 'port = 8001\n'
    assert stored_jobs() == 0


def test_a_file_nommer_wrote_may_be_written_again(client, media, source, stored_jobs):
    # A job run again to the same destination: the earlier output carries
    # nommer's mark (FileStorage.put puts it there).
    earlier = media / "out" / "small.mp4"
    earlier.parent.mkdir()
    earlier.write_bytes(b"an earlier output")
    from nommer.core.adapters.local_storage import OWN_MARK, OWN_VALUE

    os.setxattr(earlier, OWN_MARK, OWN_VALUE)

    assert client.post("/jobs", json=body(source, earlier.as_uri())).status_code == 201
    assert stored_jobs() == 1


def test_allow_overwrite_lets_any_file_be_replaced(store, media, source, stored_jobs):
    (media / "theirs.mp4").write_bytes(b"someone's file")
    client = client_for(store, media, allow_overwrite=True)

    assert client.post("/jobs", json=body(source, (media / "theirs.mp4").as_uri())).status_code == 201
    assert stored_jobs() == 1


@pytest.mark.parametrize("spelling", ["out//dup.mp4", "out/./dup.mp4", "out/../out/dup.mp4", "./out/dup.mp4"])
def test_one_place_spelled_twice_is_one_destination(client, media, source, stored_jobs, spelling):
    first = media.as_uri() + "/out/dup.mp4"
    second = media.as_uri() + "/" + spelling

    refused(client, body(source, first, second), "outputs[1].destination", "destination of outputs[0]")
    assert stored_jobs() == 0


def test_a_link_to_another_destination_is_that_destination(client, media, source, stored_jobs):
    (media / "out").mkdir()
    (media / "elsewhere").symlink_to(media / "out")

    refused(client, body(source, (media / "out" / "a.mp4").as_uri(), (media / "elsewhere" / "a.mp4").as_uri()),
            "outputs[1].destination", "destination of outputs[0]")
    assert stored_jobs() == 0


@pytest.mark.parametrize("first, second, words", [
    (("out/hls/", "hls-h264-ladder"), ("out/hls/poster.jpg", "poster-jpeg"), "inside the folder outputs[0] writes"),
    (("out/a.mp4", MP4), ("out/", "hls-h264-ladder"), "holds the destination of outputs[0]"),
    (("out/thumbs/", "thumbnails-jpeg"), ("out/", "hls-h264-ladder"), "holds the destination of outputs[0]"),
    (("out/", "hls-h264-ladder"), ("out/./thumbs/", "thumbnails-jpeg"), "inside the folder outputs[0] writes"),
    (("out/hls/", "hls-h264-ladder"), ("out//hls/", "thumbnails-jpeg"), "destination of outputs[0]"),
])
def test_folder_destinations_do_not_overlap(client, media, source, stored_jobs, first, second, words):
    outputs = [(media.as_uri() + "/" + path, preset) for path, preset in (first, second)]

    refused(client, body(source, *outputs), "outputs[1].destination", words)
    assert stored_jobs() == 0


def test_a_folder_destination_never_holds_the_source(client, media, source, stored_jobs):
    refused(client, body(source, (media.as_uri() + "/", "hls-h264-ladder")),
            "outputs[0].destination", "the job's own source")
    assert stored_jobs() == 0


def test_folders_side_by_side_are_fine(client, media, source, stored_jobs):
    outputs = [(media.as_uri() + "/out/hls/", "hls-h264-ladder"),
               (media.as_uri() + "/out/hls-thumbs/", "thumbnails-jpeg"),
               (media.as_uri() + "/out/hls.mp4", MP4)]
    assert client.post("/jobs", json=body(source, *outputs)).status_code == 201
    assert stored_jobs() == 1


LONG = "x" * 256


@pytest.mark.parametrize("route", ["/jobs", "/job/submit"])
@pytest.mark.parametrize("where", ["source", "destination"])
@pytest.mark.parametrize("path, words", [
    (f"{LONG}.mp4", "260 bytes long"),
    (f"{LONG}/in.mp4", "256 bytes long"),
    # 21 names of 200 bytes (100 two-byte letters): each fits, the path does not
    ("/".join(["é" * 100] * 21) + "/in.mp4", "at most 4096 bytes"),
])
def test_names_longer_than_a_file_system_takes_are_refused(client, media, source, stored_jobs,
                                                           route, where, path, words):
    long_uri = f"file://{media}/{path}"
    fields = {("source", "/jobs"): "source", ("destination", "/jobs"): "outputs[0].destination",
              ("source", "/job/submit"): "source_path", ("destination", "/job/submit"): "dest_path"}
    good_dest = (media / "o.mp4").as_uri()
    src, dst = (long_uri, good_dest) if where == "source" else (source, long_uri)
    payload = body(src, dst) if route == "/jobs" else legacy(src, dst)

    refused(client, payload, fields[where, route], words, route=route)
    assert stored_jobs() == 0


@pytest.mark.parametrize("route", ["/jobs", "/job/submit"])
@pytest.mark.parametrize("where", ["source", "destination"])
def test_a_loop_of_links_is_refused(client, media, source, stored_jobs, route, where):
    (media / "a").symlink_to(media / "b")
    (media / "b").symlink_to(media / "a")
    looped = (media / "a" / "in.mov").as_uri()
    fields = {("source", "/jobs"): "source", ("destination", "/jobs"): "outputs[0].destination",
              ("source", "/job/submit"): "source_path", ("destination", "/job/submit"): "dest_path"}
    good_dest = (media / "o.mp4").as_uri()
    src, dst = (looped, good_dest) if where == "source" else (source, looped)
    payload = body(src, dst) if route == "/jobs" else legacy(src, dst)

    refused(client, payload, fields[where, route], "loop of symbolic links", route=route)
    assert stored_jobs() == 0
