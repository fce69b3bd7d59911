"""`conformance gate`: the CI verdict on a finished run, from its summary.json and known deviations.

The run's own exit code says whether the target met every requirement; the gate says whether the
pipeline may go on. They differ on purpose, and only where a person decided they should:

- Silence is not conformance. At a gated level a requirement that failed, that was blocked by
  another's failure, that no check covered (`untested`) or whose check was skipped blocks the
  gate, and gating a level the run did not include is a usage error, not a pass. A requirement
  no HTTP exchange can show (`not-observable`) does not block it: no run could ever pass it.
- Without an expectations file, at the levels the run included, the gate's verdict is the run's
  own outcome (`conformance run` exits 0 exactly when this gate passes).
- An unexpired expectation excuses its requirement but keeps it in the log, with its reason.
- An expectation outlives neither its fix nor its date: one whose requirement now passes is
  reported so the file gets cleaned, and one whose date has passed blocks the gate again, even
  if its requirement passes now, so that every entry is reviewed when it said it would be.
- A flaky pass counts as a pass, listed with the failure of its first attempt.
- An interrupted run blocks the gate: what it did not reach was never checked, and so does every
  requirement a run limited with `--only` left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import tines_spec
from conformance.errors import UsageError
from conformance.expectations import Expectation
from conformance.redaction import redact
from conformance.reporting.outcomes import NOT_PASSING

__all__ = ["Blocker", "GateResult", "evaluate", "render_gate"]

BLOCKING_STATUSES = NOT_PASSING


@dataclass(frozen=True)
class Blocker:
    id: str
    level: str
    status: str
    reason: str


@dataclass(frozen=True)
class GateResult:
    levels: tuple[str, ...]
    interrupted: bool
    blocking: tuple[Blocker, ...]
    expected: tuple[Expectation, ...]
    flaky: tuple[tuple[str, str], ...]
    """(requirement ID, the failure of its first attempt)"""
    now_passing: tuple[Expectation, ...]
    expired: tuple[Expectation, ...]
    not_in_run: tuple[Expectation, ...]
    expectations_file: str | None = None

    @property
    def passed(self) -> bool:
        return not self.interrupted and not self.blocking

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()) or "(no reason given)"


def gated_levels(document: Mapping[str, Any], levels: tuple[str, ...] | None) -> tuple[str, ...]:
    """The levels to gate on, in the catalogue's order; a level the run skipped is an error."""
    ran = tuple(document["levels"])
    if levels is None:
        return tuple(level for level in tines_spec.LEVELS if level in ran)
    missing = [level for level in levels if level not in ran]
    if missing:
        raise UsageError(
            f"--levels: the run did not include {', '.join(missing)} (it ran at "
            f"{', '.join(ran)}); a level that was not run cannot pass the gate: include it "
            f"with `conformance run --levels {','.join(levels).lower()}`"
        )
    return tuple(level for level in tines_spec.LEVELS if level in levels)


def _left_out(document: Mapping[str, Any], gated: tuple[str, ...]) -> list[dict[str, Any]]:
    """The requirements at the gated levels that a run limited with `--only` never looked at, as
    `untested`: a run of one requirement must not pass a gate on all of them."""
    only = document.get("only")
    catalogue = tines_spec.catalogue()
    if not only or document["spec_version"] != catalogue.spec_version:
        return []
    present = {requirement["id"] for requirement in document["requirements"]}
    reason = f"not in this run: it was limited to {', '.join(only)} with --only"
    return [
        {"id": r.id, "level": r.level, "status": "untested", "flaky": False, "reason": reason}
        for r in catalogue.at_levels(gated)
        if r.id not in present
    ]


def evaluate(
    document: Mapping[str, Any],
    *,
    levels: tuple[str, ...] | None,
    expectations: Iterable[Expectation],
    today: date,
    expectations_file: str | None = None,
) -> GateResult:
    """Apply the gate's rules (module docstring) to a validated summary document."""
    gated = gated_levels(document, levels)
    by_id = {e.id: e for e in expectations}
    blocking: list[Blocker] = []
    expected: list[Expectation] = []
    flaky: list[tuple[str, str]] = []
    now_passing: list[Expectation] = []
    expired: list[Expectation] = []
    matched: set[str] = set()
    for requirement in [*document["requirements"], *_left_out(document, gated)]:
        if requirement["level"] not in gated:
            continue
        rid, status = requirement["id"], requirement["status"]
        expectation = by_id.get(rid)
        if expectation is not None:
            matched.add(rid)
        if status == "passed" and requirement["flaky"]:
            flaky.append((rid, _one_line(requirement["reason"])))
        if expectation is not None and expectation.expired(today):
            expired.append(expectation)
            reason = (
                "passes now, but its expectation expired: remove the entry"
                if status == "passed"
                else _one_line(requirement["reason"])
            )
            assert expectation.expires is not None
            blocking.append(
                Blocker(
                    rid,
                    requirement["level"],
                    status,
                    f"{reason} (its expectation expired on {expectation.expires.isoformat()})",
                )
            )
        elif status in BLOCKING_STATUSES:
            if expectation is not None:
                expected.append(expectation)
            else:
                blocking.append(
                    Blocker(rid, requirement["level"], status, _one_line(requirement["reason"]))
                )
        elif expectation is not None:
            now_passing.append(expectation)
    # MUST before SHOULD; within a level, failures first, then silence; an expired entry whose
    # requirement passes (the only blocker that passed) last.
    order: tuple[str, ...] = (*BLOCKING_STATUSES, "not-observable", "passed")
    rank = {status: i for i, status in enumerate(order)}
    blocking.sort(key=lambda b: (tines_spec.LEVELS.index(b.level), rank[b.status]))
    return GateResult(
        levels=gated,
        interrupted=document["outcome"] == "interrupted",
        blocking=tuple(blocking),
        expected=tuple(expected),
        flaky=tuple(flaky),
        now_passing=tuple(now_passing),
        expired=tuple(expired),
        not_in_run=tuple(e for e in by_id.values() if e.id not in matched),
        expectations_file=expectations_file,
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _verdict(result: GateResult) -> str:
    at = ", ".join(result.levels)
    blockers = f"{_plural(len(result.blocking), 'requirement')} at {at} block it"
    if result.interrupted:
        partial = "gate: failed: the run was interrupted, so its results are partial"
        return f"{partial}; {blockers}" if result.blocking else partial
    if result.blocking:
        return f"gate: failed: {blockers}"
    return f"gate: passed at {at}"


def render_gate(result: GateResult) -> list[str]:
    """The verdict, then one line per blocking requirement, then what the gate let through.

    Plain lines, one fact each, with a fixed word before the first colon, for CI logs and grep.
    """
    file = result.expectations_file or "the expectations file"
    lines = [_verdict(result)]
    lines += [f"blocking: {b.id} ({b.level}, {b.status}): {b.reason}" for b in result.blocking]
    for e in result.expected:
        until = f"until {e.expires.isoformat()}" if e.expires else "no end date"
        lines.append(f"expected: {e.id}: {e.reason} ({until})")
    lines += [
        f"flaky: {rid}: passed on a later attempt; the first failed: {why}"
        for rid, why in result.flaky
    ]
    lines += [f"now passing, remove it from {file}: {e.id}" for e in result.now_passing]
    for e in result.expired:
        assert e.expires is not None
        lines.append(f"expired: {e.id}: {e.reason} (expired on {e.expires.isoformat()})")
    at = ", ".join(result.levels)
    lines += [
        f"warning: {file} lists {e.id}, which this run has no result for at {at}"
        for e in result.not_in_run
    ]
    return [redact(line) for line in lines]
