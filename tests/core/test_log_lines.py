"""The console log lines: the layout of structlog's ConsoleRenderer (time,
[level], the event padded, key=value by key, a traceback below), which
nommer writes in one pass, and credentials never in them."""

import io
import os

import pytest
import structlog

from nommer.core import log

EVENTS = [
    {"event": "request", "method": "POST", "path": "/jobs", "status": 201, "ms": 1.2,
     "timestamp": "2026-12-03T09:14:32.433498Z", "level": "info"},
    {"event": "job state", "job_id": "01a23b2f1a704010df2a", "state": "ERROR", "attempt": 2,
     "timestamp": "2026-12-03T09:14:32.433498Z", "level": "warning"},
    {"event": "a very long event name that goes past the thirty characters", "n": None, "d": {"a": [1, 2]},
     "timestamp": "2026-12-03T09:14:32.433498Z", "level": "error",
     "exception": "Traceback (most recent call last):\n  ...\nValueError: bad"},
    {"event": "no time", "level": "debug", "flag": True, "text": "two words"},
    {"event": "stack", "level": "info", "stack": "Stack (most recent call last):\n  here"},
    {"event": "both", "level": "error", "stack": "Stack:\n  here", "exception": "ValueError: x",
     "quoted": "it's", "equals": "a=b", "line": "a\nb", "plain": "file:///in.mov"},
    {"event": "bare"},
]


@pytest.mark.parametrize("event", EVENTS, ids=[e["event"][:12] for e in EVENTS])
def test_a_console_line_is_laid_out_as_structlogs_console_renderer_lays_it_out(event):
    expected = structlog.dev.ConsoleRenderer(colors=False)(None, "info", dict(event))
    assert log.ConsoleLines()(None, "info", dict(event)) == expected


def test_the_console_lines_written_carry_the_fields_and_no_credential():
    stream = io.StringIO()
    try:
        log.configure("console", "info", stream)
        logger = log.get("nommer.test")
        logger.info("fetching", job_id="01a23b2f1a704010df2a",
                    source="s3://AKIAEXAMPLE:wJalrXUtnFEMI%2Fsecret@bucket/in.mov", tries=3)
        logger.debug("not written")
        try:
            raise ValueError("http://user:hunter2@host.example/x failed")
        except ValueError:
            logger.exception("boom", job_id="01a23b2f1a704010df2a")
    finally:
        log.configure("console", os.environ.get("NOMMER_LOG_LEVEL", "info"))
    lines = stream.getvalue().splitlines()
    first = lines[0]
    assert first.endswith("Z [info     ] fetching                       job_id=01a23b2f1a704010df2a "
                          "source=s3://***:***@bucket/in.mov tries=3")
    assert "not written" not in stream.getvalue()
    assert "[error    ] boom" in lines[1] and lines[-1].startswith("ValueError: http://")
    assert "hunter2" not in stream.getvalue() and "AKIAEXAMPLE" not in stream.getvalue()
