"""What each broken variant's run covers, and the exact set of requirements it must fail.

A variant is run with every requirement of its group (not `--only` its own), so that a check of
another requirement that wrongly blames it shows up: the webhook's fast checks, the exit
timeout's (their probes wait in the background), the concurrency limit's, and the Stories API's.
The run must fail the variant's own requirement and nothing else, except where `ALSO_FAILS` says
why the one defect really breaks a second rule too. A requirement of the group may be blocked
(its check needed what the defect took away) or untested; it may never be failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import tines_spec

# Requirements whose checks read the timeout probe's run (the long waits).
_SLOW_WEBHOOK = {"WH-META-003", "WH-META-008", "WH-META-010"}


def group_of(requirement_id: str) -> str:
    if requirement_id.startswith("STORY-"):
        return "stories"
    if requirement_id.startswith("WH-CONC-"):
        return "limits"
    if requirement_id.startswith(("WH-TIME-", "WH-RURL-")) or requirement_id in _SLOW_WEBHOOK:
        return "timeouts"
    return "webhook"


def group_ids(group: str) -> tuple[str, ...]:
    """The black-box requirements of a group, in catalogue order."""
    return tuple(
        r.id
        for r in tines_spec.catalogue().requirements
        if r.verification == "black-box" and group_of(r.id) == group
    )


# One defect that breaks a second rule as well, by variant name, with the reason.
ALSO_FAILS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "WH-META-004:error_below_400": (
        ("WH-META-002",),
        "the answers that carry the data say `error`, not `data_received`",
    ),
    "WH-META-005:undocumented_status_value": (
        ("WH-META-002",),
        "the answers that carry the data say `received`, not `data_received`",
    ),
    "WH-CONV-001:convention_status_ignored": (
        ("WH-CONV-003",),
        "a numeric-string status is a status too: ignoring every status ignores it",
    ),
    "WH-CT-002:csv_ignored": (
        ("WH-CT-006",),
        "with Accept: text/csv ignored, a q-value that ranks CSV first is ignored too",
    ),
    "WH-RURL-001:response_url_never_delivers": (
        ("WH-TIME-004",),
        "a run whose data never appears at its response URL is, over HTTP, a run that stopped",
    ),
    "WH-TIME-004:run_abandoned_at_timeout": (
        ("WH-RURL-001",),
        "a run that stopped never delivers its payload at its response URL",
    ),
    "WH-RURL-003:pending_answered_200": (
        ("WH-RURL-001",),
        "the early 200 is taken as the data: the URL answers a body that is not the payload",
    ),
}


def expected_failures(variant_name: str, requirement_id: str) -> set[str]:
    extra = ALSO_FAILS.get(variant_name, ((), ""))[0]
    return {requirement_id, *extra}


def statuses(summary: Mapping[str, Any] | None) -> dict[str, str]:
    if summary is None:
        return {}
    return {entry["id"]: entry["status"] for entry in summary.get("requirements", [])}


def failed_set(summary: Mapping[str, Any] | None) -> set[str]:
    return {rid for rid, status in statuses(summary).items() if status == "failed"}


@dataclass(frozen=True)
class Precision:
    """How precisely the suite blamed the broken variants."""

    variants: int
    caught: int
    """The variant's own requirement failed."""
    exact: int
    """It failed, and nothing else did (beyond `ALSO_FAILS`)."""
    wrong_blames: int
    """Requirements failed that the variant does not break, summed over the variants."""
    wrong: tuple[tuple[str, tuple[str, ...]], ...]

    def lines(self) -> list[str]:
        lines = [
            f"broken variants: {self.variants}",
            f"caught (their own requirement failed): {self.caught}",
            f"blaming exactly their own requirement(s): {self.exact}",
            f"wrong blames in all: {self.wrong_blames}",
        ]
        lines += [f"  {name}: also failed {', '.join(ids)}" for name, ids in self.wrong]
        return lines


def precision(results: Iterable[tuple[str, str, Mapping[str, Any] | None]]) -> Precision:
    """From (variant name, its requirement, its run's summary) for every variant."""
    variants = caught = exact = wrong_total = 0
    wrong: list[tuple[str, tuple[str, ...]]] = []
    for name, requirement_id, summary in results:
        variants += 1
        failed = failed_set(summary)
        expected = expected_failures(name, requirement_id)
        caught += requirement_id in failed
        extra = tuple(sorted(failed - expected))
        exact += requirement_id in failed and not extra
        wrong_total += len(extra)
        if extra:
            wrong.append((name, extra))
    return Precision(variants, caught, exact, wrong_total, tuple(wrong))
