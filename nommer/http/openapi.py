"""The OpenAPI 3.1 document of the API. Request schemas come from the pydantic
models that validate the requests, so they say exactly what is enforced."""

import functools

from pydantic.json_schema import models_json_schema

import nommer
from nommer.core.model.error_codes import JOB_ERROR_CODES
from nommer.core.model.jobs import MAX_HISTORY, State
from nommer.core.model.outputs import OUTPUT_STATES
from nommer.core.model.progress import PHASES
from nommer.core.model.results import MANIFEST, MAX_LISTED_FILES, MAX_RESULT_BYTES
from nommer.http.models import (
    KEEP_SCHEMA,
    LOUDNESS_SCHEMA,
    MAX_LIST_LIMIT,
    QUALITY_SCHEMA,
    TARGET_VMAF_SCHEMA,
    LegacySubmitRequest,
    ListQuery,
    SubmitRequest,
)

_NULLABLE_STR = {"type": ["string", "null"]}

_NULLABLE_NUMBER = {"type": ["number", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}

# What results.shown answers; a test checks that every field it gives is here.
RESULT_SCHEMA = {
    "type": ["object", "null"],
    "description": (
        "What was made, once the output is FINISHED (docs/presets.md). The job keeps at most "
        f"{MAX_RESULT_BYTES} bytes of it per output, whatever the output: an output that is a "
        f"folder of files has a manifest ({MANIFEST}, beside its files) that lists every file."
    ),
    "properties": {
        "size": {"type": "integer", "description": "Bytes, all files together (the manifest not counted)."},
        "file_count": {"type": "integer", "description": "How many files were stored (the manifest not counted)."},
        "files": {
            "type": "array", "items": {"type": "string"},
            "description": f"URI of every file; left out when there are more than {MAX_LISTED_FILES} "
                           f"(or their names would take the result past {MAX_RESULT_BYTES} bytes): "
                           "the manifest lists them.",
        },
        "duration": {**_NULLABLE_NUMBER, "description": "Seconds (null for images)."},
        "width": _NULLABLE_INT,
        "height": _NULLABLE_INT,
        "bitrate": {**_NULLABLE_INT, "description": "Average bits per second over the whole file."},
        "playlist": {"type": "string", "description": "HLS: URI of the master playlist."},
        "renditions": {
            "type": "array",
            "description": "HLS: each rendition, largest first.",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "playlist": {"type": "string", "description": "URI of its variant playlist."},
                    "segments": {"type": "integer"},
                    "duration": _NULLABLE_NUMBER,
                    "width": _NULLABLE_INT,
                    "height": _NULLABLE_INT,
                    "bitrate": _NULLABLE_INT,
                },
            },
        },
        "count": {"type": "integer", "description": "Images: how many."},
        "loudness": {"type": "object", "description": (
            "loudness: target and true_peak_limit, integrated (LUFS), range (LU) and true_peak (dBTP) "
            "measured before (the source) and after (the output), and mode: linear, dynamic or measured.")},
        "quality": {"type": "object", "description": (
            "quality: per metric (psnr, ssim, vmaf) mean, min, p5 (5th percentile) and frames; seconds "
            "the comparison took.")},
        "target_vmaf": {"type": "object", "description": (
            "target_vmaf: target, crf chosen, preset_crf, predicted_vmaf (on the samples), measured_vmaf "
            "(the whole output), samples, crfs_tried, predicted_bitrate_saved_percent, search_seconds.")},
        "first": {"type": "string", "description": "Images: URI of the first one."},
        "manifest": {
            "type": "string",
            "description": "Folder outputs (HLS, images): URI of the JSON manifest that lists every file "
                           "with its path (relative to the destination), size, duration and content type.",
        },
    },
}

# The answers are built by hand (resources.job_resource); a test checks that
# this schema lists the same fields.
JOB_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{20}$"},
        "state": {"type": "string", "enum": [s.value for s in State]},
        "details": {"type": "string", "description": "What went wrong (the error, ffmpeg's own words), for a job that ended ERROR; empty otherwise."},
        "notes": {"type": "array", "items": {"type": "string"}, "description": "What nommer did that the submission did not say, such as media-nommer's options translated to today's ffmpeg."},
        "error_code": {"type": ["string", "null"], "enum": [*JOB_ERROR_CODES, None], "description": "Why the job ended in ERROR, as a stable code (docs/errors.md)."},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Overall percent done."},
        "phase": {"type": ["string", "null"], "enum": [*PHASES, None], "description": "The phase a running job is in."},
        "phases": {
            "type": "object",
            "description": "Percent done of each phase.",
            "properties": {p: {"type": "integer", "minimum": 0, "maximum": 100} for p in PHASES},
        },
        "progress_events": {"type": "boolean", "description": "Whether notify_url also gets job.progress events."},
        "priority": {"type": "integer", "minimum": -50, "maximum": 50, "description": "Higher is taken first; first-in-first-out within one priority."},
        "acceleration": {"type": ["string", "null"], "enum": ["DISABLED", "ENABLED", "PREFERRED", None], "description": "Whether the job's video may be cut into segments that several encoders make at once (docs/accelerated.md); null when the submission did not say: the farm's `acceleration` setting decides."},
        "pieces": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}, "description": "An accelerated job's pieces (segments, audio, stitch): how many are WAITING, PENDING, RUNNING, DONE; null for a job encoded whole."},
        "attempt": {"type": "integer", "minimum": 0},
        "source": {"type": "string", "description": "Credentials in the URI are shown as ***."},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "destination": {"type": "string"},
                    "preset": {"type": "string"},
                    "options": {"type": "array", "items": {"$ref": "#/components/schemas/Pass"}},
                    "interval": {"type": "number"},
                    "loudness": LOUDNESS_SCHEMA,
                    "quality": QUALITY_SCHEMA,
                    "target_vmaf": TARGET_VMAF_SCHEMA,
                    "keep_if_smaller": KEEP_SCHEMA,
                    "state": {"type": "string", "enum": list(OUTPUT_STATES)},
                    "reason": {"type": "string", "description": "Why a SKIPPED output was not stored "
                                                                "(keep_if_smaller)."},
                    "error_code": {"type": ["string", "null"]},
                    "error": {"type": ["string", "null"]},
                    "result": RESULT_SCHEMA,
                },
            },
        },
        "notify_url": _NULLABLE_STR,
        "encoder_id": _NULLABLE_STR,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "started_at": _NULLABLE_STR,
        "finished_at": _NULLABLE_STR,
        "probe": {"type": ["object", "null"], "description": "What ffprobe found in the source."},
        "notifications": {
            "type": "array",
            "description": "What became of each webhook delivery (the latest 20).",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "The webhook-id header sent."},
                    "state": {"type": "string", "description": "The job state the webhook told."},
                    "attempts": {"type": "integer", "minimum": 1},
                    "status": {"type": ["integer", "null"], "description": "HTTP status of the last attempt."},
                    "delivered_at": {"type": "string", "format": "date-time"},
                    "error": {"type": "string", "description": "Why it was not delivered."},
                },
                "required": ["id", "state", "attempts", "status"],
            },
        },
        "history": {
            "type": "array",
            "description": f"Each state the job entered and when, oldest first: the first and the latest {MAX_HISTORY - 1}.",
            "maxItems": MAX_HISTORY,
            "items": {"type": "array", "prefixItems": [{"type": "string", "enum": [s.value for s in State]},
                                                       {"type": "string", "format": "date-time"}],
                      "minItems": 2, "maxItems": 2},
        },
        "links": {
            "type": "object",
            "properties": {
                "self": {"type": "string"},
                "cancel": {**_NULLABLE_STR, "description": "Null once the job has finished."},
                "retry": {**_NULLABLE_STR, "description": "Null until the job has finished."},
            },
        },
    },
}

# What GET /fleet answers (the gateway's fleet()); more keys may come.
FLEET_SCHEMA = {
    "type": "object",
    "properties": {
        "members": {
            "type": "array",
            "description": "The encoders the fleet started and has not seen stop.",
            "items": {"type": "object", "properties": {
                "id": {"type": "string", "description": "The encoder id it heartbeats under."},
                "state": {"type": "string", "enum": ["starting", "running", "stopping", "stopped", "interrupted"],
                          "description": "interrupted: its encoder got a spot interruption notice (or a rebalance recommendation), handed its work back and ends its instance."},
                "started_at": {"type": "string"},
                "detail": {"type": "string", "description": "Locally the pid; on EC2 the instance type, "
                                                           "market (spot or on-demand) and zone."},
                "market": {"type": "string", "enum": ["spot", "on-demand", ""], "description": "On EC2, spot or on-demand (from the launch or DescribeInstances' InstanceLifecycle); empty locally."},
                "interrupted": {"type": "object", "description": "The notice, once one came: kind (instance-action or rebalance), action, time (EC2's), seen_at."},
                "busy_until": {"type": ["string", "null"], "format": "date-time", "description": "When it is predicted to be done with the jobs it holds (their predicted encoder-seconds left); null when it holds none."},
            }},
        },
        "encoders": {
            "type": "array",
            "description": "Every encoder that has heartbeated.",
            "items": {"type": "object", "properties": {
                "id": {"type": "string"},
                "last_seen": {"type": "string", "format": "date-time"},
                "info": {"type": "object", "description": "What the encoder reports: pid, started_at, "
                                                          "jobs (ids), slots, finished, failed, released; "
                                                          "on EC2 market, and interrupted (the spot notice) once one came."},
                "busy_until": {"type": ["string", "null"], "format": "date-time", "description": "When it is predicted to be done with the jobs it holds (their predicted encoder-seconds left); null when it holds none."},
            }},
        },
    },
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "field": {**_NULLABLE_STR, "description": "Path of the field at fault, e.g. outputs[0].preset; `Authorization`, `job_id`, `path` or `method` for the request itself. Every 4xx has one."},
                "message": {"type": "string"},
            },
            "required": ["code", "field", "message"],
        }
    },
}

LAUNCH_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "Why the last launch failed; gone once a launch works.",
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "code": {"type": "string", "description": "EC2's error code, e.g. UnauthorizedOperation."},
        "message": {"type": "string", "description": "EC2's message, as it gave it."},
        "missing_permission": {"type": "string", "description": "The permission the message names, e.g. `ec2:RunInstances on arn:aws:ec2:...:spot-instances-request/*`."},
        "next_try_in": {"type": "integer", "description": "Seconds until the next launch (POST /fleet/retry ends the wait)."},
    },
    "required": ["at", "code", "message"],
}

FLEET_SCHEMA = {
    "type": "object",
    "properties": {
        # The members and encoders described above, with the launch problems.
        "members": FLEET_SCHEMA["properties"]["members"],
        "encoders": FLEET_SCHEMA["properties"]["encoders"],
        "launch_error": LAUNCH_PROBLEM_SCHEMA,
        "spot_error": {**LAUNCH_PROBLEM_SCHEMA, "description": "Why spot launches are refused while on-demand ones work."},
        "scaler": {"type": "object", "properties": {"decision": {
            "type": ["object", "null"],
            "description": "The Scaler's last decision: at, launch (how many), retire (which), desired (encoders), reason (in words).",
        }}},
    },
    "required": ["members", "encoders"],
}

LEGACY_ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "job_id": {"type": "string"},
        "error_code": {"type": "string"},
        "message": {"type": "string"},
        "field": _NULLABLE_STR,
    },
    "required": ["success"],
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description, schema=None, media="application/json"):
    answer = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def _error(description):
    return _answer(description, _ref("Error"))


_UNAUTHORIZED = {
    **_error("No valid bearer token (the api_tokens setting); the error's field is Authorization."),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="nommer"'}},
}
# Routes that answer without a token: health checks, and the dashboard's page
# shell, whose script asks for the token before it reads anything.
OPEN = {("/health", "get"), ("/", "get"), ("/docs", "get"), ("/docs/{filename}", "get"),
        ("/static/{filename}", "get")}


def _secured(paths):
    """Every operation but the open ones needs the token and may answer 401."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (path, method) in OPEN:
                operation["security"] = []
            else:
                operation["responses"].setdefault("401", _UNAUTHORIZED)
    return paths


def _body(name, examples):
    # Any Content-Type is accepted; the body must be JSON all the same.
    return {"required": True, "content": {"application/json": {"schema": _ref(name), "examples": examples}}}


# Examples of each request body; a test checks that the models accept them.
SUBMIT_EXAMPLES = {
    "preset": {
        "summary": "One file, a preset",
        "value": {"source": "s3://media-in/talk.mov",
                  "outputs": [{"destination": "s3://media-out/talk-720p.mp4", "preset": "mp4-h264-720p"}]},
    },
    "several": {
        "summary": "HLS, thumbnails and a webhook",
        "value": {
            "source": "file:///srv/media/in/talk.mov",
            "outputs": [
                {"destination": "file:///srv/media/out/talk-hls/", "preset": "hls-h264-ladder"},
                {"destination": "file:///srv/media/out/talk-thumbs/", "preset": "thumbnails-jpeg", "interval": 30},
            ],
            "notify_url": "https://example.com/hooks/nommer",
            "progress_events": True,
            "priority": 10,
        },
    },
    "streaming": {
        "summary": "CMAF (HLS and DASH over one set of segments) with a caption file, and DASH",
        "value": {
            "source": "s3://media-in/talk.mkv",
            "outputs": [
                {"destination": "s3://media-out/talk-cmaf/", "preset": "cmaf-h264-ladder",
                 "captions": [{"uri": "s3://media-in/talk.en.srt", "language": "en"}]},
                {"destination": "s3://media-out/talk-dash/", "preset": "dash-h264-ladder"},
                {"destination": "s3://media-out/talk.mp4", "preset": "mp4-h264-720p",
                 "captions": [{"uri": "s3://media-in/talk.de.vtt", "language": "de"}]},
            ],
        },
    },
    "quality": {
        "summary": "Loudness, a quality target and a quality report",
        "value": {
            "source": "s3://media-in/talk.mov",
            "outputs": [{"destination": "s3://media-out/talk-720p.mp4", "preset": "mp4-h264-720p",
                         "loudness": "ebu-r128", "target_vmaf": 93, "quality": ["psnr", "ssim", "vmaf"],
                         "keep_if_smaller": True}],
        },
    },
    "options": {
        "summary": "Explicit ffmpeg options",
        "value": {
            "source": "https://example.com/talk.mov",
            "outputs": [{"destination": "s3://media-out/talk.webm", "options": [{
                "outfile_options": [["c:v", "libvpx-vp9"], ["b:v", "1M"], ["c:a", "libopus"]],
            }]}],
        },
    },
}
LEGACY_EXAMPLES = {
    "media-nommer": {
        "summary": "media-nommer's body",
        "value": {
            "source_path": "s3://media-in/talk.mov",
            "dest_path": "s3://media-out/talk.mp4",
            "notify_url": "https://example.com/hooks/nommer",
            "job_options": {"nommer": "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer", "options": [{
                "outfile_options": [["vcodec", "libx264"], ["acodec", "aac"]],
                "move_atom_to_front": True,
            }]},
        },
    },
}


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": JOB_SCHEMA["properties"]["id"],
           "example": "018f3a2b4c5d1a2b3c4d"}


def _query_parameters():
    properties = ListQuery.model_json_schema()["properties"]
    return [
        {"name": name, "in": "query", "required": False, "schema": schema,
         "description": schema.pop("description", "")}
        for name, schema in properties.items()
    ]


@functools.cache
def document():
    _, top = models_json_schema(
        [(SubmitRequest, "validation"), (LegacySubmitRequest, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas = {
        **top["$defs"],
        "Job": JOB_SCHEMA,
        "JobList": {
            "type": "object",
            "properties": {"jobs": {"type": "array", "items": _ref("Job")}, "next_cursor": _NULLABLE_STR},
        },
        "Error": ERROR_SCHEMA,
        "LegacyAnswer": LEGACY_ANSWER_SCHEMA,
    }
    job = _answer("The job.", _ref("Job"))
    legacy = {
        "summary": "Submit a job in media-nommer's format (any Content-Type).",
        "tags": ["legacy"],
        "requestBody": _body("LegacySubmitRequest", LEGACY_EXAMPLES),
        "responses": {
            "200": _answer("Accepted (success true, job_id), or refused as media-nommer refused "
                           "(success false; message and field name the field).", _ref("LegacyAnswer")),
            "400": _answer("The body is not a JSON object; field is body.", _ref("LegacyAnswer")),
            "401": _answer("No valid bearer token; field is Authorization.", _ref("LegacyAnswer")),
            "413": _answer("Body too large.", _ref("LegacyAnswer")),
            "503": _answer("The feeder is busy or restarting; try again.", _ref("LegacyAnswer")),
        },
    }
    paths = {
        "/jobs": {
            "post": {
                "summary": "Submit a job.",
                "operationId": "submitJob",
                "tags": ["jobs"],
                "requestBody": _body("SubmitRequest", SUBMIT_EXAMPLES),
                "responses": {
                    "201": {**job, "headers": {"Location": {"schema": {"type": "string"}}}},
                    "202": {**_answer("The job, stored, whose queue message was not written in the request's "
                                      "time: the feeder queues it. Do not submit it again.", _ref("Job")),
                            "headers": {"Location": {"schema": {"type": "string"}}}},
                    "400": _error("Refused; the error names the field."),
                    "413": _error("Body too large."),
                    "503": _error("The feeder is busy or restarting; try again (nothing was stored)."),
                },
            },
            "get": {
                "summary": f"List jobs, newest first (at most {MAX_LIST_LIMIT} a page).",
                "operationId": "listJobs",
                "tags": ["jobs"],
                "parameters": _query_parameters(),
                "responses": {"200": _answer("A page of jobs.", _ref("JobList")), "400": _error("Bad query; the error names the parameter."), "503": _error("The feeder is busy or restarting; try again.")},
            },
        },
        "/jobs/{job_id}": {
            "get": {
                "summary": "One job.",
                "operationId": "getJob",
                "tags": ["jobs"],
                "parameters": [_JOB_ID],
                "responses": {"200": job, "404": _error("No such job; field is job_id."), "503": _error("The feeder is busy or restarting; try again.")},
            }
        },
        "/jobs/{job_id}/cancel": {
            "post": {
                "summary": "Cancel a job; its encoder stops.",
                "operationId": "cancelJob",
                "tags": ["jobs"],
                "parameters": [_JOB_ID],
                "responses": {
                    "200": job,
                    "404": _error("No such job; field is job_id."),
                    "409": _error("The job has already finished; field is job_id."),
                    "503": _error("The feeder is busy or restarting; try again."),
                },
            }
        },
        "/jobs/{job_id}/retry": {
            "post": {
                "summary": "Submit a finished job (FINISHED, ERROR, CANCELED, ABANDONED) again, as a new job.",
                "description": "The new job has the old one's source, outputs and webhook, checked again as "
                               "a new submission is; the old job stays as it was.",
                "operationId": "retryJob",
                "tags": ["jobs"],
                "parameters": [_JOB_ID],
                "responses": {
                    "201": {**_answer("The new job.", _ref("Job")), "headers": {"Location": {"schema": {"type": "string"}}}},
                    "202": {**_answer("The new job, stored, whose queue message was not written in the request's "
                                      "time: the feeder queues it.", _ref("Job")),
                            "headers": {"Location": {"schema": {"type": "string"}}}},
                    "400": _error("The submission is no longer accepted (e.g. a source now refused); the error names the field."),
                    "404": _error("No such job; field is job_id."),
                    "409": _error("The job has not finished; field is job_id."),
                    "503": _error("The feeder is busy or restarting; try again."),
                },
            }
        },
        "/job/submit": {"post": {**legacy, "operationId": "legacySubmitJob"}},
        "/job/submit/": {"post": {**legacy, "operationId": "legacySubmitJobSlash"}},
        "/error-codes": {
            "get": {
                "summary": "What each job error code means and what to do about it (docs/errors.md).",
                "operationId": "listJobErrorCodes",
                "tags": ["status"],
                "responses": {"200": _answer("The job error codes.", {
                    "type": "object",
                    "properties": {"job_error_codes": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "when": {"type": "string"},
                                       "what_to_do": {"type": "string"}},
                    }}},
                })},
            }
        },
        "/presets": {
            "get": {
                "summary": "The presets this farm knows: built-in and the operator's.",
                "operationId": "listPresets",
                "tags": ["presets"],
                "responses": {"200": _answer("The presets.", {
                    "type": "object",
                    "properties": {"presets": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                            "kind": {"type": "string", "enum": ["file", "hls", "cmaf", "dash", "images"]},
                            "extension": {"type": "string"},
                            "needs_video": {"type": "boolean"},
                            "needs_audio": {"type": "boolean"},
                            "options": {"type": "array", "items": {"type": "string"}},
                            "origin": {"type": "string", "enum": ["built-in", "operator"]},
                        },
                    }}},
                })},
            }
        },
        "/fleet": {"get": {"summary": "The encoders, and why launches fail (launch_error, spot_error) when they do.", "operationId": "getFleet", "tags": ["status"], "responses": {"200": _answer("Fleet report.", FLEET_SCHEMA), "503": _error("The feeder is busy or restarting; try again.")}}},
        "/fleet/retry": {
            "post": {
                "summary": "Launch encoders again now, without waiting out the backoff after failed launches (once the cause is fixed).",
                "operationId": "retryFleet",
                "tags": ["status"],
                "responses": {
                    "200": _answer("Retried; the launch problems that remain.", {
                        "type": "object",
                        "properties": {"retried": {"type": "boolean"},
                                       "launch_error": LAUNCH_PROBLEM_SCHEMA,
                                       "spot_error": LAUNCH_PROBLEM_SCHEMA},
                    }),
                    "503": _error("The feeder is busy or restarting; try again."),
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Health of the feeder's parts. With api_tokens set and no token, only {\"status\": \"ok\"|\"degraded\"}; with a valid token, the full report.",
                "operationId": "getHealth",
                "tags": ["status"],
                "responses": {
                    "200": _answer("Healthy.", {"type": "object"}),
                    "503": _answer("Some part is unhealthy.", {"type": "object"}),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics.",
                "operationId": "getMetrics",
                "tags": ["status"],
                "responses": {"200": _answer("Text exposition format.", {"type": "string"}, "text/plain")},
            }
        },
        "/openapi.json": {"get": {"summary": "This document.", "operationId": "getOpenApi", "tags": ["pages"],
                                  "responses": {"200": _answer("OpenAPI 3.1.", {"type": "object"})}}},
        "/": {"get": {"summary": "The dashboard's page (its script asks for the token).", "operationId": "getDashboard",
                      "tags": ["pages"], "responses": {"200": _answer("HTML.", {"type": "string"}, "text/html")}}},
        "/docs": {"get": {"summary": "A reader of this document (Swagger UI; Authorize takes the token).",
                          "operationId": "getApiReader", "tags": ["pages"],
                          "responses": {"200": _answer("HTML.", {"type": "string"}, "text/html")}}},
        "/docs/{filename}": {"get": {
            "summary": "The reader's files (Swagger UI, from the flask-swagger-ui package).",
            "operationId": "getApiReaderFile", "tags": ["pages"],
            "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _answer("A script, style sheet or image.", {"type": "string"}, "*/*"),
                          "404": _error("No such file.")},
        }},
        "/static/{filename}": {"get": {
            "summary": "The dashboard's script and style sheet.",
            "operationId": "getDashboardFile", "tags": ["pages"],
            "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _answer("A script or style sheet.", {"type": "string"}, "*/*"),
                          "404": _error("No such file.")},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "nommer", "version": nommer.__version__, "description": "Media-encoding farm API."},
        "tags": [
            {"name": "jobs", "description": "Submit, follow, cancel and retry jobs."},
            {"name": "presets", "description": "What outputs can be asked for."},
            {"name": "status", "description": "The farm: encoders, health, metrics, error codes."},
            {"name": "pages", "description": "Pages for people: the dashboard, this document and its reader."},
            {"name": "legacy", "description": "media-nommer's API, kept compatible."},
        ],
        "paths": _secured(paths),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "One of the api_tokens setting."}},
        },
        "security": [{"bearer": []}],
    }
