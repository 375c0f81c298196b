"""The OpenAPI 3.1 document of the API. Request schemas come from the pydantic
models that validate the requests, so they say exactly what is enforced."""

import functools

from pydantic.json_schema import models_json_schema

import nommer
from nommer.core.error_codes import JOB_ERROR_CODES
from nommer.core.jobs import State
from nommer.core.outputs import OUTPUT_STATES
from nommer.core.progress import PHASES
from nommer.core.results import MANIFEST, MAX_LISTED_FILES, MAX_RESULT_BYTES
from nommer.http.models import MAX_LIST_LIMIT, ListQuery, LegacySubmitRequest, SubmitRequest

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
                    "state": {"type": "string", "enum": list(OUTPUT_STATES)},
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
        "links": {
            "type": "object",
            "properties": {"self": {"type": "string"}, "cancel": _NULLABLE_STR},
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
        "members": {"type": "array", "items": {"type": "object"}},
        "encoders": {"type": "array", "items": {"type": "object"}},
        "launch_error": LAUNCH_PROBLEM_SCHEMA,
        "spot_error": {**LAUNCH_PROBLEM_SCHEMA, "description": "Why spot launches are refused while on-demand ones work."},
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
OPEN = {("/health", "get"), ("/", "get")}


def _secured(paths):
    """Every operation but the open ones needs the token and may answer 401."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (path, method) in OPEN:
                operation["security"] = []
            else:
                operation["responses"].setdefault("401", _UNAUTHORIZED)
    return paths


def _body(name):
    # Any Content-Type is accepted; the body must be JSON all the same.
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": JOB_SCHEMA["properties"]["id"]}


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
        "requestBody": _body("LegacySubmitRequest"),
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
                "requestBody": _body("SubmitRequest"),
                "responses": {
                    "201": {**job, "headers": {"Location": {"schema": {"type": "string"}}}},
                    "400": _error("Refused; the error names the field."),
                    "413": _error("Body too large."),
                    "503": _error("The feeder is busy or restarting; try again."),
                },
            },
            "get": {
                "summary": f"List jobs, newest first (at most {MAX_LIST_LIMIT} a page).",
                "parameters": _query_parameters(),
                "responses": {"200": _answer("A page of jobs.", _ref("JobList")), "400": _error("Bad query; the error names the parameter."), "503": _error("The feeder is busy or restarting; try again.")},
            },
        },
        "/jobs/{job_id}": {
            "get": {
                "summary": "One job.",
                "parameters": [_JOB_ID],
                "responses": {"200": job, "404": _error("No such job; field is job_id."), "503": _error("The feeder is busy or restarting; try again.")},
            }
        },
        "/jobs/{job_id}/cancel": {
            "post": {
                "summary": "Cancel a job; its encoder stops.",
                "parameters": [_JOB_ID],
                "responses": {
                    "200": job,
                    "404": _error("No such job; field is job_id."),
                    "409": _error("The job has already finished; field is job_id."),
                    "503": _error("The feeder is busy or restarting; try again."),
                },
            }
        },
        "/job/submit": {"post": legacy},
        "/job/submit/": {"post": legacy},
        "/presets": {
            "get": {
                "summary": "The presets this farm knows: built-in and the operator's.",
                "responses": {"200": _answer("The presets.", {
                    "type": "object",
                    "properties": {"presets": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                            "kind": {"type": "string", "enum": ["file", "hls", "images"]},
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
        "/fleet": {"get": {"summary": "The encoders, and why launches fail (launch_error, spot_error) when they do.", "responses": {"200": _answer("Fleet report.", FLEET_SCHEMA), "503": _error("The feeder is busy or restarting; try again.")}}},
        "/fleet/retry": {
            "post": {
                "summary": "Launch encoders again now, without waiting out the backoff after failed launches (once the cause is fixed).",
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
                "responses": {
                    "200": _answer("Healthy.", {"type": "object"}),
                    "503": _answer("Some part is unhealthy.", {"type": "object"}),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics.",
                "responses": {"200": _answer("Text exposition format.", {"type": "string"}, "text/plain")},
            }
        },
        "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": _answer("OpenAPI 3.1.", {"type": "object"})}}},
        "/": {"get": {"summary": "Dashboard page.", "responses": {"200": _answer("HTML.", {"type": "string"}, "text/html")}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "nommer", "version": nommer.__version__, "description": "Media-encoding farm API."},
        "paths": _secured(paths),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "One of the api_tokens setting."}},
        },
        "security": [{"bearer": []}],
    }
