import mimetypes

import pytest

from nommer.core.model.media_types import media_type


@pytest.mark.parametrize("name, expected", [
    ("a.m3u8", "application/vnd.apple.mpegurl"), ("a.ts", "video/mp2t"),
    ("a.m4s", "video/iso.segment"), ("a.mp4", "video/mp4"), ("a.webm", "video/webm"),
    ("a.jpg", "image/jpeg"), ("a.png", "image/png"), ("a.vtt", "text/vtt"),
    ("a.mpd", "application/dash+xml"), ("a.m4a", "audio/mp4"), ("a.aac", "audio/aac"),
    ("a.opus", "audio/ogg"), ("a.mkv", "video/x-matroska"), ("dir.v1/A.TS", "video/mp2t"),
    ("no-extension", "application/octet-stream"),
])
def test_each_output_kind_has_its_type(name, expected):
    assert media_type(name) == expected


def test_the_hosts_mime_types_are_not_read(monkeypatch):
    monkeypatch.setattr(mimetypes, "guess_type", lambda *a, **k: ("text/x-wrong", None))
    assert media_type("seg.ts") == "video/mp2t"


def test_every_preset_extension_has_a_type():
    from nommer.core.ffmpeg.presets import PRESETS

    extensions = {getattr(p, "extension", None) for p in PRESETS.values()} - {None}
    assert extensions
    for extension in extensions:
        assert media_type("x." + extension.lstrip(".")) != "application/octet-stream", extension
