"""From what a check raised to a verdict per requirement of that check.

A check's marker names the requirements it covers; what it raised says, for each of them,
whether it failed (a `CheckFailure` naming it), was blocked by another requirement's failure (a
precondition failed: `CheckFailure.precondition`, or a `Blocked`), or saw no evidence
(`NoEvidence`). A requirement of a failed check that the failure neither names nor blocks was
simply not reached. The plugin calls `judge_attempt` on every failed or skipped attempt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from conformance.result import Blocked, CheckFailure, NoEvidence, covered

__all__ = ["AttemptVerdicts", "covering", "judge_attempt"]


@dataclass(frozen=True)
class AttemptVerdicts:
    """One attempt's verdicts on the requirements of its check (those not listed passed, if the
    check ended, or were not reached)."""

    failed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    unobserved: tuple[str, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    """A one-line reason per requirement, where it is not the check's own."""


@contextmanager
def covering(requirement_ids: Sequence[str]) -> Iterator[None]:
    """While a check runs: the requirements it covers, for `verify.precondition` to read."""
    token = covered.set(tuple(requirement_ids))
    try:
        yield
    finally:
        covered.reset(token)


def _ordered(ids: Sequence[str], among: Sequence[str]) -> tuple[str, ...]:
    return tuple(rid for rid in among if rid in ids)


def judge_attempt(errors: Sequence[BaseException], test_ids: Sequence[str]) -> AttemptVerdicts:
    """The verdicts of the check's requirements from the leaves of what it raised (hypothesis
    may report several failures at once). Anything but the suite's own exceptions counts against
    every requirement of the check."""
    failed: list[str] = []
    blocked: list[str] = []
    blocked_by: list[str] = []
    unobserved: list[str] = []
    reasons: dict[str, str] = {}
    for error in errors:
        if isinstance(error, CheckFailure):
            named = [rid for rid in error.requirement_ids if rid in test_ids]
            for rid in named:
                failed.append(rid)
                reasons.setdefault(rid, error.reason_for(rid))
            if error.precondition or not named:  # a failure of what the check relies on
                targets = error.blocks if error.blocks is not None else tuple(test_ids)
                blocked += [rid for rid in targets if rid in test_ids and rid not in named]
                blocked_by += error.requirement_ids
                for rid in targets:
                    reasons.setdefault(rid, f"blocked by {_root(error)}")
        elif isinstance(error, Blocked):
            targets = (
                error.requirement_ids if error.requirement_ids is not None else tuple(test_ids)
            )
            blocked += [rid for rid in targets if rid in test_ids]
            blocked_by += error.because_of
            for rid in targets:
                reasons.setdefault(rid, error.summary)
        elif isinstance(error, NoEvidence):
            targets = (
                error.requirement_ids if error.requirement_ids is not None else tuple(test_ids)
            )
            unobserved += [rid for rid in targets if rid in test_ids]
            for rid in targets:
                reasons.setdefault(rid, f"no evidence: {error.reason}")
        else:
            failed += list(test_ids)
    failed_ids = _ordered(failed, test_ids)
    blocked_ids = tuple(rid for rid in _ordered(blocked, test_ids) if rid not in failed_ids)
    return AttemptVerdicts(
        failed=failed_ids,
        blocked=blocked_ids,
        blocked_by=tuple(dict.fromkeys(blocked_by)),
        unobserved=tuple(
            rid for rid in _ordered(unobserved, test_ids) if rid not in (*failed_ids, *blocked_ids)
        ),
        reasons=reasons,
    )


def _root(failure: CheckFailure) -> str:
    return f"{', '.join(failure.requirement_ids)}: {failure.reason}"
