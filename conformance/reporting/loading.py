"""Reading a finished run's summary.json back, for the commands that act on it after the run.

`conformance gate`, `report` and `compare` trust nothing they did not check: a summary from
another version of the suite, or one edited by hand, must stop them with one line that names the
file and the field, not a KeyError halfway through a verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conformance.errors import UsageError
from conformance.reporting.summary import check_document

__all__ = ["SummaryError", "load_summary"]


class SummaryError(UsageError):
    """A summary.json that is missing, not JSON, or not valid against report.schema.json."""

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The summary document at `path`, validated against report.schema.json."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SummaryError(file, exc.strerror or "cannot be read") from None
    except UnicodeDecodeError as exc:
        raise SummaryError(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SummaryError(
            file, f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    try:
        check_document(document, "not a run summary (report.schema.json)")
    except ValueError as exc:
        raise SummaryError(file, str(exc).splitlines()[0]) from None
    loaded: dict[str, Any] = document
    return loaded
