"""The suite's fixtures for the checks: the run's profile, run ID, catalogue, target and scheduler.

They read the session's `RunState`; the plugin (`conformance.plugin`) imports them, which is how
pytest finds them, as it finds the plugin's hooks.
"""

from __future__ import annotations

import pytest

import tines_spec
from conformance.background import Scheduler
from conformance.http import TargetClient
from conformance.profile import Profile
from conformance.run_state import RunState, state_of

__all__ = ["background", "catalogue", "profile", "run_id", "target"]


def _require_state(request: pytest.FixtureRequest) -> RunState:
    state = state_of(request.config)
    if state is None:
        pytest.fail("the conformance fixtures need --conformance-profile FILE", pytrace=False)
    return state


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Profile:
    return _require_state(request).profile


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    return _require_state(request).run_id


@pytest.fixture(scope="session")
def catalogue() -> tines_spec.Catalogue:
    return tines_spec.catalogue()


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> TargetClient:
    state = _require_state(request)
    if state.target is None:
        state.target = TargetClient(state.profile, state.run_id)
        state.target.budget = state.budget
    return state.target


@pytest.fixture(scope="session")
def background(request: pytest.FixtureRequest) -> Scheduler:
    return _require_state(request).scheduler
