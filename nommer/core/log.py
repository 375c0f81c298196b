"""Structured logging. Every line an encoder or an actor writes about a job
carries ``job_id`` (and ``encoder_id`` on encoders), bound with ``log.bind``."""

import logging
import sys

import structlog


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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper())
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get(name, **bound):
    """A logger that takes its configuration when it first logs, so one made
    at import time still follows configure()."""
    return structlog.get_logger(name, **bound)
