"""Settings shared by every test of the project; each area keeps its fixtures in its conftest.

The tests run on pytest-xdist workers (pyproject's addopts: `--dist loadgroup`). A test that
uses a module- or package-scoped fixture of the project is grouped with the other tests of
that scope, so that the fixture (a server, a whole suite run) is made once, by one worker, and
not once per worker its tests happen to be sent to. Other tests go wherever a worker is free.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# On a loaded 2-core machine an example's wall time says nothing about the code under test, so
# hypothesis' per-example deadline would only add flaky failures. HYPOTHESIS_PROFILE picks another.
settings.register_profile("tines-conformance", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tines-conformance"))

_TESTS = "tests"
_SHARED_SCOPES = ("module", "package")


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The scope a test shares a project fixture with: its module's or its package's node ID."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    widest = None
    for definitions in info.name2fixturedefs.values():
        definition = definitions[-1]
        if definition.scope not in _SHARED_SCOPES or definition.baseid.split("/")[0] != _TESTS:
            continue
        if definition.scope == "package":
            return definition.baseid
        widest = item.nodeid.split("::", 1)[0]
    return widest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
