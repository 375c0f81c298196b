"""Options that would let a job's ffmpeg read, write or connect to anything
but its own files are refused; ordinary ones still pass."""

import socket
import subprocess
import threading

import pytest

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import build_commands, parse_passes, run_plan

F = "outputs[0].options"


def refused(side, *pairs):
    with pytest.raises(InvalidInput) as err:
        parse_passes([{side: [list(p) for p in pairs]}], F)
    return err.value


@pytest.mark.parametrize("side", ["infile_options", "outfile_options"])
@pytest.mark.parametrize("pairs, words", [
    # A value given to a flag would stand alone: ffmpeg reads it as an output.
    ((("f", "mpegts"), ("an", "tcp:127.0.0.1:9")), "takes no value"),
    ((("an", "stolen.mp4"),), "takes no value"),
    # A flag given to a value-taking option would take nommer's next argument.
    ((("f", None),), "needs a value"),
    ((("c:v", None),), "needs a value"),
    ((("seek_timestamp", None), ("c:v", "libx264")), "needs a value"),  # takes a value in ffmpeg 7+
    ((("copypriorss", None),), "needs a value"),
    # Values that are URLs to ffmpeg, or read as options.
    ((("metadata", "tcp:10.0.0.1:6379"),), "protocol 'tcp'"),
    ((("metadata", "subfile,,start,0,end,0,,:etc/passwd"),), "protocol 'subfile'"),
    ((("metadata", "concat:a.ts|b.ts"),), "protocol 'concat'"),
    ((("metadata", "pipe:1"),), "protocol 'pipe'"),
    ((("metadata", "crypto+file:x"),), "protocol 'crypto+file'"),
    ((("metadata", "data:text/plain,hi"),), "protocol 'data'"),
    ((("metadata", "-i"),), "read it as an option"),
    ((("hls_segment_filename", "udp:239.0.0.1:1234"),), "protocol 'udp'"),
    # Demuxer options that open other files, and the guard's own options.
    ((("safe", "0"),), "concat demuxer"),
    ((("allowed_segment_extensions", "ALL"),), "HLS demuxer"),
    ((("allowed_extensions", "ALL"),), "HLS demuxer"),
    ((("format_whitelist", "hls,mov"),), "which formats"),
    ((("protocol_whitelist", "file,tcp"),), "local files"),
    ((("enable_drefs", "1"),), "MOV demuxer"),
    ((("use_absolute_path", "1"),), "MOV demuxer"),
    ((("follow", "1"),), "forever"),
    ((("passlogfile", "/tmp/x"),), "names a file"),
    ((("vstats_file", "v.log"),), "names a file"),
    ((("f", "image2"),), "not allowed"),
    ((("f", "tee"),), "not allowed"),
    ((("f", "hls"),), "not allowed"),
    ((("vf", "movie=/etc/passwd"),), "files"),
    ((("filter_complex", "amovie=secret.wav[a]"),), "files"),
    ((("metadata", "/etc/passwd"),), "file path"),
    # A filter option named "/name" reads its value from a file; escapes hide
    # the path from a check of the raw text.
    ((("vf", r"scale=\/w=\/etc/passwd"),), "from a file"),
    ((("vf", r"scale=\/w=source.mp4"),), "from a file"),
    ((("vf", r"scale=w=\/etc/passwd"),), "file path"),
    ((("af", r"volume=volume='\/etc/x'"),), "file path"),
    ((("metadata", "title=https://evil.example/x"),), "URL"),
])
def test_refused_with_the_reason_and_the_place(side, pairs, words):
    error = refused(side, *pairs)
    assert error.field.startswith(f"{F}[0].{side}[")
    assert words in str(error)


@pytest.mark.parametrize("pairs", [
    [["force_key_frames", "expr:gte(t,n_forced*2)"]],
    [["map", "0:v:0"], ["map", "0:a:0?"]],
    [["aspect", "16:9"], ["ss", "00:00:01.5"]],
    [["itsoffset", "-0.5"], ["af", "volume=-3dB"]],
    [["an", None], ["shortest", None], ["noautorotate", None]],
    [["vf", "scale=-2:360"], ["x264-params", "keyint=60:min-keyint=60"]],
    [["metadata", "title=file: the story"]],  # "file: " in words, not a URL
])
def test_ordinary_options_still_pass(pairs):
    parse_passes([{"outfile_options": pairs}], F)


def test_a_filter_option_read_from_a_file_really_leaked_it_and_is_now_refused(ffmpeg_exe, sample_clip, tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("NOMMER-FILTER-SECRET\n")
    graph = "scale=\\/w=\\" + str(secret)
    done = subprocess.run([ffmpeg_exe, "-hide_banner", "-nostdin", "-i", str(sample_clip), "-vf", graph,
                           "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert "NOMMER-FILTER-SECRET" in done.stderr  # what a job's details would have shown

    with pytest.raises(InvalidInput) as e:
        parse_passes([{"outfile_options": [["vf", graph]]}], F)
    assert "from a file" in str(e.value)


def test_a_legacy_dropped_flag_is_still_dropped_not_refused():
    spec = parse_passes([{"outfile_options": [["isync", None], ["pass", "1"]]}], F)
    assert spec.passes[0][1] == []


def test_a_value_standing_alone_would_really_have_reached_the_network(ffmpeg_exe, sample_clip, tmp_path):
    # Why "takes no value" matters: the argv the old check let through makes
    # ffmpeg connect to a listener. nommer now refuses the pair at submit.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    connected = []
    thread = threading.Thread(target=lambda: connected.append(_accept(listener)), daemon=True)
    thread.start()
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-i", str(sample_clip),
            "-t", "0.2", "-f", "mpegts", "-an", f"tcp:127.0.0.1:{port}", str(tmp_path / "o.mp4")]
    subprocess.run(argv, capture_output=True, timeout=60)
    thread.join(15)
    listener.close()
    assert connected == [True]

    with pytest.raises(InvalidInput):
        parse_passes([{"outfile_options": [["f", "mpegts"], ["an", f"tcp:127.0.0.1:{port}"]]}], F)


def _accept(listener):
    try:
        conn, _ = listener.accept()
        conn.close()
        return True
    except OSError:
        return False


def test_ffmpeg_itself_refuses_a_playlist_source_however_named(ffmpeg_exe, make_clip, tmp_path):
    # The sniffing in probe() is the first wall; the command's own
    # -format_whitelist is the second. Here the first is skipped.
    secret = tmp_path / "outside" / "secret.ts"
    secret.parent.mkdir()
    make_clip("secret.ts", video_args=("-c:v", "mpeg2video"))
    secret.write_bytes(make_clip("secret.ts").read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    playlist = work / "source.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    out = work / "output-0.mp4"
    plan = build_commands(ffmpeg_exe, playlist, out, {"options": [{"outfile_options": [["c", "copy"], ["f", "mpegts"]]}]}, work)

    with pytest.raises(JobFailed) as e:
        run_plan(plan)

    assert "whitelist" in str(e.value)
    assert not out.exists() or out.stat().st_size == 0
