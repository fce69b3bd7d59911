"""`OPTIONS`, the table of a run's options: one row each, from which both command lines are made.

A row names the option (the `RunOptions` field), its kind, its one help text, and whether
`conformance run` and the pytest plugin offer it; `Option.flag` spells it for either. Kept as data
apart from `conformance.run_options`, which reads it to parse, check and repeat a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["OPTIONS", "PYTEST_PREFIX", "Kind", "Option"]

PYTEST_PREFIX = "--conformance-"

Kind = Literal["path", "int", "text", "flag", "list"]


@dataclass(frozen=True)
class Option:
    """One option of a run. `cli` / `pytest`: whether `conformance run` / the plugin offer it (the
    seed reaches pytest as hypothesis' own `--hypothesis-seed`, the checks as a test path)."""

    name: str
    kind: Kind
    help: str
    metavar: str | None = None
    cli: bool = True
    pytest: bool = True

    def flag(self, *, for_pytest: bool) -> str:
        dashed = self.name.replace("_", "-")
        return f"{PYTEST_PREFIX}{dashed}" if for_pytest else f"--{dashed}"


OPTIONS: tuple[Option, ...] = (
    Option(
        "profile", "path", "the target profile (YAML; spec/schemas/profile.schema.json)", "FILE"
    ),
    Option(
        "report_dir",
        "path",
        "where the reports go: summary.json, summary.md, junit.xml, report.html, "
        "exchanges.har, allure-results (default: reports/<run id>/, and reports/latest)",
        "DIR",
    ),
    Option(
        "levels", "text", "comma-separated levels to check (default: must,should,may)", "LEVELS"
    ),
    Option("only", "list", "check only this requirement (repeatable)", "ID"),
    Option("max_examples", "int", "generated examples per property check (default: 10)", "N"),
    Option(
        "seed",
        "int",
        "hypothesis seed; a failure's report prints the one that reproduces it",
        "N",
        pytest=False,
    ),
    Option(
        "include_limit_test",
        "flag",
        "also flood the probe story past its concurrency limit (WH-CONC-*)",
    ),
    Option(
        "retries",
        "int",
        "run a failed check N more times before reporting it; a pass on retry is reported "
        "as flaky (default: 1)",
        "N",
    ),
    Option(
        "expectations",
        "path",
        "known deviations (YAML, spec/schemas/expectations.schema.json), marked in every "
        "report; `conformance gate` applies them",
        "FILE",
    ),
    Option(
        "shrink",
        "flag",
        "shrink a failing generated example to a smaller one; each step is a request, and a "
        "check stops at its share of the plan's bound, so it is off unless asked for",
    ),
    Option(
        "debug",
        "flag",
        "show the suite's internals on failure: Python tracebacks, hypothesis's notes and "
        "@reproduce_failure blobs",
    ),
    Option(
        "dry_run",
        "flag",
        "print the plan (checks, requirement IDs, operations, most requests) and send nothing",
    ),
    Option(
        "checks",
        "path",
        "a directory or file of checks to run instead of the built-in ones",
        "PATH",
        pytest=False,
    ),
    Option("run_id", "text", "the run's ID", "ID", cli=False),
    Option(
        "repeat_as",
        "text",
        "the command that repeats the run, where its profile does not outlive it (the demo's)",
        "COMMAND",
        cli=False,
    ),
)
