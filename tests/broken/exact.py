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
    "WH-CONV-002:convention_body_not_unwrapped": (
        ("WH-CONV-007",),
        "the whole payload sent as the body carries its other keys into the response too",
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
    "WH-TIME-003:timeout_body_relative_url": (
        ("WH-RURL-002",),
        "the header's absolute URL and the body's relative one are no longer equal",
    ),
    "STORY-DRAFT-001:draft_id_ignored": (
        ("STORY-PARAM-001",),
        "a parameter that is dropped is never rejected: an invalid draft_id is answered 200",
    ),
    "STORY-MODE-001:story_mode_ignored": (
        ("STORY-PARAM-001",),
        "a parameter that is dropped is never rejected: an invalid story_mode is answered 200",
    ),
    "WH-RURL-003:pending_answered_200": (
        ("WH-RURL-001",),
        "the early 200 is taken as the data: the URL answers a body that is not the payload",
    ),
}


# A defect that, over HTTP, is another requirement's failure: its own requirement is blocked.
FAILS_INSTEAD: Mapping[str, tuple[tuple[str, ...], str]] = {
    "WH-RURL-002:response_location_missing_on_timeout": (
        ("WH-META-010",),
        "a 504 without X-Tines-Response-Location fails WH-META-010; the equality WH-RURL-002 "
        "compares is then blocked by it",
    ),
}

# Wrong blames the suite still makes: a test fails on any other, and `precision.py` counts
# these as what they are.
KNOWN_WRONG: Mapping[str, tuple[str, ...]] = {
    # Every body wrapped, the convention's too: the checks of the convention and of the content
    # types compare bodies and cannot tell the wrapping from their own rule's failure.
    "WH-BODY-001:body_wrapped_in_data": (
        "WH-BODY-003",
        "WH-CONV-002",
        "WH-CONV-004",
        "WH-CONV-007",
        "WH-CT-001",
        "WH-CT-005",
        "WH-CT-006",
    ),
    # Every probe answered 404: a convention check sent a status of its own and cannot tell a
    # webhook that started no run from a status line that ignores the convention.
    "WH-ENTRY-001:probe_not_found": (
        "WH-CONV-001",
        "WH-CONV-003",
        "WH-CONV-005",
        "WH-CONV-007",
        "WH-CT-001",
        "WH-CT-002",
        "WH-CT-004",
        "WH-CT-005",
        "WH-CT-006",
        "WH-CT-007",
    ),
}


def expected_failures(variant_name: str, requirement_id: str) -> set[str]:
    """What the variant breaks, as the suite must report it."""
    if variant_name in FAILS_INSTEAD:
        return set(FAILS_INSTEAD[variant_name][0])
    extra = ALSO_FAILS.get(variant_name, ((), ""))[0]
    return {requirement_id, *extra}


def tolerated_failures(variant_name: str, requirement_id: str) -> set[str]:
    """What the tests accept: the expected failures and the known wrong blames."""
    return expected_failures(variant_name, requirement_id) | set(KNOWN_WRONG.get(variant_name, ()))


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
    missed: tuple[tuple[str, str], ...] = ()
    """(variant, its requirement's status) for each variant whose requirement did not fail."""

    def lines(self) -> list[str]:
        lines = [
            f"broken variants: {self.variants}",
            f"caught (their own requirement failed): {self.caught}",
            f"blaming exactly their own requirement(s): {self.exact}",
            f"wrong blames in all: {self.wrong_blames}",
        ]
        lines += [f"  {name}: also failed {', '.join(ids)}" for name, ids in self.wrong]
        lines += [f"  {name}: not caught ({status})" for name, status in self.missed]
        return lines


def precision(results: Iterable[tuple[str, str, Mapping[str, Any] | None]]) -> Precision:
    """From (variant name, its requirement, its run's summary) for every variant."""
    variants = caught = exact = wrong_total = 0
    wrong: list[tuple[str, tuple[str, ...]]] = []
    missed: list[tuple[str, str]] = []
    for name, requirement_id, summary in results:
        variants += 1
        failed = failed_set(summary)
        expected = expected_failures(name, requirement_id)
        found = requirement_id in failed or (name in FAILS_INSTEAD and failed >= expected)
        caught += found
        if not found:
            missed.append((name, statuses(summary).get(requirement_id, "no summary")))
        extra = tuple(sorted(failed - expected))
        exact += found and not extra
        wrong_total += len(extra)
        if extra:
            wrong.append((name, extra))
    return Precision(variants, caught, exact, wrong_total, tuple(wrong), tuple(missed))
