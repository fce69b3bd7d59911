"""Attempts and evidence: what a check's reports say about its requirements.

`makereport` reads a failed phase into an `AttemptFailure` (the reason, the requirements it names,
its evidence); `logreport` counts each report toward the check's `CheckOutcome` once it knows
whether the attempt is final or pytest-rerunfailures will run it again. Every report is redacted
first, so that JUnit XML and Allure see only the redacted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conformance.background import ProbeCancelled
from conformance.redaction import redact
from conformance.reporting.outcomes import Evidence
from conformance.result import Blocked, CheckFailure, NoEvidence
from conformance.run_state import RunState
from conformance.verdicts import AttemptVerdicts, judge_attempt

_DETAILS_LIMIT = 20_000


@dataclass(frozen=True)
class AttemptFailure:
    """What `makereport` read off a failed phase, for `logreport` to count once it knows whether
    the attempt is final or will be run again."""

    reason: str
    failed_ids: tuple[str, ...]
    evidence: Evidence | None
    stopped: bool = False
    verdicts: AttemptVerdicts | None = None


_ATTEMPT = "conformance_attempt"
# The properties the plugin itself puts on every check; the summary carries them per requirement.
_OWN_PROPERTIES = frozenset({"requirement", "level", "sentence"})


def read_attempt(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, state: RunState
) -> None:
    """Keep a failed phase's reason and evidence on its report, for `count_report`."""
    outcome = state.outcomes[item.nodeid]
    error = call.excinfo.value if call.excinfo is not None else None
    if report.skipped and isinstance(error, Blocked | NoEvidence):
        verdicts = judge_attempt([error], outcome.requirement_ids)
        reason = error.summary if isinstance(error, Blocked) else f"no evidence: {error.reason}"
        setattr(report, _ATTEMPT, AttemptFailure(reason, (), None, verdicts=verdicts))
    if report.failed:
        if isinstance(error, ProbeCancelled) and state.stopped:
            setattr(report, _ATTEMPT, AttemptFailure(state.stopped, (), None, stopped=True))
            return
        reason, failed_ids, evidence, verdicts = _failure(
            error,
            outcome.requirement_ids,
            report,
            check=item.nodeid,
            reproduce=state.options.reproduction,
        )
        setattr(report, _ATTEMPT, AttemptFailure(reason, failed_ids, evidence, verdicts=verdicts))
        report.sections.append(("conformance", f"hypothesis seed: {state.seed}"))
        report.sections.append(("reproduce", evidence.reproduce))


def count_report(report: pytest.TestReport, state: RunState) -> None:
    """Count the report toward its check's outcome. A failed attempt that pytest-rerunfailures
    will run again arrives as `rerun`: its evidence is kept, in case the retry passes (flaky)."""
    outcome = state.outcomes.get(report.nodeid)
    if outcome is None:
        return
    outcome.duration_seconds += report.duration
    for name, value in report.user_properties:
        if name not in _OWN_PROPERTIES:
            outcome.properties[str(name)] = redact(str(value))
    outcome.attempts = max(outcome.attempts, int(getattr(report, "rerun", 0) or 0) + 1)
    attempt: AttemptFailure | None = getattr(report, _ATTEMPT, None)
    if str(report.outcome) == "rerun":  # pytest-rerunfailures' own outcome, beside pytest's
        if attempt is not None and outcome.evidence is None:
            outcome.evidence = attempt.evidence
        return
    if report.failed:
        if attempt is not None and attempt.stopped:
            outcome.status, outcome.reason = "notrun", attempt.reason
            return
        outcome.status = "failed"
        if attempt is not None:
            outcome.reason, outcome.failed_ids = attempt.reason, attempt.failed_ids
            outcome.evidence = attempt.evidence
            outcome.take(attempt.verdicts)
        else:  # a failure no makereport of ours saw: count it against every requirement
            outcome.reason = redact(report.longreprtext.strip().splitlines()[-1][:300])
            outcome.failed_ids = outcome.requirement_ids
    elif report.skipped and outcome.status != "failed":
        outcome.status = "skipped"
        outcome.reason = _skip_reason(report)
        if attempt is not None and attempt.verdicts is not None:
            outcome.reason = attempt.reason
            outcome.take(attempt.verdicts)
    elif report.passed and report.when == "call" and outcome.status == "notrun":
        outcome.status = "passed"


def _failure(
    error: BaseException | None,
    test_ids: tuple[str, ...],
    report: pytest.TestReport,
    *,
    check: str,
    reproduce: Callable[[tuple[str, ...]], str],
) -> tuple[str, tuple[str, ...], Evidence, AttemptVerdicts]:
    """The one-line reason, the requirements a failure names, and its evidence.

    Hypothesis reports several distinct failures as an exception group: the check failures in it
    are taken one by one, so that each requirement they name is failed with its own reason.
    """
    leaves = _leaves(error) if error is not None else []
    failures = [leaf for leaf in leaves if isinstance(leaf, CheckFailure)]
    # Per requirement of the check: failed, blocked by a failed precondition, or unreached
    # (`conformance.verdicts`); an error beside the failures counts against them all.
    verdicts = judge_attempt(leaves or [AssertionError()], test_ids)
    if failures:
        more = f" (and {len(leaves) - 1} more failures)" if len(leaves) > 1 else ""
        reason = redact(failures[0].reason + more)
        failed_ids = verdicts.failed or (() if verdicts.blocked else test_ids)
        head = failures[0]
        exchange = head.exchange or next(iter(head.extra_exchanges), None)
        details = "\n\n".join(f.render() for f in failures)
        expected, actual = head.expected, head.actual
        curl = exchange.curl() if exchange is not None else None
    else:
        if error is None:
            reason = redact(report.longreprtext.strip().splitlines()[-1:][0][:300])
        else:
            message = " ".join(str(error).split())
            where = "" if report.when == "call" else f" (in {report.when})"
            reason = redact(f"{type(error).__name__}{where}: {message}"[:300])
        failed_ids = test_ids
        expected = "the check to run to its end"
        actual = reason
        details = report.longreprtext
        curl = None
    if len(details) > _DETAILS_LIMIT:
        details = details[:_DETAILS_LIMIT] + f"\n... ({len(details)} characters in all)"
    evidence = Evidence(
        check=check,
        summary=reason,
        expected=redact(expected),
        actual=redact(actual),
        details=redact(details),
        curl=curl,
        reproduce=reproduce(failed_ids or test_ids),
    )
    return reason, failed_ids, evidence, verdicts


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return redact(text.removeprefix("Skipped: "))


def redact_report(report: pytest.TestReport) -> None:
    longrepr = report.longrepr
    if longrepr is not None:
        if isinstance(longrepr, tuple):
            path, line, message = longrepr
            report.longrepr = (path, line, redact(str(message)))
        else:
            text = str(longrepr)
            cleaned = redact(text)
            if cleaned != text:
                report.longrepr = cleaned
    report.sections = [(title, redact(content)) for title, content in report.sections]
    report.user_properties = [(name, redact(str(value))) for name, value in report.user_properties]
