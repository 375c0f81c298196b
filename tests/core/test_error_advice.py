"""The advice the dashboard shows beside a failed job is docs/errors.md's."""

import pathlib
import re

from nommer.core.model.error_advice import JOB_ERROR_ADVICE, advice_table
from nommer.core.model.error_codes import JOB_ERROR_CODES

DOC = pathlib.Path(__file__).parents[2] / "docs" / "errors.md"


def documented_rows():
    """(code, when, what to do) of each row of docs/errors.md's job table."""
    section = DOC.read_text().split("## Job error codes", 1)[1].split("\n## ", 1)[0]
    return [m.groups() for m in re.finditer(r"^\| `([A-Z_]+)` \| (.*) \| (.*) \|$", section, re.M)]


def test_advice_is_the_job_table_of_docs_errors_md():
    rows = documented_rows()

    assert rows, "docs/errors.md has no job table"
    assert [(code, *advice) for code, advice in JOB_ERROR_ADVICE.items()] == rows, (
        "nommer/core/model/error_advice.py is out of step with docs/errors.md's job table: copy its rows")


def test_every_job_error_code_has_advice():
    assert set(JOB_ERROR_ADVICE) == set(JOB_ERROR_CODES)
    assert all(row["when"] and row["what_to_do"] for row in advice_table())
