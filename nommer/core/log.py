"""Structured logging. Every line an encoder or an actor writes about a job
carries ``job_id`` (and ``encoder_id`` on encoders), bound with ``log.bind``.

No line carries a credential: a processor redacts every URI in every value
(nested ones and formatted tracebacks included) before it is rendered, and
the standard library's loggers (waitress...) go through the same redaction.
"""

import logging
import os
import sys

import structlog

from nommer.core.security.credentials import scrub, scrub_deep


def redact_secrets(_logger, _method, event_dict):
    """structlog processor: credentials in URIs anywhere in the event → ``***``."""
    return {key: scrub_deep(value) for key, value in event_dict.items()}


class ConsoleLines:
    """structlog processor: the console layout of structlog's ConsoleRenderer
    without colours (time, ``[level]``, the event padded to 30 characters,
    then ``key=value`` by key, plain text as it is and anything else as its
    repr, a stack or a traceback on the lines below), built in one pass: the feeder writes a
    line or two for every request, and the general renderer costs several
    times more than the request's own work."""

    def __call__(self, _logger, _method, event_dict):
        timestamp = event_dict.pop("timestamp", None)
        level = event_dict.pop("level", None)
        event = event_dict.pop("event", None)
        stack = event_dict.pop("stack", None)
        exception = event_dict.pop("exception", None)
        head = []
        if timestamp is not None:
            head.append(str(timestamp))
        if level is not None:
            head.append(f"[{level:<9}]")
        text = " ".join(head)
        if event is not None:
            text = f"{text} {event!s:<30}" if text else f"{event!s:<30}"
        pairs = " ".join(f"{key}={_shown(value)}" for key, value in sorted(event_dict.items()))
        if pairs:
            text = f"{text} {pairs}"
        text = text.rstrip(" ")
        if stack is not None:
            text += "\n" + stack
            if exception is not None:
                text += "\n\n" + "=" * 79 + "\n"
        if exception is not None:
            text += "\n" + exception
        return text


_QUOTED = frozenset(" \t=\r\n\"'")


def _shown(value):
    """A value as ConsoleRenderer shows it: text as it is unless it has
    white space, quotes or ``=``; anything else as its repr."""
    if isinstance(value, str) and _QUOTED.isdisjoint(value):
        return value
    return repr(value)


class _RedactingFilter(logging.Filter):
    def filter(self, record):
        record.msg = scrub(record.getMessage())
        record.args = ()
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RotatingStderr:
    """The process's standard error, appended to the file ``path`` and
    rotated by size: past ``max_bytes`` the file becomes ``path.1`` (the
    older ones ``.2``...; ``backups`` are kept) and a fresh one takes its
    place. Standard output and error are moved onto the fresh file too, so a
    traceback of a crash lands beside the last lines logged."""

    def __init__(self, path, max_bytes, backups):
        self.path = str(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.size = 0
        self._open()

    def _open(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for target in (1, 2):
            os.dup2(fd, target)
        os.close(fd)
        self.size = os.fstat(2).st_size

    def write(self, text):
        data = text.encode("utf-8", "replace")
        if self.size and self.size + len(data) > self.max_bytes:
            self.rotate()
        os.write(2, data)
        self.size += len(data)
        return len(text)

    def flush(self):
        pass

    def rotate(self):
        for n in range(self.backups - 1, 0, -1):
            older = f"{self.path}.{n}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{n + 1}")
        if self.backups:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.unlink(self.path)
        self._open()


def configure_from(config):
    """Logging as the settings say: format, level and ``log_file``."""
    stream = None
    if config.log_file:
        stream = RotatingStderr(config.log_file, config.log_max_bytes, config.log_backups)
    configure(config.log_format, config.log_level, stream)
    for note in config.notes:
        get("nommer.config").info("setting translated", note=note)


def configure(fmt="console", level="info", stream=None):
    stream = stream or sys.stderr
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else ConsoleLines()
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
        # one write a line (print writes the line and its newline apart)
        logger_factory=structlog.WriteLoggerFactory(file=stream),
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


def enabled(level=logging.INFO):
    """Whether a line at ``level`` would be written under structlog's
    configuration as it is now: a caller that logs on every request skips
    building a line that would be dropped."""
    is_enabled_for = getattr(structlog.get_config()["wrapper_class"], "is_enabled_for", None)
    return is_enabled_for is None or is_enabled_for(None, level)


def get(name, **bound):
    """A logger that takes its configuration when it first logs, so one made
    at import time still follows configure()."""
    return structlog.get_logger(name, **bound)
