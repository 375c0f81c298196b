import pytest

from nommer.core.ffmpeg import FfmpegRun, Progress, ProgressParser, percent

BLOCKS = """frame=10
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
progress=continue
frame=20
out_time_us=800000
out_time_ms=800000
out_time=00:00:00.800000
progress=continue
out_time_ms=1500000
progress=continue
out_time=01:02:03.500000
progress=continue
out_time_us=-9223372036854775807
progress=end
"""


def test_parser_turns_blocks_into_seconds():
    parser = ProgressParser()
    found = [p for p in map(parser.feed, BLOCKS.splitlines(keepends=True)) if p is not None]
    assert found == [
        Progress(None, False),
        Progress(0.8, False),
        Progress(1.5, False),  # out_time_ms is microseconds too
        Progress(3723.5, False),
        Progress(None, True),
    ]


@pytest.mark.parametrize("seconds,duration,expected", [
    (1.0, 2.0, 50), (1.999, 2.0, 99), (2.0, 2.0, 100), (3.0, 2.0, 100),
    (-1.0, 2.0, 0), (None, 2.0, 0), (1.0, None, 0), (1.0, 0, 0),
])
def test_percent_is_clamped_and_rounded_down(seconds, duration, expected):
    assert percent(seconds, duration) == expected


def test_real_run_reports_rising_percents_ending_at_100(ffmpeg_exe, tmp_path):
    seen = []
    argv = [ffmpeg_exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats",
            "-stats_period", "0.05", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "20",
            "-c:v", "libx264", "-preset", "veryfast", "-f", "mp4", str(tmp_path / "out.mp4")]
    result = FfmpegRun(argv, duration=20, on_progress=seen.append).run()
    assert result.returncode == 0
    assert len(seen) >= 3, seen
    assert seen == sorted(set(seen)), seen
    assert seen[-1] == 100 and seen[-2] < 100
