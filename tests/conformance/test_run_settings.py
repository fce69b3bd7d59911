"""The hypothesis profile a run loads: what it keeps out because of what it would cost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings

from conformance.run_settings import HYPOTHESIS_PROFILE, load_hypothesis_profile


def _loaded(**options: bool) -> Iterator[settings]:
    previous = settings._current_profile
    load_hypothesis_profile(max_examples=3, **options)
    try:
        yield settings.get_profile(HYPOTHESIS_PROFILE)
    finally:
        if previous is not None:
            settings.load_profile(previous)


@pytest.fixture
def run_profile() -> Iterator[settings]:
    yield from _loaded()


@pytest.fixture
def shrinking_profile() -> Iterator[settings]:
    yield from _loaded(shrink=True)


def test_a_failing_check_is_neither_shrunk_nor_explained(run_profile: settings) -> None:
    """Each shrink step is a request the plan did not count, and the explain phase keeps a line
    trace of every shrinking example (1-2 MB a request against a target that fails a check)."""
    assert set(run_profile.phases) == set(Phase) - {Phase.explain, Phase.shrink}
    assert run_profile.max_examples == 3
    assert run_profile.print_blob is False


def test_shrinking_asked_for_still_explains_nothing(shrinking_profile: settings) -> None:
    assert set(shrinking_profile.phases) == set(Phase) - {Phase.explain}
