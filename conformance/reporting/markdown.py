"""summary.md: the run for a person, failures first, each with its one-line reason."""

from __future__ import annotations

from pathlib import Path

from conformance.redaction import redact
from conformance.reporting.outcomes import STATUSES, RunSummary

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "untested": "UNTESTED"}


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: RunSummary) -> str:
    lines = [
        f"# Conformance run {summary.run_id}: {summary.outcome}",
        "",
        f"- target: {summary.target_name or '(unnamed)'} at {summary.base_url}",
        f"- profile: {summary.profile_path or '(none)'}",
        f"- started: {summary.started_at.isoformat()}, "
        f"took {summary.duration_seconds:.1f} s, {summary.requests_sent} requests",
        f"- spec {summary.spec_version}, tines-conformance {summary.tool_version}",
        f"- hypothesis seed: {summary.seed if summary.seed is not None else '(random)'}",
    ]
    lines += [f"- note: {note}" for note in summary.notes]
    lines += ["", "## Totals", "", "| level | " + " | ".join(STATUSES) + " |"]
    lines.append("| --- |" + " ---: |" * len(STATUSES))
    for level, counts in summary.totals().items():
        lines.append(f"| {level} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    lines += ["", "## Requirements", "", "| status | ID | level | title | reason |"]
    lines.append("| --- | --- | --- | --- | --- |")
    for r in summary.by_urgency():
        lines.append(
            f"| {_MARK[r.status]} | {r.id} | {r.level} | {_cell(r.title)} | {_cell(r.reason)} |"
        )
    failed = [r for r in summary.requirements if r.status == "failed"]
    if failed:
        lines += ["", "## Failing checks", ""]
        for r in failed:
            lines.append(f"- **{r.id}**: {', '.join(r.tests)}")
        lines += [
            "",
            "The JUnit report (junit.xml) holds each failure's exchange and a curl command to "
            "reproduce it; rerun with `--seed` and `--only` to repeat the same examples.",
        ]
    return redact("\n".join(lines) + "\n")


def write_markdown(summary: RunSummary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(summary), encoding="utf-8")
