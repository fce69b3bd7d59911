"""From test results to a verdict per requirement: the one rule every reporter shows.

A requirement is
- `failed` when a test that covers it failed naming it (a `CheckFailure` names the requirements it
  breaks; any other error counts against every requirement of its test);
- `passed` when its tests ran and each passed (a test skipped for a profile reason beside a passing
  one does not change that);
- `skipped` when all its tests were skipped and the catalogue says what profile setting it
  `needs`: the reason is the skip's;
- `untested` otherwise: no check covers it, it is `not-black-box` (the reason is the catalogue's
  `why`), its tests were skipped without a profile reason, a test stopped at an earlier failure
  before reaching it, or the run was stopped before its tests ran.

A check that failed and then passed when run again (`--retries`) is `passed` and `flaky`: it
neither fails the run nor disappears, since every report shows the failed attempt's evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import tines_spec

__all__ = [
    "STATUSES",
    "CheckOutcome",
    "Evidence",
    "RequirementResult",
    "RunSummary",
    "judge",
    "judge_all",
    "run_outcome",
]

CheckStatus = Literal["passed", "failed", "skipped", "notrun"]
Status = Literal["passed", "failed", "skipped", "untested"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "skipped", "untested")
Outcome = Literal["passed", "failed", "interrupted"]


@dataclass(frozen=True)
class Evidence:
    """What a failed attempt of a check showed, every field already redacted."""

    check: str
    summary: str
    expected: str
    actual: str
    details: str
    curl: str | None
    reproduce: str


@dataclass
class CheckOutcome:
    nodeid: str
    requirement_ids: tuple[str, ...]
    status: CheckStatus = "notrun"
    reason: str | None = None
    failed_ids: tuple[str, ...] = ()
    attempts: int = 0
    duration_seconds: float = 0.0
    # The final failure's evidence, or for a check that passed on retry, the failed attempt's.
    evidence: Evidence | None = None
    # What the check recorded beside its verdict (pytest's record_property).
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def flaky(self) -> bool:
        return self.status == "passed" and self.evidence is not None


@dataclass(frozen=True)
class RequirementResult:
    id: str
    title: str
    level: str
    status: Status
    tests: tuple[str, ...]
    reason: str | None
    flaky: bool = False
    evidence: Evidence | None = None

    @property
    def area(self) -> str:
        return self.id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class RunSummary:
    tool_version: str
    spec_version: str
    run_id: str
    target_name: str | None
    base_url: str
    profile_path: str | None
    started_at: datetime
    duration_seconds: float
    levels: tuple[str, ...]
    seed: int | None
    outcome: Outcome
    requests_sent: int
    requirements: tuple[RequirementResult, ...]
    notes: tuple[str, ...] = field(default=())
    checks: tuple[CheckOutcome, ...] = ()
    retries: int = 0
    command: str = ""
    only: tuple[str, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()

    def totals(self) -> dict[str, dict[str, int]]:
        zero: dict[str, int] = dict.fromkeys(STATUSES, 0)
        counts = {level: dict(zero) for level in self.levels}
        for result in self.requirements:
            counts.setdefault(result.level, dict(zero))[result.status] += 1
        return counts

    def by_urgency(self) -> list[RequirementResult]:
        """Failures first, then untested, skipped, passed; catalogue order within each."""
        rank = {"failed": 0, "untested": 1, "skipped": 2, "passed": 3}
        return sorted(self.requirements, key=lambda r: rank[r.status])


def _first(outcomes: Sequence[CheckOutcome]) -> str:
    head = outcomes[0]
    more = f" (and {len(outcomes) - 1} more)" if len(outcomes) > 1 else ""
    return f"{head.nodeid}: {head.reason or head.status}{more}"


def judge(
    requirement: tines_spec.Requirement,
    outcomes: Sequence[CheckOutcome],
    stopped: str | None,
) -> RequirementResult:
    """The verdict for one requirement from the outcomes of the tests that cover it."""
    mine = [o for o in outcomes if requirement.id in o.requirement_ids]
    tests = tuple(o.nodeid for o in mine)

    def result(
        status: Status, reason: str | None, evidence: Evidence | None = None
    ) -> RequirementResult:
        return RequirementResult(
            requirement.id,
            requirement.title,
            requirement.level,
            status,
            tests,
            reason,
            flaky=any(o.flaky for o in mine) and status == "passed",
            evidence=evidence,
        )

    if requirement.verification == "not-black-box":
        return result("untested", " ".join((requirement.why or "not black-box").split()))
    failed = [o for o in mine if o.status == "failed" and requirement.id in o.failed_ids]
    if failed:
        return result("failed", _first(failed), failed[0].evidence)
    stopped_early = [o for o in mine if o.status == "failed"]
    passed = [o for o in mine if o.status == "passed"]
    skipped = [o for o in mine if o.status == "skipped"]
    not_run = [o for o in mine if o.status == "notrun"]
    if stopped_early:
        head = stopped_early[0]
        return result(
            "untested",
            f"{head.nodeid} stopped at a failure of {', '.join(head.failed_ids)} before "
            "checking it",
        )
    if not_run:
        return result("untested", f"not run: {stopped or 'the run ended before its checks'}")
    if passed:
        flaky = [o for o in passed if o.flaky]
        if flaky:
            head = flaky[0]
            first = head.evidence.summary if head.evidence else "failed"
            reason = f"{head.nodeid}: passed on retry; the first attempt: {first}"
            return result("passed", reason, head.evidence)
        return result("passed", None)
    if skipped:
        if requirement.needs:
            return result("skipped", _first(skipped))
        return result("untested", f"skipped without a profile reason: {_first(skipped)}")
    if stopped:
        return result("untested", f"not run: {stopped}")
    return result("untested", "no check covers it")


def judge_all(
    requirements: Iterable[tines_spec.Requirement],
    outcomes: Sequence[CheckOutcome],
    stopped: str | None,
) -> tuple[RequirementResult, ...]:
    return tuple(judge(r, outcomes, stopped) for r in requirements)


def run_outcome(
    results: Sequence[RequirementResult], outcomes: Sequence[CheckOutcome], stopped: str | None
) -> Outcome:
    if stopped:
        return "interrupted"
    if any(r.status == "failed" for r in results) or any(o.status == "failed" for o in outcomes):
        return "failed"
    return "passed"
