"""The hypothesis profile a run loads: what it keeps out because of what it would cost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings

from conformance.run_settings import HYPOTHESIS_PROFILE, load_hypothesis_profile


@pytest.fixture
def run_profile() -> Iterator[settings]:
    previous = settings._current_profile
    load_hypothesis_profile(max_examples=3)
    try:
        yield settings.get_profile(HYPOTHESIS_PROFILE)
    finally:
        if previous is not None:
            settings.load_profile(previous)


def test_a_failing_check_is_shrunk_but_not_explained(run_profile: settings) -> None:
    """The explain phase keeps a line trace of every shrinking example (1-2 MB a request
    against a target that fails a check); shrinking itself stays, for the minimal example."""
    assert Phase.explain not in run_profile.phases
    assert {Phase.generate, Phase.shrink} <= set(run_profile.phases)
    assert run_profile.max_examples == 3
