"""From test results to a verdict per requirement: the one rule every reporter shows.

A requirement is
- `failed` when a test that covers it failed naming it (a `CheckFailure` names the requirements it
  breaks; any other error counts against every requirement of its test);
- `blocked` when a test that covers it could not judge it because a precondition failed: the
  answer it needed was missing or unreadable because another requirement failed (`blocked_by`
  names them, and the reason says how);
- `not-observable` when the catalogue says no HTTP exchange can show it (`not-black-box`); a check
  of a necessary condition may still fail it, but never passes it;
- `passed` when its tests ran and each passed (a test skipped for a profile reason beside a passing
  one does not change that);
- `skipped` when all its tests were skipped and the catalogue says what profile setting it
  `needs`: the reason is the skip's;
- `untested` otherwise: no check covers it, it is `not-black-box` (the reason is the catalogue's
  its tests were skipped without a profile reason, a test stopped at an earlier failure before
  reaching it, a test saw no answer its rule applies to (`NoEvidence`), or the run was stopped
  before its tests ran.

The run's outcome is `passed` only when every requirement passed or is not observable; a failed
or blocked one makes it `failed`, and a skipped or untested one `incomplete` (the same rule as
`conformance gate` without an expectations file, so the two never disagree).

A check that failed and then passed when run again (`--retries`) is `passed` and `flaky`: it
neither fails the run nor disappears, since every report shows the failed attempt's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import tines_spec

if TYPE_CHECKING:
    from conformance.verdicts import AttemptVerdicts

__all__ = [
    "NOT_PASSING",
    "STATUSES",
    "URGENCY",
    "CheckOutcome",
    "Evidence",
    "RequirementResult",
    "RootCause",
    "RunSummary",
    "judge",
    "judge_all",
    "root_causes",
    "run_outcome",
]

CheckStatus = Literal["passed", "failed", "blocked", "skipped", "notrun"]
Status = Literal["passed", "failed", "blocked", "skipped", "untested", "not-observable"]
STATUSES: tuple[Status, ...] = (
    "passed",
    "failed",
    "blocked",
    "skipped",
    "untested",
    "not-observable",
)
# The statuses that keep a run (and the gate) from passing; not-observable does not.
NOT_PASSING: tuple[Status, ...] = ("failed", "blocked", "untested", "skipped")
Outcome = Literal["passed", "failed", "incomplete", "interrupted"]


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
    # Requirements of the check it could not judge, and the requirements whose failure did it.
    blocked_ids: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    # Requirements of the check it saw no evidence for.
    unobserved_ids: tuple[str, ...] = ()
    # One line per requirement, where it differs from the check's reason.
    reasons: dict[str, str] = field(default_factory=dict)

    def take(self, verdicts: AttemptVerdicts | None) -> None:
        """An attempt's per-requirement verdicts (the final attempt's replace any before)."""
        if verdicts is None:
            return
        self.blocked_ids, self.blocked_by = verdicts.blocked, verdicts.blocked_by
        self.unobserved_ids, self.reasons = verdicts.unobserved, dict(verdicts.reasons)
        if self.status == "failed" and verdicts.failed:
            self.failed_ids = verdicts.failed
        elif self.status in ("failed", "skipped") and verdicts.blocked:
            self.status, self.failed_ids = "blocked", ()

    def reason_for(self, requirement_id: str) -> str:
        return self.reasons.get(requirement_id) or self.reason or self.status

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
    blocked_by: tuple[str, ...] = ()
    observable: bool = True

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
        """Failures first, then blocked, untested, skipped, not observable, passed; catalogue
        order within each."""
        rank = {status: n for n, status in enumerate(URGENCY)}
        return sorted(self.requirements, key=lambda r: rank[r.status])

    def root_causes(self) -> list[RootCause]:
        return root_causes(self.requirements)


# What blocked a check when no requirement failed first: the run's own set-up, say.
PRECONDITION = "a failed precondition"

URGENCY: tuple[Status, ...] = (
    "failed",
    "blocked",
    "untested",
    "skipped",
    "not-observable",
    "passed",
)


@dataclass(frozen=True)
class RootCause:
    """A failure other verdicts follow from: the requirements it failed and those it blocked."""

    cause: str
    failed: tuple[str, ...]
    blocked: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.failed) + len(self.blocked)

    def headline(self) -> str:
        count = len(self.blocked)
        noun = "requirement" if count == 1 else "requirements"
        return f"{count} {noun} blocked by one cause: {self.cause}"


def root_causes(results: Sequence[RequirementResult]) -> list[RootCause]:
    """Blocked requirements grouped by the failures that blocked them, largest group first.

    The cause is told by the root requirements' own verdicts when the run has them (their
    reason), else by the blocked requirement's reason."""
    by_id = {r.id: r for r in results}
    # Grouped by the requirements that blocked them, or, for a precondition (no requirement
    # named), by what failed: two broken parts of a set-up are two causes, not one.
    groups: dict[tuple[tuple[str, ...], str], list[RequirementResult]] = {}
    for result in results:
        if result.status == "blocked":
            what = "" if result.blocked_by else _precondition(result.reason or "")
            groups.setdefault((result.blocked_by, what), []).append(result)
    causes: list[RootCause] = []
    for (roots, what), blocked in groups.items():
        failed = tuple(rid for rid in roots if rid in by_id and by_id[rid].status == "failed")
        if failed:
            head = by_id[failed[0]]
            cause = f"{head.id} failed: {head.reason}"
        else:
            cause = what or _precondition(blocked[0].reason or "") or f"{', '.join(roots)} failed"
        causes.append(RootCause(cause, failed, tuple(r.id for r in blocked)))
    return sorted(causes, key=lambda c: -c.size)


def _precondition(reason: str) -> str:
    """ "<check>: blocked by a failed precondition: <what failed>": the cause is the last part,
    said once, not as one check's verdict (the whole reason where it is not of that form)."""
    _, by_precondition, what = reason.partition(f"blocked by {PRECONDITION}: ")
    # `_first` counts the other checks at the end: not part of what failed.
    return _MORE.sub("", what) if by_precondition else reason


_MORE = re.compile(r" \(and \d+ more\)$")


def reason_alone(result: RequirementResult) -> str:
    """A verdict's reason without the check it came from (`_first` puts the node ID before it
    and counts the other checks after it), so that requirements of several checks that share a
    reason can be said together."""
    reason = result.reason or ""
    for test in result.tests:
        reason = reason.removeprefix(f"{test}: ")
    return _MORE.sub("", reason)


def _first(outcomes: Sequence[CheckOutcome], requirement_id: str | None = None) -> str:
    head = outcomes[0]
    more = f" (and {len(outcomes) - 1} more)" if len(outcomes) > 1 else ""
    said = head.reason_for(requirement_id) if requirement_id else head.reason or head.status
    return f"{head.nodeid}: {said}{more}"


def judge(
    requirement: tines_spec.Requirement,
    outcomes: Sequence[CheckOutcome],
    stopped: str | None,
) -> RequirementResult:
    """The verdict for one requirement from the outcomes of the tests that cover it."""
    mine = [o for o in outcomes if requirement.id in o.requirement_ids]
    tests = tuple(o.nodeid for o in mine)
    observable = requirement.verification != "not-black-box"

    def result(
        status: Status,
        reason: str | None,
        evidence: Evidence | None = None,
        blocked_by: tuple[str, ...] = (),
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
            blocked_by=blocked_by,
            observable=observable,
        )

    rid = requirement.id
    failed = [o for o in mine if o.status == "failed" and rid in o.failed_ids]
    if failed:
        return result("failed", _first(failed, rid), failed[0].evidence)
    blocked = [o for o in mine if rid in o.blocked_ids]
    if blocked:
        roots = tuple(dict.fromkeys(r for o in blocked for r in o.blocked_by))
        return result("blocked", _first(blocked, rid), blocked[0].evidence, roots)
    if not observable:
        return result("not-observable", _not_observable(requirement, mine))
    stopped_early = [o for o in mine if o.status in ("failed", "blocked")]
    passed = [o for o in mine if o.status == "passed"]
    skipped = [o for o in mine if o.status == "skipped"]
    unobserved = [o for o in mine if rid in o.unobserved_ids]
    not_run = [o for o in mine if o.status == "notrun"]
    if stopped_early:
        head = stopped_early[0]
        because = ", ".join(head.failed_ids or head.blocked_by)
        return result(
            "untested", f"{head.nodeid} stopped at a failure of {because} before checking it"
        )
    if not_run:
        return result("untested", f"not run: {stopped or 'the run ended before its checks'}")
    if unobserved and not passed:
        return result("untested", _first(unobserved, rid))
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
            return result("skipped", _first(skipped, rid))
        return result("untested", f"skipped without a profile reason: {_first(skipped, rid)}")
    if stopped:
        return result("untested", f"not run: {stopped}")
    return result("untested", "no check covers it")


def _not_observable(requirement: tines_spec.Requirement, mine: Sequence[CheckOutcome]) -> str:
    why = " ".join((requirement.why or "no HTTP exchange can show it").split())
    instead = " ".join((requirement.checked_instead or "").split())
    if not instead:
        return why
    held = [o for o in mine if o.status == "passed"]
    said = "it held" if held else "it was not checked in this run"
    return f"{why} Checked instead, a necessary condition: {instead} ({said})."


def judge_all(
    requirements: Iterable[tines_spec.Requirement],
    outcomes: Sequence[CheckOutcome],
    stopped: str | None,
) -> tuple[RequirementResult, ...]:
    return tuple(judge(r, outcomes, stopped) for r in requirements)


def run_outcome(
    results: Sequence[RequirementResult],
    outcomes: Sequence[CheckOutcome],
    stopped: str | None,
    *,
    limited: bool = False,
) -> Outcome:
    """`limited`: the run was limited with --only to part of its levels, so it cannot pass (the
    gate counts what it left out as untested)."""
    if stopped:
        return "interrupted"
    failing = any(r.status in ("failed", "blocked") for r in results)
    if failing or any(o.status == "failed" for o in outcomes):
        return "failed"
    if limited or any(r.status in NOT_PASSING for r in results):
        return "incomplete"
    return "passed"
