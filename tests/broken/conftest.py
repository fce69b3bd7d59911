"""One session's broken targets and suite runs, made once for every test that reads them.

The runs are made by shard (`shards.py`), the first time a test reads one, and only for the
variants this session selected, so `-k` on one variant costs one run and not seventy. Each test
is marked with its shard's `xdist_group`: under `--dist loadgroup` (the project's default) a
shard's tests all go to one worker, which makes its runs once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .shards import ShardedRuns, shard_of

# The parameters that name a run: a variant's, or a control's.
_RUN_KEYS = ("variant", "control")


_HERE = Path(__file__).parent


def _run_name(item: pytest.Item) -> str | None:
    if _HERE not in item.path.parents:
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    return next((params[key] for key in _RUN_KEYS if key in params), None)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = _run_name(item)
        if name is not None:
            item.add_marker(pytest.mark.xdist_group(f"broken-{shard_of(name)}"))


@pytest.fixture(scope="session")
def suite_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ShardedRuns:
    """Each selected variant's suite run (by variant name) and the selected control runs."""
    selected = {name for item in request.session.items if (name := _run_name(item)) is not None}
    return ShardedRuns(selected, tmp_path_factory)
