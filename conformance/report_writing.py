"""Report writing: the run's `RunSummary`, and every report rendered from its one document.

summary.json, summary.md, junit.xml and report.html come from the formats registry
(`conformance.reporting.formats`), exchanges.har from the recording's spool; `reports/latest` is
pointed at the run last. At the very end the files other plugins wrote (JUnit XML of pytest's own
`--junitxml`, Allure results) get a last redaction pass.
"""

from __future__ import annotations

import contextlib
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tines_spec
from conformance import __version__
from conformance.latest import point_latest_at
from conformance.redaction import redact
from conformance.reporting.formats import FORMATS
from conformance.reporting.outcomes import RunSummary, judge_all, run_outcome
from conformance.reporting.summary import SCHEMA, redacted_document
from conformance.run_state import RunState


def write_reports(state: RunState, summary: RunSummary) -> tuple[Path, ...]:
    """Every report of the run, each rendered from the one summary document."""
    directory = state.report_dir
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    log = state.exchange_log
    if log is not None:
        har = directory / "exchanges.har"
        log.write_har(har, run_id=state.run_id)
        log.close()
        written.append(har)
    # Checked against the schema once, as summary.json, the first format, is written: after
    # the annotations and artifacts below, and before any other report is.
    document = redacted_document(summary, checked=False)
    if state.expectations_path is not None:
        from conformance.expectations import annotate

        document = annotate(
            document,
            state.expectations,
            today=datetime.now(UTC).date(),
            file=str(state.expectations_path),
        )
    names = [form.file for form in FORMATS]
    names += [path.name for path in written]
    if (directory / "allure-results").is_dir():
        names.append("allure-results")
    document["artifacts"] = names
    paths = [directory / form.file for form in FORMATS]
    for form, path in zip(FORMATS, paths, strict=True):
        form.write(document, path)
    if state.link_latest:
        point_latest_at(directory)
    return (*paths, *written)


def prepare_reports() -> None:
    """Do now what the reports will need whatever the run finds: compile the HTML template and
    build the report schema's validator (together about a fifth of a second).

    Called as the checks start: in a run that ends on a long wait (the timeout probe), this
    happens while the checks run, not after the wait."""
    from conformance.reporting.html import prepare_html

    prepare_html()
    tines_spec.validator(SCHEMA)


def build_summary(state: RunState) -> RunSummary:
    catalogue = tines_spec.catalogue()
    wanted = [r for r in catalogue.at_levels(state.levels) if not state.only or r.id in state.only]
    outcomes = list(state.outcomes.values())
    results = judge_all(wanted, outcomes, state.stopped)
    clients = (state.target, state.async_target)
    sent = state.preflight_requests + sum(c.requests_sent for c in clients if c is not None)
    notes: list[str] = []
    if state.stopped:
        notes.append(f"the run stopped early: {state.stopped}")
    if not state.include_limit_test:
        notes.append("the concurrency-limit test was not included (--include-limit-test)")
    checks = tuple(state.outcomes.values())
    budget = state.budget
    if budget is not None:
        # Planned and sent per check: what the dry run promised beside what the run did.
        for check in checks:
            planned = budget.shares.get(check.nodeid)
            check.properties["requests_planned"] = (
                "not declared" if planned is None else str(planned)
            )
            check.properties["requests_sent"] = str(budget.sent.get(check.nodeid, 0))
    return RunSummary(
        tool_version=__version__,
        spec_version=catalogue.spec_version,
        run_id=state.run_id,
        target_name=state.profile.name,
        base_url=redact(state.profile.target.base_url),
        profile_path=str(state.profile.path),
        started_at=state.started_at,
        duration_seconds=time.monotonic() - state.started,
        levels=state.levels,
        seed=state.seed,
        outcome=run_outcome(
            results,
            outcomes,
            state.stopped,
            limited=len(wanted) < len(catalogue.at_levels(state.levels)),
        ),
        requests_sent=sent,
        requirements=results,
        notes=tuple(notes),
        checks=checks,
        retries=state.retries,
        command=state.options.repeat_command(),
        only=state.only,
        versions=_versions(),
    )


def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    found = [("python", platform.python_version()), ("platform", platform.platform(terse=True))]
    for package in ("pytest", "hypothesis", "schemathesis", "httpx"):
        with contextlib.suppress(PackageNotFoundError):
            found.append((package, version(package)))
    return tuple(found)


def redact_other_reports(config: pytest.Config) -> None:
    """A last pass over the files other plugins wrote (JUnit XML, Allure results): whatever
    reached them past the report redaction (a captured log line, say) is masked here."""
    paths: list[Path] = []
    xml = getattr(config.option, "xmlpath", None)
    if xml:
        paths.append(Path(xml))
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir and Path(allure_dir).is_dir():
        paths.extend(p for p in Path(allure_dir).iterdir() if p.is_file())
    for path in paths:
        redact_file(path)


def redact_file(path: Path) -> None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = path.read_text(encoding="utf-8")
        cleaned = redact(text)
        if cleaned != text:
            path.write_text(cleaned, encoding="utf-8")
