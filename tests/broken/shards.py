"""The broken variants' runs in shards: each shard's runs are made together, when a test first
reads one of them, so that pytest-xdist can give each shard to a worker of its own.

A shard is a few variants of one requirement group (the webhook's and the Stories API's groups
are the big ones, so they are cut in chunks), the concurrency-limit variants with their control,
and the un-mutated control. `conftest.py` marks each test with its shard's `xdist_group`, so
under `--dist loadgroup` every run is made once, by the one worker that reads it; without xdist
the shards are simply made one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

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

# Variants a shard of the big groups holds at most: about a minute of runs on the shard's two
# suite workers. The other groups' runs are short (their waits overlap): one shard each.
SHARD_SIZE = 8
CHUNKED = ("webhook", "stories")
LIMITS = "limits"


def _shards() -> dict[str, str]:
    """Every variant's and control's shard, by name."""
    by_group: dict[str, list[str]] = {}
    for name in sorted(VARIANTS):
        variant = VARIANTS[name]
        group = LIMITS if variant.limit_test else group_of(variant.requirement)
        by_group.setdefault(group, []).append(name)
    shards = {CONTROL: CONTROL, CONTROL_LIMITS: LIMITS}
    for group, names in by_group.items():
        chunks = -(-len(names) // SHARD_SIZE) if group in CHUNKED else 1
        for index, name in enumerate(names):
            shards[name] = group if chunks == 1 else f"{group}-{index * chunks // len(names)}"
    return shards


SHARDS = _shards()


def shard_of(name: str) -> str:
    return SHARDS[name]


def run_shard(names: set[str], workdir: Path) -> dict[str, SuiteRun]:
    """The runs of the named variants and controls (one shard), their servers stopped after."""
    selected = [VARIANTS[name] for name in sorted(names) if name in VARIANTS]
    shared = {v.name: v.mutation for v in selected if not v.limit_test}
    isolated = {v.name: v.mutation for v in selected if v.limit_test}
    if CONTROL in names:
        shared[CONTROL] = unchanged
    if CONTROL_LIMITS in names:
        isolated[CONTROL_LIMITS] = unchanged
    with broken_targets(workdir, shared, isolated) as targets:
        # Each variant is run with its whole group, so that a wrong blame anywhere in it shows.
        plans = [
            RunPlan(
                v.name, targets[v.name], group_ids(group_of(v.requirement)), v.limit_test, v.slow
            )
            for v in selected
        ]
        if CONTROL in names:
            plans.append(RunPlan(CONTROL, targets[CONTROL], CONTROL_IDS, False, True))
        if CONTROL_LIMITS in names:
            plans.append(
                RunPlan(CONTROL_LIMITS, targets[CONTROL_LIMITS], CONTROL_LIMIT_IDS, True, True)
            )
        # The servers stop as soon as the runs are made; the tests only read the results.
        return run_all(plans, workdir)


class ShardedRuns(Mapping[str, SuiteRun]):
    """The selected runs by name; reading one makes its whole shard's runs, once."""

    def __init__(self, selected: set[str], factory: pytest.TempPathFactory) -> None:
        self._selected = selected
        self._factory = factory
        self._made: dict[str, SuiteRun] = {}

    def __getitem__(self, name: str) -> SuiteRun:
        if name not in self._selected:
            raise KeyError(name)
        if name not in self._made:
            shard = shard_of(name)
            names = {n for n in self._selected if shard_of(n) == shard}
            self._made.update(run_shard(names, self._factory.mktemp(f"broken-{shard}")))
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._selected))

    def __len__(self) -> int:
        return len(self._selected)
