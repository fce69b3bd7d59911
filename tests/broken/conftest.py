"""One session's broken targets and suite runs, made once for every test that reads them.

The runs are made together (two at a time) the first time a test asks for them, and only for the
variants this session selected, so `-k` on one variant costs one run and not seventy.
"""

from __future__ import annotations

import pytest

from .exact import group_ids, group_of
from .proxy import unchanged
from .suite_runs import (
    CONTROL,
    CONTROL_IDS,
    CONTROL_LIMIT_IDS,
    CONTROL_LIMITS,
    RunPlan,
    SuiteRun,
    run_all,
)
from .targets import broken_targets
from .variants import VARIANTS


def _selected(session: pytest.Session, key: str) -> set[str]:
    """The values of one parameter (`variant`, `control`) over the session's selected tests."""
    values: set[str] = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if key in params:
            values.add(params[key])
    return values


@pytest.fixture(scope="session")
def suite_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SuiteRun]:
    """Each selected variant's suite run (by variant name) and the selected control runs."""
    workdir = tmp_path_factory.mktemp("broken")
    selected = [VARIANTS[name] for name in sorted(_selected(request.session, "variant"))]
    controls = _selected(request.session, "control")
    shared = {v.name: v.mutation for v in selected if not v.limit_test}
    isolated = {v.name: v.mutation for v in selected if v.limit_test}
    if CONTROL in controls:
        shared[CONTROL] = unchanged
    if CONTROL_LIMITS in controls:
        isolated[CONTROL_LIMITS] = unchanged
    with broken_targets(workdir, shared, isolated) as targets:
        # Each variant is run with its whole group, so that a wrong blame anywhere in it shows.
        plans = [
            RunPlan(
                v.name, targets[v.name], group_ids(group_of(v.requirement)), v.limit_test, v.slow
            )
            for v in selected
        ]
        if CONTROL in controls:
            plans.append(RunPlan(CONTROL, targets[CONTROL], CONTROL_IDS, False, True))
        if CONTROL_LIMITS in controls:
            plans.append(
                RunPlan(CONTROL_LIMITS, targets[CONTROL_LIMITS], CONTROL_LIMIT_IDS, True, True)
            )
        # The servers stop as soon as the runs are made; the tests only read the results.
        return run_all(plans, workdir)
