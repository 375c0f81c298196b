"""Every error code the code can emit is documented in docs/errors.md, and
every code a job can end with is a known job error code."""

import ast
import pathlib
import re

import pytest

from nommer.core.model.error_codes import JOB_ERROR_CODES, job_error_code
from nommer.core.errors import ConfigError, InvalidInput, JobFailed

ROOT = pathlib.Path(__file__).parents[2]
DOC = (ROOT / "docs" / "errors.md").read_text()
CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _constants(node):
    """Code-like string constants of an expression (through a conditional)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    return []


def emitted_codes():
    """(code, kind, place) of every code written in nommer's source: codes
    given to errors (code=, error_code=), codes of error classes, codes of
    HTTP problems and whatever a function named like *code* returns."""
    found = []
    for path in sorted((ROOT / "nommer").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        place = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in ("code", "error_code"):
                found += [(c, "job" if node.arg == "error_code" else "error", place) for c in _constants(node.value)]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                found += [(c, "error", place) for c in _constants(node.value)]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem" and len(node.args) > 1:
                found += [(c, "api", place) for c in _constants(node.args[1])]
            elif isinstance(node, ast.FunctionDef) and "code" in node.name:
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and ret.value is not None:
                        found += [(c, "api", place) for c in _constants(ret.value)]
    return found


def test_the_scan_finds_codes_of_every_kind():
    codes = {c for c, _, _ in emitted_codes()}
    # If the scan stopped finding these, it would pass while checking nothing.
    assert {"NO_VIDEO_STREAM", "TIMED_OUT", "GAVE_UP", "TOO_LARGE", "UNKNOWN_FIELD", "NOT_FOUND"} <= codes


@pytest.mark.parametrize("code, kind, place", sorted(set(emitted_codes())))
def test_every_emitted_code_is_documented(code, kind, place):
    assert f"`{code}`" in DOC, f"{code} (from {place}) is not in docs/errors.md"


def test_every_job_error_code_is_documented():
    for code in JOB_ERROR_CODES:
        assert f"| `{code}` |" in DOC


def test_codes_jobs_fail_with_are_job_error_codes():
    """A JobFailed code or an error_code not in the list would be reported
    as INTERNAL_ERROR, so each must be in JOB_ERROR_CODES."""
    job_codes = set()
    for path in (ROOT / "nommer").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "JobFailed":
                for kw in node.keywords:
                    if kw.arg == "code":
                        job_codes.update(_constants(kw.value))
            elif isinstance(node, ast.keyword) and node.arg == "error_code":
                job_codes.update(_constants(node.value))
    assert "ENCODE_FAILED" in job_codes and "ZERO_DURATION" in job_codes
    assert job_codes <= set(JOB_ERROR_CODES), job_codes - set(JOB_ERROR_CODES)


def test_failures_map_to_job_error_codes():
    assert job_error_code(JobFailed("x", code="TIMED_OUT")) == "TIMED_OUT"
    assert job_error_code(JobFailed("x")) == "INTERNAL_ERROR"  # no specific code given
    assert job_error_code(ConfigError("setting 'ffmpeg': cannot run")) == "ENCODER_MISCONFIGURED"
    assert job_error_code(InvalidInput("outputs[0].preset", "unknown preset")) == "OUTPUT_INVALID"
    assert job_error_code(ZeroDivisionError()) == "INTERNAL_ERROR"
