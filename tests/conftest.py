"""Fixtures shared by every test folder: the bundled ffmpeg and small media clips."""

import subprocess

import pytest


@pytest.fixture(scope="session")
def ffmpeg_exe():
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def make_clip(ffmpeg_exe, tmp_path_factory):
    """``make_clip(name, size="320x240", seconds=2, rate=25, video_args=...,
    pattern="testsrc2")`` writes a test-pattern clip with a 440 Hz tone and
    returns its path; made once per session and name. (testsrc2 rounds sizes
    to even; use pattern="testsrc" for odd ones.)"""
    folder = tmp_path_factory.mktemp("clips")
    made = {}

    def make(name, size="320x240", seconds=2, rate=25,
             video_args=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
             pattern="testsrc2"):
        if name not in made:
            path = folder / name
            subprocess.run(
                [ffmpeg_exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                 "-f", "lavfi", "-i", f"{pattern}=size={size}:rate={rate}",
                 "-f", "lavfi", "-i", "sine=frequency=440",
                 "-t", str(seconds), *video_args, "-c:a", "aac", str(path)],
                check=True, capture_output=True,
            )
            made[name] = path
        return made[name]

    return make


@pytest.fixture(scope="session")
def sample_clip(make_clip):
    """A 2 s, 320x240, 25 fps H.264 + AAC mp4."""
    return make_clip("sample.mp4")


@pytest.fixture(scope="session")
def probe_media(ffmpeg_exe):
    """``probe_media(path)``: nommer's own probe of a source, with the bundled ffmpeg."""
    from nommer.core.ffmpeg import probe

    return lambda path: probe(ffmpeg_exe, str(path))


@pytest.fixture(scope="session")
def probe_output(ffmpeg_exe):
    """``probe_output(path)``: nommer's probe of a file nommer made (an
    output, which may be an HLS playlist)."""
    from nommer.core.ffmpeg import probe

    return lambda path: probe(ffmpeg_exe, str(path), own=True)


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory):
    """moto's server running for the session; boto3 in this process and in
    every child process is pointed at it through the environment
    (AWS_ENDPOINT_URL and fake credentials). Yields its URL."""
    import os

    from tests.aws.moto_server import MotoServer

    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    saved = {name: os.environ.get(name) for name in server.environment()}
    # Credentials or a profile of the person running the tests must not reach moto.
    hidden = {name: os.environ.pop(name) for name in
              ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN") if name in os.environ}
    os.environ.update(server.environment())
    try:
        yield server.url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.environ.update(hidden)
        server.stop()


@pytest.fixture(scope="session")
def ami(aws_endpoint):
    """One of the AMIs moto's EC2 knows (listing them takes seconds: once)."""
    import boto3

    images = boto3.client("ec2").describe_images(
        Owners=["amazon"], Filters=[{"Name": "architecture", "Values": ["x86_64"]}])["Images"]
    return images[0]["ImageId"]
