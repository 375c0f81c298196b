"""What an output reports about itself, read from the files made; and the
master playlist written when ffmpeg could not write a useful one."""

import json
import os
import pathlib
import subprocess

import pytest

from nommer.core.model import results
from nommer.core.adapters.local_storage import FileStorage
from nommer.core.feeder.service import MAX_OUTPUTS
from nommer.core.ports.storage import MAX_URI_LENGTH, StorageRouter
from nommer.core.ffmpeg import plan_job, run_plan
from nommer.core.ffmpeg.hls_master import lists_renditions

from .long_outputs import hls_ladder_upload


def make(ffmpeg_exe, probe_media, source, tmp_path, *presets):
    outputs = [{"destination": "unused", "preset": p} for p in presets]
    probe = probe_media(source)
    plans, targets = plan_job(ffmpeg_exe, source, probe, outputs, tmp_path)
    for plan in plans:
        run_plan(plan, probe["duration"])
    return [results.describe(ffmpeg_exe, t) for t in targets], targets


def test_a_file_output_reports_size_duration_picture_and_bitrate(ffmpeg_exe, probe_media, sample_clip, tmp_path):
    (facts, poster), targets = make(ffmpeg_exe, probe_media, sample_clip, tmp_path, "mp4-h264-360p", "poster-jpeg")
    size = os.path.getsize(targets[0].path)
    assert facts["size"] == size
    assert (facts["width"], facts["height"]) == (320, 240)
    assert facts["duration"] == pytest.approx(2.0, abs=0.1)
    assert facts["bitrate"] == int(size * 8 / facts["duration"])
    # A still has a picture but no duration or bitrate.
    assert (poster["width"], poster["height"], poster["duration"], poster["bitrate"]) == (320, 240, None, None)


def file_storage(root):
    return StorageRouter([FileStorage([root])])


def read_manifest(folder):
    return json.loads((folder / results.MANIFEST).read_text())


def test_a_small_hls_output_keeps_its_uris_and_gets_a_manifest_beside_its_files(tmp_path):
    folder = tmp_path / "out"
    destination = f"file://{folder}/"
    facts = results.ladder_facts(
        [{"name": "360p", "playlist": "360p.m3u8", "duration": 1.5, "width": 2, "height": 2, "bitrate": 80}],
        {"360p.m3u8": [("360p_00000.ts", 1.0), ("360p_00001.ts", 0.5)]},
        {"360p_00000.ts": 7, "360p_00001.ts": 3, "360p.m3u8": 2, "master.m3u8": 1})
    stored = [(destination + n, b) for n, b in
              [("360p_00000.ts", 7), ("360p_00001.ts", 3), ("360p.m3u8", 2), ("master.m3u8", 1)]]

    made = results.finish(file_storage(tmp_path), facts, stored, destination, tmp_path / "m.json",
                          about={"job_id": "j1", "output": 0})

    # The record names files relative to the destination...
    assert made["files"] == ["360p_00000.ts", "360p_00001.ts", "360p.m3u8", "master.m3u8"]
    assert (made["file_count"], made["size"], made["manifest"]) == (4, 13, results.MANIFEST)
    # ...and the API shows the URIs it showed before, and the manifest's.
    shown = results.shown(made, destination)
    assert shown["files"] == [uri for uri, _ in stored]
    assert shown["playlist"] == destination + "master.m3u8"
    assert shown["renditions"][0]["playlist"] == destination + "360p.m3u8"
    assert shown["renditions"][0]["segments"] == 2
    assert shown["manifest"] == destination + results.MANIFEST
    book = read_manifest(folder)
    assert (book["job_id"], book["output"], book["file_count"], book["size"]) == ("j1", 0, 4, 13)
    assert book["files"] == [
        {"path": "360p_00000.ts", "size": 7, "duration": 1.0, "content_type": "video/mp2t"},
        {"path": "360p_00001.ts", "size": 3, "duration": 0.5, "content_type": "video/mp2t"},
        {"path": "360p.m3u8", "size": 2, "duration": 1.5, "content_type": "application/vnd.apple.mpegurl"},
        {"path": "master.m3u8", "size": 1, "duration": 1.5, "content_type": "application/vnd.apple.mpegurl"},
    ]


def test_a_file_output_lists_its_destination_and_writes_no_manifest(tmp_path):
    destination = f"file://{tmp_path}/out.mp4"
    facts = {"size": 10, "duration": 1.0, "width": 2, "height": 2, "bitrate": 80}

    made = results.finish(file_storage(tmp_path), facts, [(destination, 10)], destination, tmp_path / "m.json")

    assert made == {"size": 10, "file_count": 1, "duration": 1.0, "width": 2, "height": 2, "bitrate": 80}
    assert results.shown(made, destination)["files"] == [destination]
    assert list(tmp_path.iterdir()) == []


def test_a_three_hour_ladder_is_summed_up_and_its_manifest_lists_every_file(tmp_path):
    folder = tmp_path / "long"
    destination = f"file://{folder}/"
    facts, stored = hls_ladder_upload(destination, hours=3, segment_seconds=6)
    assert len(stored) == 7200 + 5

    made = results.finish(file_storage(tmp_path), facts, stored, destination, tmp_path / "m.json")

    assert results.result_bytes(made) <= results.MAX_RESULT_BYTES
    assert "files" not in made and "files" not in results.shown(made, destination)
    assert (made["file_count"], made["size"]) == (7205, sum(b for _, b in stored))
    assert [(r["name"], r["segments"]) for r in made["renditions"]] == [
        ("1080p", 1800), ("720p", 1800), ("480p", 1800), ("360p", 1800)]
    book = read_manifest(folder)
    assert [f["path"] for f in book["files"]] == [uri[len(destination):] for uri, _ in stored]
    assert [f["size"] for f in book["files"]] == [b for _, b in stored]
    segments = [f for f in book["files"] if f["path"].endswith(".ts")]
    assert sum(f["duration"] for f in segments) == 4 * 3 * 3600


@pytest.mark.parametrize("count", [1, results.MAX_LISTED_FILES, results.MAX_LISTED_FILES + 1, 3600])
def test_a_result_stays_within_its_bound_however_many_and_long_the_names(tmp_path, count):
    # The longest leaf a file system takes, under the longest destination a job may have.
    destination = "s3://bucket/" + "d" * (MAX_URI_LENGTH - 300) + "/"
    names = [f"{i:05d}-" + "x" * 245 + ".jpg" for i in range(count)]
    assert len(names[0]) == 255
    facts = {"size": 0, "count": count, "duration": None, "width": 360, "height": 202,
             "bitrate": None, "durations": {}}

    made = results.summary(facts, [(n, 5000) for n in names], folder=True)

    assert results.result_bytes(made) <= results.MAX_RESULT_BYTES
    assert made["first"] == names[0] and made["file_count"] == count
    # One such name fits; ten do not, and the manifest alone lists them.
    assert ("files" in made) == (count == 1)
    assert results.shown(made, destination)["first"] == destination + names[0]


def test_a_few_short_names_are_listed_and_more_than_the_limit_are_not():
    facts = {"size": 0, "count": 0, "duration": None, "width": 1, "height": 1, "bitrate": None}
    names = [f"thumb-{i:05d}.jpg" for i in range(1, results.MAX_LISTED_FILES + 2)]

    listed = results.summary(facts, [(n, 1) for n in names[:-1]], folder=True)
    unlisted = results.summary(facts, [(n, 1) for n in names], folder=True)

    assert listed["files"] == names[:-1]
    assert "files" not in unlisted and unlisted["file_count"] == results.MAX_LISTED_FILES + 1


def test_a_result_that_cannot_fit_its_bound_is_refused():
    # Never made by nommer's presets (a ladder has at most four renditions):
    # the check keeps a record from ever growing past its store.
    rendition = {"name": "x" * 200, "playlist": "x" * 200 + ".m3u8", "duration": 1.0, "width": 1,
                 "height": 1, "bitrate": 1}
    facts = results.ladder_facts([rendition] * 8, {rendition["playlist"]: []}, {})
    with pytest.raises(ValueError, match=str(results.MAX_RESULT_BYTES)):
        results.summary(facts, [], folder=True)


def test_a_file_named_like_the_manifest_is_refused_and_nothing_is_written(tmp_path):
    destination = f"file://{tmp_path}/out/"
    stored = [(destination + results.MANIFEST, 3)]
    with pytest.raises(ValueError, match=results.MANIFEST):
        results.finish(file_storage(tmp_path), {"size": 3}, stored, destination, tmp_path / "m.json")
    assert not (tmp_path / "out").exists()


def test_results_stored_with_uris_are_shown_as_they_were_with_credentials_hidden():
    # Before results named files relative to the destination, they held URIs.
    destination = "s3://AKIAKEY:SECRET@b/p/"
    old = {"size": 10, "files": ["s3://AKIAKEY:SECRET@b/p/360p_00000.ts", "s3://b/p/master.m3u8"],
           "playlist": "s3://b/p/master.m3u8",
           "renditions": [{"name": "360p", "playlist": "s3://b/p/360p.m3u8", "width": 2, "height": 2}]}

    shown = results.shown(old, destination)

    assert shown["files"] == ["s3://***:***@b/p/360p_00000.ts", "s3://b/p/master.m3u8"]
    assert shown["playlist"] == "s3://b/p/master.m3u8" and shown["file_count"] == 2
    assert shown["renditions"][0]["playlist"] == "s3://b/p/360p.m3u8"
    assert "manifest" not in shown


def test_every_output_of_the_biggest_job_fits_the_smallest_store():
    # A SimpleDB item holds 256 attributes; the job store uses 7 for the
    # fields Select filters on and splits the record's JSON into values of
    # at most CHUNK bytes. The results of a job's outputs take at most a
    # fifth of that, whatever the outputs made.
    from nommer.core.adapters.simpledb_store import CHUNK

    simpledb_record = (256 - 7) * CHUNK
    assert MAX_OUTPUTS * results.MAX_RESULT_BYTES <= simpledb_record // 5
    assert MAX_OUTPUTS * results.MAX_RESULT_BYTES <= 400_000 // 5  # a DynamoDB item


def test_a_source_of_a_few_frames_still_gets_a_master_that_plays(ffmpeg_exe, make_clip, probe_media, tmp_path):
    # Five frames: too few for ffmpeg's encoders to announce a bitrate, and
    # ffmpeg's own master playlist then lists no rendition.
    source = make_clip("five-frames.mp4", size="320x240", seconds=0.5, rate=10)
    (facts,), (target,) = make(ffmpeg_exe, probe_media, source, tmp_path, "hls-h264-ladder")
    master = os.path.join(target.path, "master.m3u8")
    assert lists_renditions(master)
    assert [r["name"] for r in facts["renditions"]] == ["360p"]
    assert "360p.m3u8" in open(master).read()
    played = subprocess.run([ffmpeg_exe, "-v", "error", "-protocol_whitelist", "file", "-i", master,
                             "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0, played.stderr


def test_the_docs_give_the_bounds_and_a_manifest_of_the_shape_written():
    text = (pathlib.Path(__file__).parents[2] / "docs" / "presets.md").read_text()
    assert f"when there are at most {results.MAX_LISTED_FILES};" in text
    assert f"past {results.MAX_RESULT_BYTES} bytes" in text
    assert f"at most {results.MAX_RESULT_BYTES} bytes of JSON per output" in text
    block = next(b for b in text.split("```json\n")[1:] if "nommer_manifest" in b)
    example = json.loads(block.split("```", 1)[0])
    facts, stored = hls_ladder_upload("s3://b/", hours=0.01)
    book = results.manifest(facts, [(uri[len("s3://b/"):], size) for uri, size in stored],
                            about={"job_id": "j", "output": 4, "preset": "hls-h264-ladder"})
    assert list(example) == list(book)
    assert set(example["renditions"][0]) == set(book["renditions"][0])
    assert [list(f) for f in example["files"]] == [list(book["files"][0])] * len(example["files"])


def test_measurements_of_the_extra_options_are_kept_within_the_bound():
    scores = {"mean": 99.1234, "min": 99.1234, "p5": 99.1234, "frames": 1_000_000}
    measured = {
        "loudness": {"target": -23.0, "true_peak_limit": -1.0, "mode": "dynamic",
                     "before": {"integrated": -56.82, "range": 10.0, "true_peak": -52.5},
                     "after": {"integrated": -23.02, "range": 10.0, "true_peak": -21.71}},
        "quality": {"psnr": scores, "ssim": scores, "vmaf": scores, "seconds": 12345.67},
        "target_vmaf": {"target": 93.0, "crf": 26, "preset_crf": 23, "predicted_vmaf": 93.68,
                        "measured_vmaf": 93.9, "samples": 3, "crfs_tried": 6,
                        "predicted_bitrate_saved_percent": -124.3, "search_seconds": 12121.4},
    }
    facts = {"size": 10**12, "duration": 10800.123, "width": 3840, "height": 2160, "bitrate": 10**9, **measured}
    made = results.summary(facts, [("", 10**12)], folder=False)
    assert {k: made[k] for k in measured} == measured
    assert results.result_bytes(made) <= results.MAX_RESULT_BYTES
