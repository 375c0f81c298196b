"""The Content-Type of each kind of file nommer writes, from its extension.

One table, set by nommer and never read from the host's ``mime.types``
(Debian's, for one, calls ``.ts`` a Qt translation file): a player fetching
an HLS segment from S3 gets ``video/mp2t`` wherever the encoder ran.
"""

import posixpath

DEFAULT = "application/octet-stream"

MEDIA_TYPES = {
    # Streaming manifests and segments
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m3u": "audio/mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".cmfv": "video/mp4",
    ".cmfa": "audio/mp4",
    # Video
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".ogv": "video/ogg",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".3gp": "video/3gpp",
    # Audio
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mka": "audio/x-matroska",
    # Images (thumbnails, sprites, posters)
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    # Subtitles and side files
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".txt": "text/plain",
}


def media_type(name):
    """The Content-Type of a file or key named ``name`` (by its extension,
    case aside); ``application/octet-stream`` for an extension not listed."""
    extension = posixpath.splitext(name)[1].lower()
    return MEDIA_TYPES.get(extension, DEFAULT)
