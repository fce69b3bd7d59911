"""The session's side of the set-up check: run it (or take the CLI's), record it, judge by it.

`conformance run` runs the set-up check before pytest starts, so that its one line comes first; a
bare `pytest --conformance-profile` runs it here, at session start. Either way its exchanges go
into the run's record, and the checks are judged by it before any is sent:

- a check whose requirement the set-up's answer already contradicts (the key refused, the probe
  404, the probe's body wrong) fails at its setup, with that answer as its evidence: the report
  blames exactly the rule the target broke, as the check itself would have;
- every other check of a broken area is blocked by that requirement (or by no requirement, when
  what came back names no rule: the set-up check itself), with the set-up's one line as its
  reason, and is not sent;
- an unreachable target blocks every check, and the reports are still written.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from conformance import recording
from conformance.reporting.plan import plan_check, requirement_ids
from conformance.result import CheckFailure
from conformance.run_state import PreflightDone, RunState
from conformance.setup_check import AREA_TARGET, RACE_MARKER, SetupProblem, areas_of, check_setup

SETUP = "set-up check"

__all__ = [
    "RACE_MARKER",
    "SETUP",
    "item_areas",
    "setup_verdicts",
    "take_setup",
    "unblocked_requirements",
]


def preflight_of(config: pytest.Config) -> PreflightDone | None:
    """What `conformance run` did before pytest started, when it did."""
    plugins = config.pluginmanager.get_plugins()
    return next((p for p in plugins if isinstance(p, PreflightDone)), None)


def take_setup(session: pytest.Session, state: RunState) -> datetime:
    """Record the CLI's set-up check, or run one, and print its lines.

    Returns when the first request of the run was sent."""
    assert state.exchange_log is not None
    assert state.target is not None
    done = preflight_of(session.config)
    first_request_at = done.started_at if done is not None else recording.now()
    if done is not None:
        # Its exchanges were held for the log the session installed (`recording.hold`).
        result = done.setup
        state.preflight_requests = len(result.exchanges)
    else:
        token = recording.current_check.set(SETUP)
        try:
            result = check_setup(state.target)
        finally:
            recording.current_check.reset(token)
        write = session.config.get_terminal_writer()
        for line in result.lines():
            write.line(f"conformance: {line}")
    state.setup = result
    return first_request_at


def item_areas(item: pytest.Item) -> frozenset[str]:
    operations = plan_check(item, 1, 1).operations
    markers = tuple(mark.name for mark in item.iter_markers())
    return areas_of(operations, markers)


def _failure(problem: SetupProblem, ids: tuple[str, ...]) -> CheckFailure:
    """The set-up's answer, as the failure of the requirements it contradicts: the check's other
    requirements are blocked by it."""
    line = problem.said()
    return CheckFailure(
        ids,
        problem.expected,
        problem.got,
        problem.exchange,
        precondition=True,
        reasons=dict.fromkeys(ids, f"set-up: {line}"),
    )


def setup_verdicts(
    items: list[pytest.Item], state: RunState
) -> tuple[dict[str, CheckFailure], dict[str, tuple[tuple[str, ...], str]]]:
    """What the set-up's failures do to each check: fail it (its requirement is contradicted by
    what the set-up saw) or block it (because of which requirements, and the one line why)."""
    failures: dict[str, CheckFailure] = {}
    blocks: dict[str, tuple[tuple[str, ...], str]] = {}
    result = state.setup
    if result is None or result.ok:
        return failures, blocks
    for item in items:
        ids = requirement_ids(item)
        problem = next((p for p in result.problems if set(p.requirement_ids) & set(ids)), None)
        if problem is not None:
            failures[item.nodeid] = _failure(
                problem, tuple(rid for rid in ids if rid in problem.requirement_ids)
            )
            continue
        areas = item_areas(item)
        problem = next(
            (p for p in result.problems if p.area in areas or p.area == AREA_TARGET), None
        )
        if problem is not None:
            # No rule named: blocked by the set-up check itself, which the report's `blocked_by`
            # (requirement IDs only) says as no ID, and the reason as the set-up's line.
            blocks[item.nodeid] = (problem.requirement_ids, f"set-up: {problem.said()}")
    return failures, blocks


def unblocked_requirements(state: RunState) -> set[str]:
    """The requirements of the checks that will run: the background probes serve only those."""
    return {
        rid
        for nodeid, outcome in state.outcomes.items()
        if nodeid not in state.blocked_checks and nodeid not in state.setup_failures
        for rid in outcome.requirement_ids
    }
