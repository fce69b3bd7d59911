"""The final terminal table: each requirement, its status and why, failures first."""

from __future__ import annotations

import shutil
import textwrap

from conformance.redaction import redact
from conformance.reporting.outcomes import PRECONDITION, STATUSES, RunSummary, reason_alone


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), width, break_on_hyphens=False, break_long_words=False
    )


def render_table(summary: RunSummary, width: int | None = None) -> list[str]:
    width = width or shutil.get_terminal_size((120, 24)).columns
    id_width = max((len(r.id) for r in summary.requirements), default=2)
    status_width = max(len(s) for s in STATUSES)
    fixed = status_width + 1 + id_width + 1 + 6 + 1
    detail = max(20, width - fixed)
    # The causes first: one failure that blocked many requirements is said once, at the top.
    causes = summary.root_causes()
    lines = [
        line if number == 0 else "  " + line
        for cause in causes
        for number, line in enumerate(_wrap(cause.headline(), width - 2))
    ]
    # A requirement blocked by a cause said above points at it rather than say it again.
    said_above = {rid for cause in causes for rid in cause.blocked}
    lines.append(
        f"{'status':<{status_width}} {'ID':<{id_width}} {'level':<6} title, or why it did not pass"
    )
    for r in summary.by_urgency():
        head = f"{r.status:<{status_width}} {r.id:<{id_width}} {r.level:<6} "
        if r.status == "passed" or not r.reason:
            lines.append(head + _clip(r.title, detail))
            continue
        reason = r.reason
        if r.status == "blocked" and r.id in said_above:
            by = ", ".join(r.blocked_by) or PRECONDITION
            reason = f"blocked by {by} (the cause above)"
        # Why a requirement did not pass is wrapped, never cut: its end says why.
        wrapped = _wrap(reason, detail)
        lines.append(head + (wrapped[0] if wrapped else ""))
        lines.extend(" " * fixed + more for more in wrapped[1:])
    totals = summary.totals()
    for level, counts in totals.items():
        lines.append(f"{level}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    lines.append(
        f"outcome: {summary.outcome} ({summary.requests_sent} requests, "
        f"{summary.duration_seconds:.1f} s, seed {summary.seed})"
    )
    if summary.outcome == "incomplete":
        for why in _incomplete_because(summary):
            lines.extend(
                line if number == 0 else "  " + line
                for number, line in enumerate(_wrap(why, width - 2))
            )
    return [redact(line) for line in lines]


def _incomplete_because(summary: RunSummary) -> list[str]:
    """What kept a run with no failure from passing, grouped by reason, so that a run that is
    right but for a flag it was not given (the limit test's) says which flag."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    for r in summary.requirements:
        if r.status in ("skipped", "untested"):
            reason = reason_alone(r) or "no reason given"
            by_reason.setdefault((r.status, reason), []).append(r.id)
    lines = [
        f"incomplete: {len(ids)} {status} ({', '.join(ids)}): {reason}"
        for (status, reason), ids in by_reason.items()
    ]
    if summary.only:
        lines.append("incomplete: the run was limited with --only, so it cannot pass")
    return lines
