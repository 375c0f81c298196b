"""The shapes of request bodies and queries, as pydantic models.

These models check shape only (which fields, of which types); whether a URI may
be used, a preset exists or an option is safe is the JobService's business. The
same models give ``/openapi.json`` its request schemas, so the documentation
cannot drift from what is enforced.
"""

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from nommer.core.ffmpeg import extras

FFMPEG_NOMMER = "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer"
# Every name media-nommer's ffmpeg nommer had over its releases (the class
# moved between packages), and the short name.
FFMPEG_NOMMERS = (
    FFMPEG_NOMMER,
    "media_nommer.core.nommers.ffmpeg.FFmpegNommer",
    "media_nommer.nommers.ffmpeg.FFmpegNommer",
    "ffmpeg",
)
MAX_LIST_LIMIT = 1000


class _Body(BaseModel):
    # strict: a number where a string is expected is refused, not converted.
    model_config = ConfigDict(extra="forbid", strict=True)


def _scalar(value):
    # bool is an int in Python, but `-an true` is never what the user meant.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("option_value", "must be a string, a number or null")


OptionValue = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "null"]}),
]
Option = Annotated[
    tuple[StrictStr, OptionValue],
    Field(description='["name", value]: `-name value` on the ffmpeg command line; a null value is a bare flag.'),
]
Uri = Annotated[StrictStr, Field(description="file:///path, http(s):// (sources only) or s3://bucket/key")]


class Pass(_Body):
    """One ffmpeg run, in media-nommer's shape. Two passes make a two-pass encode."""

    infile_options: list[Option] = Field(default_factory=list, description="Options placed before -i.")
    outfile_options: list[Option] = Field(default_factory=list, description="Options placed before the output.")
    move_atom_to_front: bool = Field(False, description="Put the moov atom first (-movflags +faststart).")


class Caption(_Body):
    """A caption file to add to an output, as the ``captions`` option lists it."""

    uri: Uri = Field(description="A SubRip (.srt) or WebVTT (.vtt) file, under the same rules as the source; no credentials in it.")
    language: StrictStr = Field(description='Its language, a BCP 47 tag such as "en", "de" or "pt-BR".')
LOUDNESS_SCHEMA = {
    "description": (
        "Normalize the audio to a loudness target with a measured two-pass loudnorm, or only measure it: "
        "ebu-r128 (-23 LUFS, -1 dBTP), atsc-a85 (-24 LUFS, -2 dBTP), streaming (-16 LUFS, -1 dBTP), "
        "measure, a number (LUFS, -70 to -5), or an object {target, true_peak (-9 to 0 dBTP), "
        "range (1 to 50 LU), measure_only}. Single-file presets with audio."
    ),
    "oneOf": [
        {"type": "string", "enum": list(extras.LOUDNESS_TARGETS) + [extras.MEASURE]},
        {"type": "number", "minimum": extras.TARGET_RANGE[0], "maximum": extras.TARGET_RANGE[1]},
        {"type": "object", "additionalProperties": False, "properties": {
            "target": {"oneOf": [{"type": "string", "enum": list(extras.LOUDNESS_TARGETS) + [extras.MEASURE]},
                                 {"type": "number", "minimum": extras.TARGET_RANGE[0],
                                  "maximum": extras.TARGET_RANGE[1]}]},
            "true_peak": {"type": "number", "minimum": extras.TRUE_PEAK_RANGE[0],
                          "maximum": extras.TRUE_PEAK_RANGE[1]},
            "range": {"type": "number", "minimum": extras.LRA_RANGE[0], "maximum": extras.LRA_RANGE[1]},
            "measure_only": {"type": "boolean"},
        }},
        {"type": "null"},
    ],
    "examples": ["ebu-r128", -16, {"target": "atsc-a85", "true_peak": -2}],
}
QUALITY_SCHEMA = {
    "type": ["array", "null"], "minItems": 1, "items": {"type": "string", "enum": list(extras.METRICS)},
    "description": "Compare the output with its source (scaled to the output's size): mean, minimum and "
                   "5th percentile of each metric go into the result. Single-file video presets.",
    "examples": [["vmaf"], ["psnr", "ssim", "vmaf"]],
}
TARGET_VMAF_SCHEMA = {
    "type": ["number", "null"], "minimum": extras.VMAF_RANGE[0], "maximum": extras.VMAF_RANGE[1],
    "description": "Per-title encoding: the CRF that reaches this VMAF on samples of the source replaces "
                   "the preset's. Single-file video presets that encode at a CRF.",
    "examples": [93],
}
KEEP_SCHEMA = {
    "type": ["boolean", "null"],
    "description": "End the output SKIPPED, storing nothing, when it is larger than its source or misses "
                   "its quality target (target_vmaf by more than 1) or its quality check fails. "
                   "Off by default.",
}


class OutputSpec(_Body):
    """One file to make from the source: a named preset or explicit passes."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["preset"]}, {"required": ["options"]}]}
    )

    destination: Uri = Field(description="Where the output goes: a file URI, or for HLS and image presets a folder URI ending in /.")
    preset: StrictStr | None = Field(None, description="A preset name, e.g. mp4-h264-720p (GET /presets lists them).")
    options: list[Pass] | None = Field(None, min_length=1, description="Explicit ffmpeg passes.")
    interval: float | None = Field(None, description="thumbnails-jpeg: seconds between two images (default 10).")
    captions: list[Caption] | None = Field(
        None, min_length=1, max_length=16,
        description="MP4, HLS, CMAF and DASH presets: caption files to add, as mov_text streams in MP4 or "
                    "WebVTT sidecars listed by the manifests (docs/presets.md).")
    # Values are checked by the JobService (nommer/core/ffmpeg/extras.py),
    # which names the exact field of a bad one; the schema documents them.
    loudness: Annotated[Any, WithJsonSchema(LOUDNESS_SCHEMA)] = None
    quality: Annotated[Any, WithJsonSchema(QUALITY_SCHEMA)] = None
    target_vmaf: Annotated[Any, WithJsonSchema(TARGET_VMAF_SCHEMA)] = None
    keep_if_smaller: Annotated[Any, WithJsonSchema(KEEP_SCHEMA)] = None

    @model_validator(mode="after")
    def _preset_or_options(self):
        if self.preset is not None and self.options is not None:
            raise PydanticCustomError("preset_and_options", "has both preset and options; give exactly one")
        if self.preset is None and self.options is None:
            raise PydanticCustomError("preset_or_options", "needs a preset or options (exactly one of them)")
        return self


class SubmitRequest(_Body):
    """Body of ``POST /jobs``."""

    source: Uri
    outputs: list[OutputSpec] = Field(min_length=1)
    notify_url: StrictStr | None = Field(None, description="http(s) URL told of every state change.")
    progress_events: bool = Field(False, description="Also POST job.progress events to notify_url (at most one per progress_interval).")
    priority: int = Field(0, ge=-50, le=50, description="-50 to 50 (default 0): jobs of a higher priority are taken first, first-in-first-out within one priority.")
    # Checked by the JobService, which says why a job cannot be accelerated.
    acceleration: StrictStr | None = Field(
        None, description="DISABLED, ENABLED or PREFERRED (default: the farm's `acceleration` setting): "
                          "whether the video is cut into segments that several encoders make at once "
                          "(docs/accelerated.md). ENABLED fails a job that cannot be accelerated.")


def _ffmpeg_nommer(value):
    if value not in FFMPEG_NOMMERS:
        raise PydanticCustomError(
            "nommer", "must name media-nommer's ffmpeg nommer ({names}); it is the only encoder",
            {"names": ", ".join(FFMPEG_NOMMERS)})
    return value


class LegacyJobOptions(_Body):
    # Required, as media-nommer required it.
    nommer: Annotated[StrictStr, AfterValidator(_ffmpeg_nommer)] = Field(
        description="media-nommer's encoder class: " + ", ".join(FFMPEG_NOMMERS) + "."
    )
    options: list[Pass] = Field(min_length=1)


def _not_empty(value):
    if not value.strip():
        raise PydanticCustomError("empty", "is empty; give a URI")
    return value


LegacyUri = Annotated[Uri, AfterValidator(_not_empty)]


class LegacySubmitRequest(_Body):
    """Body of media-nommer's ``POST /job/submit``."""

    source_path: LegacyUri
    dest_path: LegacyUri
    notify_url: StrictStr | None = None
    job_options: LegacyJobOptions

    def outputs(self):
        passes = [p.model_dump(mode="json", exclude_unset=True) for p in self.job_options.options]
        return [{"destination": self.dest_path, "options": passes}]


class ListQuery(BaseModel):
    """Query of ``GET /jobs``. Query values are text, so this one converts."""

    model_config = ConfigDict(extra="forbid")

    state: str | None = Field(None, description="A state name, or several separated by commas.")
    limit: int = Field(50, ge=1, le=MAX_LIST_LIMIT)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


def output_dicts(outputs):
    """The outputs of a SubmitRequest as the plain dicts JobService takes."""
    return [o.model_dump(mode="json", exclude_none=True, exclude_unset=True) for o in outputs]
