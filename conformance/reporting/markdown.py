"""summary.md: the run for a person, ready to append to a CI job summary, failures first.

It renders the summary document (summary.json) alone, so that `conformance report --format md`
gives the same text from a stored summary as the run gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.redaction import redact

STATUS_ORDER = ("failed", "blocked", "untested", "skipped", "not-observable", "passed")
_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "blocked": "BLOCKED",
    "skipped": "SKIP",
    "untested": "UNTESTED",
    "not-observable": "NOT OBSERVABLE",
}


def _cell(text: object) -> str:
    return ("" if text is None else str(text)).replace("|", "\\|").replace("\n", " ")


def _mark(requirement: Mapping[str, Any]) -> str:
    mark = _MARK[requirement["status"]]
    if requirement.get("flaky"):
        mark += " (flaky)"
    expectation = requirement.get("expectation")
    if expectation:
        mark += f" ({expectation['state']})"
    return mark


def by_urgency(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Failures first, then untested, skipped, passed (flaky passes before clean ones)."""
    return sorted(
        document["requirements"],
        key=lambda r: (STATUS_ORDER.index(r["status"]), not r.get("flaky")),
    )


def root_cause_lines(document: Mapping[str, Any]) -> list[str]:
    """One line per failure that blocked other requirements, largest first."""
    lines = []
    for cause in document.get("root_causes") or []:
        count = len(cause["blocked"])
        noun = "requirement" if count == 1 else "requirements"
        lines.append(
            f"{count} {noun} blocked by one cause: {cause['cause']} "
            f"(blocked: {', '.join(cause['blocked'])})"
        )
    return lines


def _fence(text: str) -> list[str]:
    return ["```", text.replace("```", "`\u200b``"), "```"]


def render_markdown(document: Mapping[str, Any]) -> str:
    target = document["target"]
    seed = document["seed"]
    lines = [f"# Conformance run {document['run_id']}: {document['outcome']}", ""]
    causes = root_cause_lines(document)
    if causes:
        lines += ["## Root causes", "", *(f"- {line}" for line in causes), ""]
    lines += [
        f"- target: {target.get('name') or '(unnamed)'} at {target['base_url']}",
        f"- profile: {target.get('profile') or '(none)'}",
        f"- started: {document['started_at']}, took {document['duration_seconds']:.1f} s, "
        f"{document['requests_sent']} requests",
        f"- spec {document['spec_version']}, tines-conformance {document['tool']['version']}",
        f"- hypothesis seed: {seed if seed is not None else '(random)'}; failed checks are run "
        f"{document['retries']} more time(s) before they are reported",
        f"- repeat it: `{document['command']}`",
    ]
    if document.get("expectations_file"):
        lines.append(f"- expectations: {document['expectations_file']}")
    lines += [f"- note: {note}" for note in document["notes"]]
    statuses = list(_MARK)
    lines += ["", "## Totals", "", "| level | " + " | ".join(statuses) + " |"]
    lines.append("| --- |" + " ---: |" * len(statuses))
    for level, counts in document["totals"].items():
        lines.append(f"| {level} | " + " | ".join(str(counts.get(s, 0)) for s in statuses) + " |")
    lines += ["", "## Requirements", "", "| status | ID | level | title | reason |"]
    lines.append("| --- | --- | --- | --- | --- |")
    for r in by_urgency(document):
        reason = r["reason"]
        expectation = r.get("expectation")
        if expectation:
            until = f" until {expectation['expires']}" if expectation["expires"] else ""
            reason = f"{reason or ''} [known deviation{until}: {expectation['reason']}]".strip()
        lines.append(
            f"| {_mark(r)} | {r['id']} | {r['level']} | {_cell(r['title'])} | {_cell(reason)} |"
        )
    shown = [r for r in by_urgency(document) if r["failure"] is not None]
    if shown:
        lines += ["", "## Failures", ""]
        for r in shown:
            failure = r["failure"]
            flaky = " (passed on retry)" if r.get("flaky") else ""
            lines += [
                f"### {r['id']} ({r['level']}){flaky}",
                "",
                f"> {r['sentence']}",
                "",
                f"- check: `{failure['check']}`",
                f"- expected: {_cell(failure['expected'])}",
                f"- got: {_cell(failure['actual'])}",
                f"- reproduce: `{failure['reproduce']}`",
            ]
            if failure["curl"]:
                lines += ["", "The request that showed it:", "", *_fence(failure["curl"])]
            lines.append("")
    return redact("\n".join(lines).rstrip() + "\n")


def write_markdown(document: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(document), encoding="utf-8")
