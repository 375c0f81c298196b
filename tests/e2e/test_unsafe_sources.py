"""Crafted sources against a real encoder process: playlists and lists that
name the machine's own files end in ERROR (SOURCE_UNSAFE) with a reason, and
not one byte of those files reaches any output (CVE-2016-1898 and its kin)."""

import pathlib
import signal
import subprocess

import pytest

from nommer.core.model.jobs import State

from .farm import farm_env, open_parts, place_job, start_encoder, wait_final

MARKER = "NOMMER-SECRET-MARKER-5150"
PASSWD = pathlib.Path("/etc/passwd")


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    root = tmp_path_factory.mktemp("unsafe")
    media = root / "media"
    media.mkdir()
    outside = root / "outside"  # not a root: no job may read it
    outside.mkdir()
    secret = outside / "secret.ts"
    subprocess.run(
        [ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=1",
         "-metadata", f"title={MARKER}", "-metadata", f"service_name={MARKER}", "-f", "mpegts", str(secret)],
        check=True, timeout=60)
    assert MARKER.encode() in secret.read_bytes()
    env = farm_env(root / "data", [media])
    parts = open_parts(env)
    proc = start_encoder(env, "enc-unsafe", root / "encoder.log")
    yield {"parts": parts, "media": media, "secret": secret, "root": root, "proc": proc}
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        parts.close()


def hls(secret, style):
    segments = {
        "file-urls": [f"file://{secret}", "file:///etc/passwd"],
        "local-paths": [str(secret), "/etc/passwd"],
        "ts-only": [f"file://{secret}"],  # an allowed segment extension
    }[style]
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:10", "#EXT-X-VERSION:3"]
    for segment in segments:
        lines += ["#EXTINF:1,", segment]
    return "\n".join(lines + ["#EXT-X-ENDLIST", ""])


CRAFTED = {
    "hls with file urls": ("evil.m3u8", lambda s: hls(s, "file-urls"), "HLS playlist"),
    "hls with local segment paths": ("local.m3u8", lambda s: hls(s, "local-paths"), "HLS playlist"),
    "hls of ts segments only": ("ts.m3u8", lambda s: hls(s, "ts-only"), "HLS playlist"),
    "hls named like a video": ("holiday.mp4", lambda s: hls(s, "file-urls"), "HLS playlist"),
    "hls after blank lines": ("blank.m3u8", lambda s: "\n\n  " + hls(s, "ts-only"), "HLS playlist"),
    "ffconcat list": ("list.ffconcat", lambda s: f"ffconcat version 1.0\nfile '{s}'\nfile '/etc/passwd'\n", "ffconcat"),
    "concat list": ("list.txt", lambda s: f"file '{s}'\nfile '/etc/passwd'\n", "concat list"),
    "concat list with a comment": ("list2.mov", lambda s: f"# cut\nfile 'file:{s}'\n", "text file"),
    "sdp": ("stream.sdp", lambda s: "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 0\n", "SDP"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_source_ends_in_error_and_leaks_nothing(farm, case):
    name, content, what = CRAFTED[case]
    source = farm["media"] / name
    source.write_text(content(farm["secret"]))
    out = farm["media"] / f"out-{name}.ts"
    job = place_job(farm["parts"], source.as_uri(), [
        {"destination": out.as_uri(), "options": [{"outfile_options": [["c", "copy"], ["f", "mpegts"]]}]}])

    done = wait_final(farm["parts"].store, job.id)

    assert done.state == State.ERROR
    assert done.error_code == "SOURCE_UNSAFE", done.details
    assert what in done.details and "never playlists" in done.details
    assert not out.exists()
    assert_nothing_leaked(farm)


def test_options_from_a_tampered_store_cannot_reopen_the_door(farm):
    # place_job writes to the store directly, past the feeder's checks, as a
    # tampered record would: the encoder checks the options again.
    source = farm["media"] / "again.mp4"
    source.write_text(hls(farm["secret"], "ts-only"))
    out = farm["media"] / "again-out.ts"
    job = place_job(farm["parts"], source.as_uri(), [{"destination": out.as_uri(), "options": [
        {"infile_options": [["f", "hls"], ["allowed_segment_extensions", "ALL"]],
         "outfile_options": [["c", "copy"]]}]}])

    done = wait_final(farm["parts"].store, job.id)

    assert done.state == State.ERROR and not out.exists()
    assert_nothing_leaked(farm)


def assert_nothing_leaked(farm):
    passwd_line = PASSWD.read_text().splitlines()[0].encode()
    for folder in (farm["media"], farm["root"] / "data"):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix not in (".sqlite3", ".log") and "-wal" not in path.name:
                data = path.read_bytes()
                assert MARKER.encode() not in data, f"{path} holds the secret file's bytes"
                assert passwd_line not in data, f"{path} holds /etc/passwd"
