"""summary.json: the machine-readable result CI gates on, valid against report.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match

import tines_spec
from conformance.redaction import redact
from conformance.reporting.outcomes import RunSummary

SCHEMA = "report.schema.json"


def to_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "tool": {"name": "tines-conformance", "version": summary.tool_version},
        "spec_version": summary.spec_version,
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
        "outcome": summary.outcome,
        "requests_sent": summary.requests_sent,
        "requirements": [
            {
                "id": r.id,
                "title": r.title,
                "level": r.level,
                "status": r.status,
                "tests": list(r.tests),
                "reason": r.reason,
            }
            for r in summary.requirements
        ],
        "totals": summary.totals(),
    }


def write_summary_json(summary: RunSummary, path: Path) -> dict[str, Any]:
    """Validate, redact and write; an invalid summary is a bug of the suite, so it raises."""
    text = redact(json.dumps(to_json(summary), indent=2, ensure_ascii=False))
    document: dict[str, Any] = json.loads(text)
    error = best_match(tines_spec.validator(SCHEMA).iter_errors(document))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        raise ValueError(f"the summary does not match {SCHEMA} at {where}: {error.message}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return document
