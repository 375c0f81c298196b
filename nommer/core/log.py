"""Structured logging. Every line an encoder or an actor writes about a job
carries ``job_id`` (and ``encoder_id`` on encoders), bound with ``log.bind``.

No line carries a credential: a processor redacts every URI in every value
(nested ones and formatted tracebacks included) before it is rendered, and
the standard library's loggers (waitress...) go through the same redaction.
"""

import logging
import sys

import structlog

from nommer.core.credentials import scrub, scrub_deep


def redact_secrets(_logger, _method, event_dict):
    """structlog processor: credentials in URIs anywhere in the event → ``***``."""
    return {key: scrub_deep(value) for key, value in event_dict.items()}


class _RedactingFilter(logging.Filter):
    def filter(self, record):
        record.msg = scrub(record.getMessage())
        record.args = ()
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure(fmt="console", level="info", stream=None):
    stream = stream or sys.stderr
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper())
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_nommer", False)]:
        root.removeHandler(old)
    handler._nommer = True
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def get(name, **bound):
    """A logger that takes its configuration when it first logs, so one made
    at import time still follows configure()."""
    return structlog.get_logger(name, **bound)
