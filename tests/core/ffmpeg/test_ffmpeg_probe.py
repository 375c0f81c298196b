import pytest

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.probe import parse_probe


def test_probe_describes_the_sample_clip(probe_media, sample_clip):
    info = probe_media(sample_clip)
    assert "mp4" in info["container"].split(",")
    assert info["duration"] == pytest.approx(2.0, abs=0.05)
    assert info["bitrate"] > 0
    video, audio = info["streams"]
    assert video == {"index": 0, "type": "video", "codec": "h264", "width": 320, "height": 240,
                     "fps": 25.0, "pix_fmt": "yuv420p", "sar": "1:1", "attached_pic": False,
                     "profile": video["profile"]}
    assert video["profile"] in ("Constrained Baseline", "Baseline", "Main", "High")
    assert audio == {"index": 1, "type": "audio", "codec": "aac", "sample_rate": 44100, "channels": 1}


def test_garbage_is_unreadable_with_ffmpegs_reason(probe_media, tmp_path):
    garbage = tmp_path / "noise.mp4"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(JobFailed) as err:
        probe_media(garbage)
    assert err.value.code == "SOURCE_UNREADABLE"
    assert str(err.value) == (
        "source is not a media file ffmpeg can read: Invalid data found when processing input"
    )


def test_a_text_file_is_refused_before_ffmpeg_reads_it(probe_media, tmp_path):
    # Text is how playlists and lists that name other files look.
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(JobFailed) as err:
        probe_media(text)
    assert err.value.code == "SOURCE_UNSAFE"
    assert str(err.value).startswith("the source is a text file; nommer reads media files only")


def test_missing_file_is_not_found(probe_media, tmp_path):
    with pytest.raises(JobFailed) as err:
        probe_media(tmp_path / "gone.mp4")
    assert err.value.code == "SOURCE_NOT_FOUND"


def test_colon_in_file_name_is_not_a_protocol(probe_media, sample_clip, tmp_path):
    odd = tmp_path / "take:2.mp4"
    odd.symlink_to(sample_clip)
    assert probe_media(odd)["duration"] == pytest.approx(2.0, abs=0.05)


def test_parser_reads_layouts_and_other_stream_kinds():
    stderr = """Input #0, matroska,webm, from 'x.mkv':
  Duration: N/A, start: 0.000000, bitrate: N/A
  Stream #0:0(eng): Video: h264 (High), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr, 1k tbn (default)
  Stream #0:1(eng): Audio: ac3, 48000 Hz, 5.1(side), fltp, 384 kb/s
  Stream #0:2: Subtitle: ass
  Stream #0:3: Attachment: ttf
  Stream #0:4: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 600x600, 90k tbr, 90k tbn (attached pic)
At least one output file must be specified
"""
    info = parse_probe(stderr)
    assert info["container"] == "matroska,webm"
    assert info["duration"] is None and info["bitrate"] is None
    video, audio, subtitle, attachment, cover = info["streams"]
    assert (video["width"], video["height"], video["fps"], video["pix_fmt"]) == (1920, 1080, 29.97, "yuv420p")
    assert video["profile"] == "High" and cover["profile"] == "Baseline"
    assert (audio["codec"], audio["sample_rate"], audio["channels"]) == ("ac3", 48000, 6)
    assert (subtitle["type"], subtitle["codec"]) == ("subtitle", "ass")
    assert attachment["type"] == "attachment"
    assert cover["attached_pic"] is True and cover["fps"] is None


def test_an_empty_file_has_no_packets_and_a_clip_has(ffmpeg_exe, probe_media, sample_clip, tmp_path):
    import subprocess

    from nommer.core.ffmpeg.probe import has_packets

    empty = tmp_path / "empty.wav"
    subprocess.run([ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "0", str(empty)], check=True)
    assert probe_media(empty)["duration"] is None  # ffmpeg cannot say: N/A
    assert has_packets(ffmpeg_exe, empty) is False
    assert has_packets(ffmpeg_exe, sample_clip) is True
