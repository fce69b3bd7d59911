"""The final terminal table: each requirement, its status and why, failures first."""

from __future__ import annotations

import shutil

from conformance.redaction import redact
from conformance.reporting.outcomes import STATUSES, RunSummary


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render_table(summary: RunSummary, width: int | None = None) -> list[str]:
    width = width or shutil.get_terminal_size((120, 24)).columns
    id_width = max((len(r.id) for r in summary.requirements), default=2)
    status_width = max(len(s) for s in STATUSES)
    fixed = status_width + 1 + id_width + 1 + 6 + 1
    detail = max(20, width - fixed)
    # The causes first: one failure that blocked many requirements is said once, at the top.
    lines = [_clip(cause.headline(), width) for cause in summary.root_causes()]
    lines.append(
        f"{'status':<{status_width}} {'ID':<{id_width}} {'level':<6} title, or why it did not pass"
    )
    for r in summary.by_urgency():
        text = r.title if r.status == "passed" or not r.reason else r.reason
        lines.append(
            f"{r.status:<{status_width}} {r.id:<{id_width}} {r.level:<6} {_clip(text, detail)}"
        )
    totals = summary.totals()
    for level, counts in totals.items():
        lines.append(f"{level}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    lines.append(
        f"outcome: {summary.outcome} ({summary.requests_sent} requests, "
        f"{summary.duration_seconds:.1f} s, seed {summary.seed})"
    )
    return [redact(line) for line in lines]
