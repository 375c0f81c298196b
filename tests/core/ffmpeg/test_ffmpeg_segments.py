"""Planning segments: cuts on key frames where the source has them, every
frame in exactly one segment, HLS cuts on HLS segment boundaries, a single
segment when key frames are too far apart; and the source's packets read
by the bundled ffmpeg."""

import subprocess

import pytest

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import runner, segments
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE


def cfr(seconds, rate=25, gop=25, audio=None):
    frames = tuple(round(n / rate, 6) for n in range(int(seconds * rate)))
    keys = tuple(range(0, len(frames), gop))
    return segments.Scan(frames=frames, keyframes=keys, end=round(seconds, 6), audio=audio)


def covered(plan, scan):
    """Every frame index, in order, from the segments' ranges."""
    return [i for s in plan.segments for i in range(s.first, s.last + 1)]


def test_cuts_land_on_key_frames_near_the_ideal_lengths():
    scan = cfr(60, gop=50)  # a key frame every 2 s
    plan = segments.plan(scan, 10)
    assert len(plan.segments) == 6
    assert covered(plan, scan) == list(range(len(scan.frames)))
    for s in plan.segments:
        assert s.first in scan.keyframes and s.lead_in == 0 and s.seek == s.time
        assert 8 <= s.seconds <= 12
    # Neighbours share their boundary, half way between two frames.
    for a, b in zip(plan.segments, plan.segments[1:]):
        assert a.end == b.start == pytest.approx((scan.frames[a.last] + scan.frames[b.first]) / 2)


def test_without_a_key_frame_near_the_cut_it_falls_between_key_frames_with_a_lead_in():
    scan = cfr(40, gop=300)  # a key frame every 12 s: none within 5 s of 30 s
    plan = segments.plan(scan, 10)
    assert plan.accelerated and covered(plan, scan) == list(range(len(scan.frames)))
    mid_gop = [s for s in plan.segments if s.first not in scan.keyframes]
    assert mid_gop, "some cut must fall between key frames"
    for s in mid_gop:
        key = max(k for k in scan.keyframes if k <= s.first)
        assert s.seek == scan.frames[key] and s.lead_in == pytest.approx(s.time - s.seek)
    assert plan.lead_in <= segments.MAX_LEAD_IN * scan.duration


def test_key_frames_too_far_apart_leave_one_segment_and_say_why():
    scan = cfr(60, gop=10_000)  # a single key frame
    plan = segments.plan(scan, 10)
    assert not plan.accelerated
    assert plan.segments[0].first == 0 and plan.segments[0].last == len(scan.frames) - 1
    assert "key frames are too far apart" in plan.reason


def test_hls_cuts_fall_on_hls_segment_boundaries():
    scan = cfr(40, gop=150)  # key frames on the 6 s grid, as an HLS source's
    plan = segments.plan(scan, 10, hls=True)  # 10 s rounds to two 6 s HLS segments
    assert plan.grid == 6
    assert [s.time for s in plan.segments] == [0, 12, 24, 36]
    assert covered(plan, scan) == list(range(len(scan.frames)))


def test_a_variable_frame_rate_keeps_each_frames_own_time():
    times = []
    t = 0.0
    for n in range(300):
        times.append(round(t, 6))
        t += 0.04 if n % 3 else 0.1
    scan = segments.Scan(frames=tuple(times), keyframes=tuple(range(0, 300, 30)), end=round(t, 6))
    assert scan.variable_rate and scan.frame_seconds == pytest.approx(0.1)
    plan = segments.plan(scan, 4)
    assert plan.accelerated and covered(plan, scan) == list(range(300))
    assert sum(s.seconds for s in plan.segments) == pytest.approx(scan.duration)


def test_a_bad_segment_length_is_refused():
    with pytest.raises(ValueError, match="segment_seconds"):
        segments.plan(cfr(10), 0)


def test_eligibility_names_what_keeps_an_output_whole():
    probe = {"duration": 120.0, "streams": [{"type": "video"}, {"type": "audio"}]}
    assert segments.eligible({"preset": "mp4-h264-720p"}, probe, BUILT_IN_CATALOGUE, 60) == ""
    assert segments.eligible({"preset": "hls-h264-ladder"}, probe, BUILT_IN_CATALOGUE, 60) == ""
    assert "media-nommer" in segments.eligible({"options": [{}]}, probe, BUILT_IN_CATALOGUE, 60)
    assert "encoded whole" in segments.eligible({"preset": "m4a-aac"}, probe, BUILT_IN_CATALOGUE, 60)
    assert "target_vmaf" in segments.eligible({"preset": "mp4-h264-720p", "target_vmaf": 93}, probe,
                                              BUILT_IN_CATALOGUE, 60)
    assert "accelerate_min_seconds" in segments.eligible({"preset": "mp4-h264-720p"}, probe,
                                                         BUILT_IN_CATALOGUE, 120)
    subtitled = {**probe, "streams": [*probe["streams"], {"type": "subtitle"}]}
    assert "subtitle" in segments.eligible({"preset": "mp4-h264-720p"}, subtitled, BUILT_IN_CATALOGUE, 60)


def test_the_scan_reads_every_frame_and_key_frame_of_a_real_source(make_clip, ffmpeg_exe, probe_media, tmp_path):
    source = make_clip("scan-g10.mp4", seconds=2, rate=25,
                       video_args=("-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-pix_fmt", "yuv420p"))
    box = runner.Sandbox(write=(str(tmp_path),), read=(str(source.parent),))
    scan = segments.scan(ffmpeg_exe, source, tmp_path, probe_media(source), sandbox=box)
    assert len(scan.frames) == 50 and scan.keyframes == (0, 10, 20, 30, 40)
    assert scan.frames[1] == pytest.approx(0.04) and not scan.variable_rate
    assert scan.end == pytest.approx(2.0) and scan.audio[0] == pytest.approx(0.0, abs=0.03)
    # An accelerated job's planner lists the video's packets alone: its audio pieces time the audio.
    video = segments.scan(ffmpeg_exe, source, tmp_path / "v", probe_media(source), sandbox=box, audio=False)
    assert video.audio is None and (video.frames, video.keyframes, video.end) == (scan.frames, scan.keyframes, scan.end)
    assert not (tmp_path / "v" / segments.AUDIO_SCAN_FILE).exists()


def test_a_source_without_video_cannot_be_planned(ffmpeg_exe, probe_media, tmp_path):
    audio = tmp_path / "tone.m4a"
    subprocess.run([ffmpeg_exe, "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", str(audio)], check=True)
    with pytest.raises(JobFailed) as caught:
        segments.scan(ffmpeg_exe, audio, tmp_path / "w", probe_media(audio),
                      sandbox=runner.Sandbox(write=(str(tmp_path),)))
    assert caught.value.code == "NO_VIDEO_STREAM"


def test_a_listing_without_video_frames_is_refused():
    with pytest.raises(JobFailed, match="no video frame"):
        segments.parse_scan("#tb 0: 1/48000\n#media_type 0: audio\n0, 0, 0, 1024, 4096, 0x00000000\n")
