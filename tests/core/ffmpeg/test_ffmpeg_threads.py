"""Video encoders of a shared run split the cores by the pixels they encode."""

from nommer.core.ffmpeg import plan_job
from nommer.core.ffmpeg.threads import allot

HD = {"duration": 10.0, "streams": [{"type": "video", "width": 1920, "height": 1080, "sar": "1:1"},
                                    {"type": "audio"}]}


def targets(*presets):
    outputs = [{"destination": "unused", "preset": p} for p in presets]
    return plan_job("ffmpeg", "/in.mp4", HD, outputs, "/tmp/nommer-threads-test")[1]


def test_one_video_encode_keeps_ffmpegs_own_choice():
    assert allot(targets("mp4-h264-720p", "m4a-aac", "poster-jpeg"), HD, cores=8) == {}


def test_a_ladder_shares_the_cores_by_pixels():
    ladder = targets("mp4-h264-1080p", "mp4-h264-720p", "mp4-h264-480p", "mp4-h264-360p", "m4a-aac")
    assert allot(ladder, HD, cores=2) == {0: [1], 1: [1], 2: [1], 3: [1]}
    assert allot(ladder, HD, cores=16) == {0: [9], 1: [4], 2: [2], 3: [1]}


def test_each_rendition_of_an_hls_ladder_gets_its_own_share():
    shares = allot(targets("hls-h264-ladder"), HD, cores=16)
    assert shares == {0: [9, 4, 2, 1]}


def test_the_shares_reach_the_command_line():
    plans, _ = plan_job("ffmpeg", "/in.mp4", HD, [
        {"destination": "x", "preset": "mp4-h264-1080p"}, {"destination": "y", "preset": "hls-h264-ladder"},
    ], "/tmp/nommer-threads-test")
    argv = plans[0].commands[0]
    first_output = argv.index("/tmp/nommer-threads-test/out-0.mp4")
    assert argv[first_output - 2] == "-threads:v"
    assert "-threads:v:3" in argv[first_output:]


def test_several_sizes_share_one_chain_of_scalers():
    plans, _ = plan_job("ffmpeg", "/in.mp4", HD, [
        {"destination": "a", "preset": "mp4-h264-1080p"}, {"destination": "b", "preset": "mp4-h264-720p"},
        {"destination": "c", "preset": "webm-vp9-720p"}, {"destination": "d/", "preset": "hls-h264-ladder"},
    ], "/tmp/nommer-threads-test")
    argv = plans[0].commands[0]
    chain = argv[argv.index("-filter_complex") + 1].split(";")
    # One scaler per size: 1080 from the source, each next one from the one before.
    assert [step.split("]")[0] + "]" for step in chain] == ["[0:V:0]", "[nvnext0]", "[nvnext1]", "[nvnext2]"]
    assert "split=4" in chain[1]  # 720p: two files and a rendition, and the next step
    assert "-vf" not in argv  # every fitted output reads the chain
    labels = [argv[i + 1] for i, a in enumerate(argv) if a == "-map" and argv[i + 1].startswith("[nv")]
    assert len(labels) == len(set(labels)) == 7


def test_a_single_size_keeps_its_own_filter():
    plans, _ = plan_job("ffmpeg", "/in.mp4", HD, [
        {"destination": "a", "preset": "mp4-h264-720p"}, {"destination": "b", "preset": "webm-vp9-720p"},
    ], "/tmp/nommer-threads-test")
    assert "-filter_complex" not in plans[0].commands[0]
