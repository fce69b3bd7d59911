"""Running the suite against the broken targets and reading what it concluded.

The runs are made by two worker processes (suite_worker.py: the suite imported once, then
`conformance.cli.main` once per run), side by side on the machine's two cores. A worker makes its
runs one at a time, so the concurrency-limit runs, which all go to the same worker and to a
reference of their own (see targets.py), never overlap one another.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exact import group_ids
from .targets import API_KEY, BrokenTarget

MAX_EXAMPLES = 5
WORKER_TIMEOUT_SECONDS = 600

CONTROL = "control"
CONTROL_LIMITS = "control-limits"
# The un-mutated proxy must pass every requirement of the groups the variants are run with, so
# that a variant's failure is the mutation's doing (the limit groups run apart, with the flood).
CONTROL_IDS = (*group_ids("webhook"), *group_ids("timeouts"), *group_ids("stories"))
CONTROL_LIMIT_IDS = group_ids("limits")


@dataclass(frozen=True)
class SuiteRun:
    """What one `conformance run` did: its exit code, summary.json (None when not written) and
    the end of its output, for a failure message."""

    label: str
    exit_code: int
    summary: dict[str, Any] | None
    output_tail: str
    seconds: float

    def requirement(self, requirement_id: str) -> dict[str, Any] | None:
        if self.summary is None:
            return None
        entries = self.summary.get("requirements", [])
        return next((e for e in entries if e.get("id") == requirement_id), None)

    def describe(self, requirement_id: str) -> str:
        entry = self.requirement(requirement_id)
        said = (
            "no summary.json"
            if self.summary is None
            else "not in summary.json"
            if entry is None
            else f"{entry.get('status')}: {entry.get('reason')}"
        )
        return (
            f"{self.label}: exit {self.exit_code} after {self.seconds:.1f} s; "
            f"{requirement_id} {said}\n--- output (end) ---\n{self.output_tail}"
        )


@dataclass(frozen=True)
class RunPlan:
    """One suite run to make: which target, which requirement IDs, whether with the limit test."""

    label: str
    target: BrokenTarget
    only: tuple[str, ...]
    limit_test: bool
    slow: bool

    @property
    def cost(self) -> str:
        return "limit" if self.limit_test else "slow" if self.slow else "fast"


# Rough cost of a run in seconds, to share the runs fairly between the workers.
_COST = {"fast": 1.5, "slow": 5.0, "limit": 8.0}
WORKER = Path(__file__).with_name("suite_worker.py")
WORKERS = 3


def _argv(plan: RunPlan, report_dir: Path) -> list[str]:
    return [
        "run",
        "--profile",
        str(plan.target.profile_path),
        "--report-dir",
        str(report_dir),
        "--max-examples",
        str(MAX_EXAMPLES),
        # A broken target fails the same way every time: a retry would only double the cost.
        "--retries",
        "0",
        *(arg for rid in plan.only for arg in ("--only", rid)),
        *(["--include-limit-test"] if plan.limit_test else []),
    ]


def _share(plans: list[RunPlan]) -> list[list[RunPlan]]:
    """The plans dealt to the workers: every limit run to the first, the rest by cost."""
    shares: list[list[RunPlan]] = [[] for _ in range(WORKERS)]
    load = [0.0] * WORKERS
    for plan in sorted(plans, key=lambda p: (not p.limit_test, -_COST[p.cost])):
        worker = 0 if plan.limit_test else load.index(min(load))
        shares[worker].append(plan)
        load[worker] += _COST[plan.cost]
    return shares


def _run_worker(plans: list[RunPlan], workdir: Path, number: int) -> dict[str, SuiteRun]:
    entries = []
    for plan in plans:
        directory = workdir / "reports" / plan.label.replace(":", "--")
        directory.mkdir(parents=True, exist_ok=True)
        entries.append(
            {
                "argv": _argv(plan, directory),
                "result": str(directory / "result.json"),
                "log": str(directory / "output.log"),
            }
        )
    plans_file = workdir / f"worker-{number}.json"
    plans_file.write_text(json.dumps(entries), encoding="utf-8")
    # The suite runs get the key, and none of the options this test session was started with.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update({plan.target.api_key_env: API_KEY for plan in plans})
    # A worker past its deadline is killed: the runs it did not finish have no result, and say so.
    with (
        (workdir / f"worker-{number}.log").open("wb") as log,
        contextlib.suppress(subprocess.TimeoutExpired),
    ):
        subprocess.run(
            [sys.executable, str(WORKER), str(plans_file)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=WORKER_TIMEOUT_SECONDS,
            check=False,
        )
    return {plan.label: _read(plan, workdir) for plan in plans}


def _read(plan: RunPlan, workdir: Path) -> SuiteRun:
    directory = workdir / "reports" / plan.label.replace(":", "--")
    result_path, log_path = directory / "result.json", directory / "output.log"
    summary_path = directory / "summary.json"
    output = log_path.read_text("utf-8", errors="replace") if log_path.is_file() else ""
    if not result_path.is_file():
        return SuiteRun(plan.label, -1, None, "the worker never finished this run\n" + output, 0)
    result = json.loads(result_path.read_text("utf-8"))
    summary = json.loads(summary_path.read_text("utf-8")) if summary_path.is_file() else None
    return SuiteRun(plan.label, result["exit_code"], summary, output[-3000:], result["seconds"])


def run_all(plans: Iterable[RunPlan], workdir: Path) -> dict[str, SuiteRun]:
    """Every plan's run, made by the workers side by side."""
    shares = [share for share in _share(list(plans)) if share]
    runs: dict[str, SuiteRun] = {}
    with ThreadPoolExecutor(len(shares) or 1) as pool:
        for done in pool.map(lambda n: _run_worker(shares[n], workdir, n), range(len(shares))):
            runs.update(done)
    return runs
