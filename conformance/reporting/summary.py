"""summary.json: the machine-readable result CI gates on, valid against report.schema.json.

It is also the one source every other report renders from (`conformance report` re-renders them
from it alone), so it carries, beside the verdicts, each requirement's sentence and each failure's
evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match

import tines_spec
from conformance.redaction import redact
from conformance.reporting.outcomes import CheckOutcome, Evidence, RequirementResult, RunSummary

SCHEMA = "report.schema.json"


def _evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {
        "check": evidence.check,
        "summary": evidence.summary,
        "expected": evidence.expected,
        "actual": evidence.actual,
        "details": evidence.details,
        "curl": evidence.curl,
        "reproduce": evidence.reproduce,
    }


def _requirement(result: RequirementResult, catalogue: tines_spec.Catalogue) -> dict[str, Any]:
    requirement = catalogue[result.id]
    return {
        "id": result.id,
        "title": result.title,
        "level": result.level,
        "area": result.area,
        "document": catalogue.document_title(requirement),
        "sentence": requirement.sentence,
        "source_url": catalogue.source_url(requirement),
        "status": result.status,
        "flaky": result.flaky,
        "tests": list(result.tests),
        "reason": result.reason,
        "failure": _evidence(result.evidence),
        "blocked_by": list(result.blocked_by),
        "observable": result.observable,
    }


def _check(outcome: CheckOutcome) -> dict[str, Any]:
    return {
        "id": outcome.nodeid,
        "requirements": list(outcome.requirement_ids),
        "status": outcome.status,
        "attempts": outcome.attempts,
        "flaky": outcome.flaky,
        "duration_seconds": round(outcome.duration_seconds, 3),
        "reason": outcome.reason,
        "failed_requirements": list(outcome.failed_ids) if outcome.status == "failed" else [],
        "failure": _evidence(outcome.evidence),
        "properties": dict(outcome.properties),
        "blocked_requirements": list(outcome.blocked_ids),
        "blocked_by": list(outcome.blocked_by),
    }


def to_json(summary: RunSummary) -> dict[str, Any]:
    catalogue = tines_spec.catalogue()
    document: dict[str, Any] = {
        "tool": {"name": "tines-conformance", "version": summary.tool_version},
        "spec_version": summary.spec_version,
        "versions": dict(summary.versions) or {"python": "unknown"},
        "run_id": summary.run_id,
        "target": {
            "name": summary.target_name,
            "base_url": summary.base_url,
            "profile": summary.profile_path,
        },
        "started_at": summary.started_at.isoformat(),
        "duration_seconds": round(summary.duration_seconds, 3),
        "levels": list(summary.levels),
        "seed": summary.seed,
        "retries": summary.retries,
        "outcome": summary.outcome,
        "requests_sent": summary.requests_sent,
        "command": summary.command,
        "notes": list(summary.notes),
        "requirements": [_requirement(r, catalogue) for r in summary.requirements],
        "checks": [_check(c) for c in summary.checks],
        "totals": summary.totals(),
        "root_causes": [
            {"cause": c.cause, "failed": list(c.failed), "blocked": list(c.blocked)}
            for c in summary.root_causes()
        ],
    }
    if summary.only:
        document["only"] = list(summary.only)
    return document


def check_document(document: dict[str, Any], where: str = SCHEMA) -> None:
    """Raise ValueError naming the field when the document does not match the report schema."""
    error = best_match(tines_spec.validator(SCHEMA).iter_errors(document))
    if error is not None:
        field = "/".join(map(str, error.absolute_path)) or "(root)"
        raise ValueError(f"{where}: {field}: {error.message}")


def redacted_document(summary: RunSummary, *, checked: bool = True) -> dict[str, Any]:
    """The summary as a document, every text in it redacted, checked against the schema unless
    `checked=False` (for a caller that checks what it makes of it: `write_document` does).

    An invalid summary is a bug of the suite, so it raises."""
    document: dict[str, Any] = json.loads(redact(json.dumps(to_json(summary), ensure_ascii=False)))
    if checked:
        check_document(document, f"the summary does not match {SCHEMA} at")
    return document


def write_document(document: dict[str, Any], path: Path) -> None:
    check_document(document, f"the summary does not match {SCHEMA} at")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = redact(json.dumps(document, indent=2, ensure_ascii=False))
    path.write_text(text + "\n", encoding="utf-8")


def write_summary_json(summary: RunSummary, path: Path) -> dict[str, Any]:
    """Validate, redact and write the summary; returns the document written."""
    document = redacted_document(summary, checked=False)  # write_document checks it
    write_document(document, path)
    return document
