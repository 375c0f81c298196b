"""Accelerated encodes made for real: a source cut into segments, each
encoded on its own through the runner, the audio once, the whole stitched;
the result checked (every source frame at its time, audio in place,
decoding without error) and its PSNR against the source within 0.2 dB of
the normal encode's."""

import os

import pytest

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import measuring, probe, runner, segments, stitch, verify
from nommer.core.ffmpeg.command import GLOBAL_ARGS

SEGMENT_SECONDS = 1.0


class Tools:
    """measuring's tools, running ffmpeg through the runner like the encoder."""

    def __init__(self, ffmpeg, workdir, sandbox):
        self.ffmpeg, self.workdir, self.sandbox = ffmpeg, str(workdir), sandbox

    def run(self, args):
        run = runner.FfmpegRun([self.ffmpeg, *GLOBAL_ARGS, *args], cwd=self.workdir, sandbox=self.sandbox)
        return run.run().stderr_tail


def accelerate(ffmpeg, source, preset, work, segment_seconds=SEGMENT_SECONDS, max_lead_in=segments.MAX_LEAD_IN):
    """Plan, encode every piece, stitch; (plan, scan, stitched path, normal argv, sandbox)."""
    work.mkdir(parents=True, exist_ok=True)
    box = runner.Sandbox(write=(str(work),), read=(str(source.parent),))
    probed = probe(ffmpeg, str(source))
    scan = segments.scan(ffmpeg, source, work, probed, sandbox=box)
    plan = segments.plan(scan, segment_seconds, hls=preset.startswith("hls"), max_lead_in=max_lead_in)
    output = {"destination": "unused", "preset": preset}
    extension = "webm" if "vp9" in preset else "mp4"
    target = work / ("out" if preset.startswith("hls") else f"out.{extension}")
    made = stitch.pieces(ffmpeg, source, probed, output, plan, scan, str(target), work / "pieces")
    for argv in made.segments:
        stitch.run(argv, work / "pieces", box)
    if made.audio:
        stitch.run(made.audio, work / "pieces", box)
    stitch.write_list(made)
    stitch.run(made.stitch, work / "pieces", box)
    return plan, scan, target, made, box


def normal(ffmpeg, made, work, box):
    """Run the normal encode of the same output; its path."""
    path = made.normal[-1]
    stitch.run(made.normal, work, box)
    return path


def psnr(ffmpeg, output, source, work, box):
    tools = Tools(ffmpeg, work, box)
    video = next(s for s in probe(ffmpeg, str(output), own=True)["streams"] if s["type"] == "video")
    return measuring.compare(tools, str(output), str(source), ("psnr",), video["width"], video["height"],
                             os.path.basename(str(output)).replace("_", "-").lower())["psnr"]["mean"]


@pytest.fixture(scope="module")
def source(make_clip):
    """4 s of moving pattern and tone, a key frame every 25 frames (1 s)."""
    return make_clip("stitch-src.mp4", seconds=4, rate=25,
                     video_args=("-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"))


@pytest.mark.parametrize("preset", ["mp4-h264-360p", "mp4-h265-720p", "webm-vp9-720p", "mp4-av1-720p"])
def test_segments_stitch_into_the_source_frames_at_the_normal_encodes_quality(
        preset, source, ffmpeg_exe, tmp_path):
    plan, scan, target, made, box = accelerate(ffmpeg_exe, source, preset, tmp_path)
    assert len(plan.segments) == 4 and all(s.lead_in == 0 for s in plan.segments)
    measured = verify.check(ffmpeg_exe, target, scan, tmp_path, sandbox=box)
    assert measured.frames == 100 and measured.audio is not None
    plain = normal(ffmpeg_exe, made, tmp_path, box)
    assert verify.measure(ffmpeg_exe, plain, tmp_path, "normal", sandbox=box).frames == 100
    ours, theirs = psnr(ffmpeg_exe, target, source, tmp_path, box), psnr(ffmpeg_exe, plain, source, tmp_path, box)
    assert abs(ours - theirs) <= 0.2, (ours, theirs)
    if preset.startswith("mp4"):
        head = target.read_bytes()[:64 * 1024]
        assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # fast start


def test_cuts_between_distant_key_frames_lose_and_double_no_frame(make_clip, ffmpeg_exe, tmp_path):
    far = make_clip("stitch-far.mp4", seconds=4, rate=25,
                    video_args=("-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p"))
    # Allowed to decode up to the whole source again in lead-ins, to cut between key frames.
    plan, scan, target, _, box = accelerate(ffmpeg_exe, far, "mp4-h264-360p", tmp_path, max_lead_in=1.0)
    assert plan.accelerated and any(s.lead_in > 0 for s in plan.segments)
    measured = verify.check(ffmpeg_exe, target, scan, tmp_path, sandbox=box)
    assert measured.frames == len(scan.frames) == 100


def test_a_source_with_one_key_frame_is_not_cut(make_clip, ffmpeg_exe, tmp_path):
    one = make_clip("stitch-one-key.mp4", seconds=4, rate=25,
                    video_args=("-c:v", "libx264", "-preset", "ultrafast", "-g", "1000", "-pix_fmt", "yuv420p"))
    plan, scan, target, _, box = accelerate(ffmpeg_exe, one, "mp4-h264-360p", tmp_path)
    assert not plan.accelerated and "too far apart" in plan.reason
    assert verify.check(ffmpeg_exe, target, scan, tmp_path, sandbox=box).frames == 100


def test_a_variable_frame_rate_source_keeps_every_frame_at_its_time(ffmpeg_exe, tmp_path):
    vfr = tmp_path / "vfr.mp4"
    # Three frames of every ten left out: gaps of 160 ms among 40 ms frames.
    runner.FfmpegRun([ffmpeg_exe, *GLOBAL_ARGS, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                      "-f", "lavfi", "-i", "sine", "-t", "4",
                      "-vf", r"select='not(between(mod(n\,10)\,3\,5))'", "-fps_mode", "vfr",
                      "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", str(vfr)]).run()
    plan, scan, target, made, box = accelerate(ffmpeg_exe, vfr, "mp4-h264-360p", tmp_path / "w")
    assert scan.variable_rate and plan.accelerated
    measured = verify.check(ffmpeg_exe, target, scan, tmp_path / "w", sandbox=box)
    assert measured.frames == 70
    plain = verify.measure(ffmpeg_exe, normal(ffmpeg_exe, made, tmp_path / "w", box), tmp_path / "w", "n",
                           sandbox=box)
    assert [round(t, 3) for t in measured.times] == [round(t, 3) for t in plain.times]


def test_hls_pieces_join_into_the_normal_encodes_playlists(make_clip, ffmpeg_exe, tmp_path):
    """A ladder of two renditions (480p, 360p), each rendition's segments
    encoded and checked on their own, joined into the normal encode's
    variant playlists."""
    src = make_clip("stitch-hls.mp4", seconds=13, size="640x480", rate=10,
                    video_args=("-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p"))
    plan, scan, target, made, box = accelerate(ffmpeg_exe, src, "hls-h264-ladder", tmp_path, segment_seconds=6)
    assert [s.time for s in plan.segments] == [0, 6, 12]
    assert made.renditions == [0, 0, 0, 1, 1, 1] and len(made.lists) == 2
    # Each rendition's segment holds that rendition alone, its frames the plan's.
    sizes = set()
    for argv, rendition, segment in zip(made.segments, made.renditions, plan.segments * 2):
        assert verify.check_segment(ffmpeg_exe, argv[-1], segment, tmp_path, sandbox=box) == segment.frames
        streams = probe(ffmpeg_exe, argv[-1], own=True)["streams"]
        assert [s["type"] for s in streams] == ["video"]
        sizes.add((rendition, streams[0]["height"]))
    assert sizes == {(0, 480), (1, 360)}
    plain = normal(ffmpeg_exe, made, tmp_path, box)
    for name in ("480p.m3u8", "360p.m3u8"):
        verify.check(ffmpeg_exe, target / name, scan, tmp_path, sandbox=box, decode_video=False)
        assert (target / name).read_text() == open(os.path.join(os.path.dirname(plain), name)).read()
    master = (target / "master.m3u8").read_text()
    assert "480p.m3u8" in master and "360p.m3u8" in master
    assert sorted(p.name for p in target.iterdir() if p.suffix == ".ts") == [
        f"{r}_0000{n}.ts" for r in ("360p", "480p") for n in range(3)]


def test_a_rendition_of_a_ladder_is_made_with_its_own_filters_and_settings(tmp_path):
    """Derived from the normal encode of the whole ladder: the rendition's
    branch of the shared chain of scalers, its rate control as stream 0,
    the other renditions and the shared run's thread counts gone."""
    source = {"duration": 20.0, "streams": [{"type": "video", "width": 1920, "height": 1080, "index": 0},
                                            {"type": "audio", "index": 1}]}
    normal = stitch.normal_argv("ffmpeg", "/in/source.mp4", source, {"destination": "x", "preset": "hls-h264-ladder"},
                                str(tmp_path / "ladder"), str(tmp_path))
    assert stitch.renditions(normal) == 4
    segment = segments.Segment(index=1, first=150, last=299, start=5.98, end=11.98, seek=6.0, time=6.0,
                               seconds=6.0, lead_in=0.0)
    argv = stitch.segment_argv(normal, segment, "/work/r2.mp4", rendition=2)
    options = dict(zip(argv[argv.index("/in/source.mp4") + 1::2], argv[argv.index("/in/source.mp4") + 2::2]))
    graph = options["-filter_complex"]
    assert graph.startswith("[0:V:0]trim=start=")
    # 1080 then 720 then 480, as the normal encode scales it; nothing smaller, no split.
    assert [side for side in (1080, 720, 480, 360) if f"min({side}," in graph] == [1080, 720, 480]
    assert "split" not in graph and graph.endswith("[nv2_0]")
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-map"] == ["[nv2_0]"]
    assert (options["-crf:v:0"], options["-maxrate:v:0"], options["-bufsize:v:0"]) == ("23", "1400k", "2800k")
    assert not any(a.startswith(("-threads", "-crf:v:1", "-var_stream_map", "-hls")) for a in argv)
    assert options["-force_key_frames:v"] == "expr:gte(t,n_forced*6)" and options["-f"] == "mp4"
    # The largest rendition is fed by the first scaler alone.
    top = stitch.segment_argv(normal, segment, "/work/r0.mp4", rendition=0)
    assert "min(720," not in top[top.index("-filter_complex") + 1]
    with pytest.raises(ValueError, match="rendition 4 of a command that makes 4 video streams"):
        stitch.segment_argv(normal, segment, "/work/r4.mp4", rendition=4)


def test_a_ladders_stitch_reads_a_list_per_rendition_or_one_of_them_all(tmp_path):
    source = {"duration": 20.0, "streams": [{"type": "video", "width": 854, "height": 480, "index": 0},
                                            {"type": "audio", "index": 1}]}
    normal = stitch.normal_argv("ffmpeg", "/in/source.mp4", source, {"destination": "x", "preset": "hls-h264-ladder"},
                                str(tmp_path / "ladder"), str(tmp_path))
    scan = segments.Scan(frames=(0.0, 0.04), keyframes=(0,), end=0.08, audio=(0.0, 0.08))

    def maps(argv):
        return [argv[i + 1] for i, a in enumerate(argv) if a == "-map"]

    out = str(tmp_path / "ladder")
    apart = stitch.stitch_argv(normal, ["/w/segments-r0.ffconcat", "/w/segments-r1.ffconcat"], "/w/audio.mp4",
                               scan, out)
    assert [apart[i + 1] for i, a in enumerate(apart) if a == "-i"] == [
        "/w/segments-r0.ffconcat", "/w/segments-r1.ffconcat", "/w/audio.mp4"]
    assert maps(apart) == ["0:v:0", "2:a:0", "1:v:0", "2:a:0"]
    assert apart[apart.index("-var_stream_map") + 1] == "v:0,a:0,name:480p v:1,a:1,name:360p"
    # A ladder planned with every rendition in each segment's run: one list.
    together = stitch.stitch_argv(normal, "/w/segments.ffconcat", "/w/audio.mp4", scan, out)
    assert maps(together) == ["0:v:0", "1:a:0", "0:v:1", "1:a:0"]
    with pytest.raises(ValueError, match="3 lists of segments for an output of 2 video streams"):
        stitch.stitch_argv(normal, ["/w/a", "/w/b", "/w/c"], None, scan, out)


def test_a_stitch_missing_a_segment_fails_the_check(source, ffmpeg_exe, tmp_path):
    work = tmp_path
    box = runner.Sandbox(write=(str(work),), read=(str(source.parent),))
    probed = probe(ffmpeg_exe, str(source))
    scan = segments.scan(ffmpeg_exe, source, work, probed, sandbox=box)
    plan = segments.plan(scan, SEGMENT_SECONDS)
    made = stitch.pieces(ffmpeg_exe, source, probed, {"preset": "mp4-h264-360p", "destination": "x"}, plan, scan,
                         str(work / "out.mp4"), work / "pieces")
    for argv in made.segments[:-1] + [made.audio]:
        stitch.run(argv, work / "pieces", box)
    short = segments.SegmentPlan(plan.segments[:-1])
    made = stitch.pieces(ffmpeg_exe, source, probed, {"preset": "mp4-h264-360p", "destination": "x"}, short, scan,
                         str(work / "out.mp4"), work / "pieces")
    stitch.write_list(made)
    stitch.run(made.stitch, work / "pieces", box)
    with pytest.raises(JobFailed, match="75 video frames where the source has 100") as caught:
        verify.check(ffmpeg_exe, work / "out.mp4", scan, work, sandbox=box)
    assert caught.value.code == "ENCODE_FAILED"


def test_segments_checked_where_they_are_made_leave_the_stitch_a_check_without_video_decoding(
        source, ffmpeg_exe, tmp_path):
    plan, scan, target, made, box = accelerate(ffmpeg_exe, source, "mp4-h264-360p", tmp_path)
    for segment, argv in zip(plan.segments, made.segments):
        assert verify.check_segment(ffmpeg_exe, argv[-1], segment, tmp_path, sandbox=box) == 25
    measured = verify.check(ffmpeg_exe, target, scan, tmp_path, sandbox=box, decode_video=False)
    assert measured.frames == 100 and measured.audio is not None
    # A segment that is not what the plan says is caught where it was made.
    with pytest.raises(JobFailed, match="segment 1 has 25 frames where it should have 50"):
        verify.check_segment(ffmpeg_exe, made.segments[1][-1], segments.Segment(
            index=1, first=25, last=74, start=0.98, end=2.98, seek=1.0, time=1.0, seconds=2.0, lead_in=0.0),
            tmp_path, sandbox=box)


def corrupted(path, into):
    """A copy of the MP4 ``path`` at ``into`` with 16 bytes flipped in its
    first picture (the key frame at the start of its media data)."""
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 8
    end = data.find(b"moov", start)
    at = start + ((end if end > 0 else len(data)) - start) // 10
    for n in range(16):
        data[at + n * 37] ^= 0xFF
    into.write_bytes(bytes(data))
    return into


def test_a_segment_with_corrupt_bytes_fails_its_check(source, ffmpeg_exe, tmp_path):
    plan, scan, target, made, box = accelerate(ffmpeg_exe, source, "mp4-h264-360p", tmp_path)
    segment, path = plan.segments[1], made.segments[1][-1]
    assert verify.check_segment(ffmpeg_exe, path, segment, tmp_path, sandbox=box) == 25
    bad = corrupted(tmp_path / "pieces" / os.path.basename(path), tmp_path / "pieces" / "bad.mp4")
    # The cheaper decode (one thread, no deblocking) catches what the default one does.
    for decode in (verify.SEGMENT_DECODE, ()):
        with pytest.raises(JobFailed, match="segment 1 does not decode cleanly") as caught:
            verify.check_segment(ffmpeg_exe, bad, segment, tmp_path, sandbox=box, decode=decode)
        assert caught.value.code == "ENCODE_FAILED"


def lists_of(made):
    """What stitch_argv takes for ``made``'s concat lists."""
    paths = [path for path, _ in made.lists]
    return paths[0] if len(paths) == 1 else paths


def audio_run(made, *extra):
    """The audio piece's argv with ``extra`` output options for the piece."""
    argv = list(made.audio)
    at = argv.index(made.audio_path)
    return argv[:at] + list(extra) + argv[at:]


def test_the_audio_piece_is_checked_against_the_source_audio_timed_in_its_run(source, ffmpeg_exe, tmp_path):
    plan, scan, target, made, box = accelerate(ffmpeg_exe, source, "mp4-h264-360p", tmp_path)
    pieces = tmp_path / "pieces"
    checked = verify.check_audio(ffmpeg_exe, made.audio_path, pieces, tmp_path / "check", sandbox=box)
    assert checked.source == pytest.approx(scan.audio, abs=0.001)  # as the scan decoding the audio found it
    assert checked.decoded == pytest.approx(scan.audio, abs=checked.frame) and checked.count > 100
    assert verify.AudioCheck.from_json(checked.to_json()) == checked
    # A short piece, and one shifted by silence at its start, are caught where they are made.
    for extra, lasts in ((("-t", "3"), r"lasts 3\.0\d\d s"), (("-af", "adelay=300:all=1"), r"lasts 4\.3\d\d s")):
        stitch.run(audio_run(made, *extra), pieces, box)
        with pytest.raises(JobFailed, match=lasts + r" where the source's audio lasts 4\.000 s") as caught:
            verify.check_audio(ffmpeg_exe, made.audio_path, pieces, tmp_path / "check", sandbox=box)
        assert caught.value.code == "ENCODE_FAILED"


def test_the_stitch_check_reads_the_audio_packets_and_catches_audio_misplaced_or_missing(
        source, ffmpeg_exe, tmp_path):
    plan, scan, target, made, box = accelerate(ffmpeg_exe, source, "mp4-h264-360p", tmp_path)
    pieces = tmp_path / "pieces"
    checked = verify.check_audio(ffmpeg_exe, made.audio_path, pieces, tmp_path / "check", sandbox=box)
    video_only = segments.scan(ffmpeg_exe, source, tmp_path / "v", probe(ffmpeg_exe, str(source)), sandbox=box,
                               audio=False)
    assert video_only.audio is None
    measured = verify.check(ffmpeg_exe, target, video_only, tmp_path, sandbox=box, decode_video=False,
                            audio=checked)
    assert measured.audio_packets == checked.count
    # Placed a third of a second late:
    late = stitch.stitch_argv(made.normal, lists_of(made), made.audio_path, scan, str(target), audio_offset=0.3)
    stitch.run(late, pieces, box)
    with pytest.raises(JobFailed, match="its audio starts"):
        verify.check(ffmpeg_exe, target, video_only, tmp_path, sandbox=box, decode_video=False, audio=checked)
    # Packets missing: the stitch took a shorter audio than the piece that was checked.
    stitch.run(audio_run(made, "-t", "3"), pieces, box)
    stitch.run(made.stitch, pieces, box)
    with pytest.raises(JobFailed, match=f"audio packets where its audio piece has {checked.count}"):
        verify.check(ffmpeg_exe, target, video_only, tmp_path, sandbox=box, decode_video=False, audio=checked)


@pytest.mark.parametrize("preset", ["mp4-h264-360p", "webm-vp9-720p", "hls-h264-ladder"])
def test_audio_timed_from_packets_and_the_pieces_check_is_the_audio_decoded(preset, make_clip, ffmpeg_exe, tmp_path):
    """The stitch's check infers the audio a player hears from the packets;
    decoding the output says the same, within one audio frame. The source's
    audio starts half a second after its video (the audio piece's MP4 moves
    it to zero; the stitch puts it back)."""
    late = tmp_path / "late-audio.mp4"
    runner.FfmpegRun([ffmpeg_exe, *GLOBAL_ARGS, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10",
                      "-f", "lavfi", "-itsoffset", "0.5", "-i", "sine", "-t", "7", "-shortest",
                      "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", str(late)]).run()
    work = tmp_path / "w"
    plan, scan, target, made, box = accelerate(ffmpeg_exe, late, preset, work, segment_seconds=2.0)
    assert scan.audio[0] == pytest.approx(0.5, abs=0.03) and plan.accelerated
    checked = verify.check_audio(ffmpeg_exe, made.audio_path, work / "pieces", work / "check",
                                 sandbox=box)
    path = target / "360p.m3u8" if preset.startswith("hls") else target
    # Stitched without moving the audio back, it starts with the video: caught.
    with pytest.raises(JobFailed, match="its audio starts"):
        verify.check(ffmpeg_exe, path, scan, work / "check", sandbox=box, decode_video=False, audio=checked)
    stitch.run(stitch.stitch_argv(made.normal, lists_of(made), made.audio_path, scan, str(target), checked.offset),
               work / "pieces", box)
    heard = verify.check(ffmpeg_exe, path, scan, work / "check", sandbox=box)  # everything decoded
    inferred = verify.check(ffmpeg_exe, path, scan, work / "check", sandbox=box, decode_video=False,
                            audio=checked)
    assert inferred.audio == pytest.approx(heard.audio, abs=checked.frame + 0.0015)
    assert inferred.video == heard.video and inferred.frames == heard.frames
