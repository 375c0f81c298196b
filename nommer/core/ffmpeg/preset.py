"""What a preset is: a named, documented set of ffmpeg output settings.

A preset makes one of five kinds of output:

- ``file``: one file (``destination`` names it);
- ``hls``: an HLS package, a master playlist with variant playlists and
  segments (``destination`` is a folder URI ending in ``/``);
- ``cmaf``: CMAF, fragmented MP4 segments with both a DASH manifest and an
  HLS master playlist over them (``destination`` is a folder URI);
- ``dash``: MPEG-DASH, fragmented MP4 segments and a DASH manifest
  (``destination`` is a folder URI);
- ``images``: a series of still images (``destination`` is a folder URI).

Most presets are fixed arguments (:attr:`Preset.output_args`); those whose
arguments depend on the source or on the output's own options (a ladder
drops renditions larger than the source, thumbnails take an ``interval``)
build them with :attr:`Preset.make_args`.
"""

import dataclasses
import typing

from nommer.core.errors import JobFailed

KINDS = ("file", "hls", "cmaf", "dash", "images")
FOLDER_KINDS = frozenset({"hls", "cmaf", "dash", "images"})
# Kinds made as a ladder of renditions (ladder.rungs_for) in one run.
LADDER_KINDS = frozenset({"hls", "cmaf", "dash"})


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    description: str
    extension: str  # of the file made, or of the main file of a folder (m3u8, jpg)
    needs_video: bool  # refuse sources without a video stream
    output_args: tuple[str, ...] = ()  # everything between the input and the output path
    kind: str = "file"
    needs_audio: bool = False  # refuse sources without an audio stream
    # (target, probe, output) -> argv of the output half, path(s) included
    make_args: typing.Callable | None = None
    options: tuple[str, ...] = ()  # output fields this preset takes besides destination
    origin: str = "built-in"  # or "operator": from the configuration file
    side: int | None = None  # the short side its video is fitted to (None: unknown or the source's)

    @property
    def writes_folder(self):
        return self.kind in FOLDER_KINDS

    @property
    def still(self):
        """Whether it makes still images (cheap to encode, no duration)."""
        return self.extension in ("jpg", "jpeg", "png")

    def check_source(self, probed):
        """Raise JobFailed (NO_VIDEO_STREAM, NO_AUDIO_STREAM) when the probed
        source cannot make this output."""
        streams = (probed or {}).get("streams", ())
        if self.needs_video and not any(
            s["type"] == "video" and not s.get("attached_pic") for s in streams
        ):
            raise JobFailed(
                f"preset {self.name!r} needs a video stream and the source has none",
                code="NO_VIDEO_STREAM",
            )
        if self.needs_audio and not any(s["type"] == "audio" for s in streams):
            raise JobFailed(
                f"preset {self.name!r} needs an audio stream and the source has none",
                code="NO_AUDIO_STREAM",
            )

    def arguments(self, target, probe=None, output=None):
        """The output half of the ffmpeg command, ending with the path(s) it
        writes: ``target`` is the file, or for folder kinds the folder."""
        if self.make_args is not None:
            return list(self.make_args(str(target), probe or {}, output or {}))
        return [*self.output_args, str(target)]

    def describe(self):
        """What ``GET /presets`` says about this preset."""
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "extension": self.extension,
            "needs_video": self.needs_video,
            "needs_audio": self.needs_audio,
            "options": list(self.options),
            "origin": self.origin,
        }
