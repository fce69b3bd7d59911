"""Selection: which collected checks a run keeps, by level and ID, and the dry run's plan.

A typo in `--conformance-only` or in a check's marker is a usage error, never an empty run; the
checks whose requirements are all outside the selected levels and IDs are deselected; each kept
check carries its requirements' IDs, levels and sentences as JUnit properties and Allure labels.
"""

from __future__ import annotations

import sys

import pytest

import tines_spec
from conformance.allure_labels import allure_active, label_for_allure
from conformance.background import not_started_because, probes_read, serve_checks
from conformance.redaction import redact
from conformance.reporting.outcomes import CheckOutcome
from conformance.reporting.plan import PlannedCheck, plan_check, render_plan, requirement_ids
from conformance.run_order import order_checks
from conformance.run_state import RunState, usage_line
from conformance.setup_check import MAX_REQUESTS as SETUP_MAX_REQUESTS


def selected_requirements(levels: tuple[str, ...], only: tuple[str, ...]) -> frozenset[str]:
    """The requirements a run asks for: those at its levels, narrowed to `--only` if given."""
    selected = {r.id for r in tines_spec.catalogue().at_levels(levels)}
    return frozenset(selected & set(only) if only else selected)


def select(config: pytest.Config, items: list[pytest.Item], state: RunState) -> None:
    """Deselect what the run does not ask for, order the rest, and label what is kept; or, for
    a selection that cannot run, say why and keep nothing (`refuse`)."""
    problem = _unrunnable(items, state)
    if problem is not None:
        refuse(config, items, state, problem)
        return
    catalogue = tines_spec.catalogue()
    selected = selected_requirements(state.levels, state.only)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        ids = set(requirement_ids(item))
        keep = bool(ids & selected) if ids else not state.only
        (kept if keep else dropped).append(item)
    if not kept:
        asked = ", ".join(state.only) if state.only else f"level {', '.join(state.levels)}"
        refuse(config, items, state, f"no check covers {asked}: nothing would run")
        return
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    state.last_webhook_check = order_checks(items)
    state.selected_ids = tuple(r.id for r in catalogue.requirements if r.id in selected)
    allure_on = allure_active(config)
    for item in kept:
        ids_here = requirement_ids(item)
        state.outcomes[item.nodeid] = CheckOutcome(item.nodeid, ids_here)
        for rid in ids_here:
            requirement = catalogue[rid]
            item.user_properties.append(("requirement", rid))
            item.user_properties.append(("level", f"{rid}: {requirement.level}"))
            item.user_properties.append(("sentence", f"{rid}: {requirement.sentence}"))
        if allure_on and ids_here:
            label_for_allure(item, ids_here)


def plan_lines(items: list[pytest.Item], state: RunState) -> list[str]:
    """The dry run's plan (see `conformance.reporting.plan`)."""
    probes = state.scheduler.plan(state.selected_ids, state.include_limit_test)
    reads: dict[str, str] = {}
    not_run: dict[str, str] = {}
    for item in items:
        for name in probes_read(item.iter_markers()):
            reads[item.nodeid] = name
            why = not_started_because(name, state.include_limit_test)
            if why is not None:
                not_run[item.nodeid] = why
    return render_plan(
        planned_checks(items, state),
        reads=reads,
        not_run=not_run,
        header=f"plan for {redact(state.profile.target.base_url)} (run {state.run_id}); "
        "nothing will be sent",
        probes=[(probe.name, tuple(probe.requirement_ids)) for probe in probes],
        max_examples=state.max_examples,
        rate=state.profile.safety.max_requests_per_second,
        in_flight=state.profile.safety.max_in_flight,
        retries=state.retries,
        setup_requests=SETUP_MAX_REQUESTS,
        run_limit=state.profile.safety.max_requests,
    )


def planned_checks(items: list[pytest.Item], state: RunState) -> list[PlannedCheck]:
    """Each check's plan, its bound counting the run's examples and retries."""
    stories = len(state.profile.stories.ids)
    return [plan_check(item, state.max_examples, stories, state.retries) for item in items]


def check_shares(items: list[pytest.Item], state: RunState) -> dict[str, int]:
    """The shares the run holds each check to: the bounds the dry run prints."""
    return {
        c.nodeid: c.max_requests for c in planned_checks(items, state) if c.max_requests is not None
    }


def note_collect_error(report: pytest.CollectReport, state: RunState) -> None:
    """Keep a check module's collection error (its last line) for `select` to say."""
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    said = lines[-1].removeprefix("E").strip() if lines else "cannot be collected"
    state.collect_errors.append(f"{report.nodeid}: {said}")


def _unrunnable(items: list[pytest.Item], state: RunState) -> str | None:
    """Why the collected checks cannot run at all, if they cannot."""
    if state.collect_errors:
        # A check module that does not import would otherwise leave its requirements untested,
        # or the run empty, with pytest's error hidden by the quiet terminal.
        return f"a check module cannot be loaded: {'; '.join(state.collect_errors[:3])}"
    catalogue = tines_spec.catalogue()
    bad = [
        f"{item.nodeid} names {rid}"
        for item in items
        for rid in requirement_ids(item)
        if rid not in catalogue
    ]
    if bad:
        return f"unknown requirement ID in a check's marker: {'; '.join(bad[:5])}"
    try:
        serve_checks((item.nodeid, requirement_ids(item), item.iter_markers()) for item in items)
    except LookupError as exc:
        return str(exc)
    return None


def refuse(config: pytest.Config, items: list[pytest.Item], state: RunState, why: str) -> None:
    """A usage error found at collection: one line, nothing run, nothing sent, exit 2.

    Not `pytest.exit`: raised once collection has begun, pytest shows it only as its interrupt
    banner; here the run deselects every check and the plugin sets the exit code at the end."""
    print(usage_line(why), file=sys.stderr, flush=True)
    state.aborted = True
    state.refused = True
    config.hook.pytest_deselected(items=list(items))
    items.clear()
