"""The session's side of the set-up check: run it (or take the CLI's), record it, block on it.

`conformance run` runs the set-up check before pytest starts, so that an unreachable target is one
line and not a pytest session; a bare `pytest --conformance-profile` runs it here, at session
start. Either way its exchanges go into the run's record, and a check whose area's precondition
failed is blocked at its setup: reported with the set-up's one line as its reason, never sent.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from conformance import recording
from conformance.exit_codes import EXIT_UNREACHABLE
from conformance.reporting.plan import plan_check
from conformance.run_state import PreflightDone, RunState
from conformance.setup_check import RACE_MARKER, SetupResult, areas_of, check_setup

SETUP = "set-up check"


def take_setup(session: pytest.Session, state: RunState) -> datetime:
    """Record the CLI's set-up check, or run one; an unreachable target ends the session.

    Returns when the first request of the run was sent."""
    assert state.exchange_log is not None
    assert state.target is not None
    done = next(
        (p for p in session.config.pluginmanager.get_plugins() if isinstance(p, PreflightDone)),
        None,
    )
    first_request_at = done.started_at if done is not None else recording.now()
    if done is not None:
        result = done.setup
        for exchange in result.exchanges:
            state.exchange_log.add(exchange, done.started_at, SETUP)
        state.preflight_requests = len(result.exchanges)
    else:
        token = recording.current_check.set(SETUP)
        try:
            result = check_setup(state.target)
        finally:
            recording.current_check.reset(token)
    state.setup = result
    if result.unreachable:
        state.aborted = True
        pytest.exit(f"conformance: {result.unreachable_error()}", returncode=EXIT_UNREACHABLE)
    write = session.config.get_terminal_writer()
    for line in result.lines():
        write.line(f"conformance: {line}")
    return first_request_at


def item_areas(item: pytest.Item) -> frozenset[str]:
    operations = plan_check(item, 1, 1).operations
    markers = tuple(mark.name for mark in item.iter_markers())
    return areas_of(operations, markers)


def mark_blocked(items: list[pytest.Item], state: RunState) -> None:
    """Note the checks the set-up's failures block, with the one line that says why."""
    result: SetupResult | None = state.setup
    if result is None or result.ok:
        return
    for item in items:
        for area in sorted(item_areas(item)):
            problem = result.problem_of(area)
            if problem is not None:
                state.blocked[item.nodeid] = f"blocked by the set-up check: {problem.line()}"
                break


def unblocked_requirements(state: RunState) -> set[str]:
    """The requirements of the checks that will run: the background probes serve only those."""
    return {
        rid
        for nodeid, outcome in state.outcomes.items()
        if nodeid not in state.blocked
        for rid in outcome.requirement_ids
    }


def block_if_needed(item: pytest.Item, state: RunState) -> None:
    """Stop a blocked check at its setup, before it sends anything."""
    reason = state.blocked.get(item.nodeid)
    if reason is not None:
        pytest.skip(reason)


__all__ = [
    "RACE_MARKER",
    "SETUP",
    "block_if_needed",
    "item_areas",
    "mark_blocked",
    "take_setup",
    "unblocked_requirements",
]
