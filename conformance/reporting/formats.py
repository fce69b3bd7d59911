"""The report formats: one registry that a run's report writing and `conformance report` share.

Each format renders the summary document alone, so what `conformance report` renders from a
stored summary.json is what the run wrote. A new format is one row of `FORMATS`. The renderers
are named by module, not imported, so that a pytest run that writes no report (the project's own
tests, a dry run) never imports Jinja2 and the rest.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportFormat:
    """`name` is `conformance report --format`'s value, `file` the name a run writes it under;
    `module`'s `render` function gives the text (None for summary.json itself, which
    `conformance report` reads rather than renders), its `write` function the file."""

    name: str
    file: str
    module: str
    write_function: str
    render_function: str | None = None

    def render(self, document: Mapping[str, Any]) -> str:
        assert self.render_function is not None, f"{self.file} is not re-rendered"
        text: str = getattr(importlib.import_module(self.module), self.render_function)(document)
        return text

    def write(self, document: dict[str, Any], path: Path) -> None:
        getattr(importlib.import_module(self.module), self.write_function)(document, path)


_REPORTING = "conformance.reporting"

# In the order a run writes them (and lists them among the summary's artifacts).
FORMATS: tuple[ReportFormat, ...] = (
    ReportFormat("json", "summary.json", f"{_REPORTING}.summary", "write_document"),
    ReportFormat("md", "summary.md", f"{_REPORTING}.markdown", "write_markdown", "render_markdown"),
    ReportFormat("junit", "junit.xml", f"{_REPORTING}.junit", "write_junit", "render_junit"),
    ReportFormat("html", "report.html", f"{_REPORTING}.html", "write_html", "render_html"),
)


def rerenderable() -> dict[str, ReportFormat]:
    """The formats `conformance report` renders, by `--format` name."""
    return {f.name: f for f in FORMATS if f.render_function is not None}


__all__ = ["FORMATS", "ReportFormat", "rerenderable"]
