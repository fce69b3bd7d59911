"""Running the suite against a broken target and reading what it concluded.

Each run is `python -m conformance run` in a subprocess: the suite is a pytest session of its own,
and a subprocess keeps its plugins, hypothesis state and background loop apart from this test
session's. Runs go two at a time (the machine has two cores); the concurrency-limit runs go one
at a time beside them, on a reference of their own (see targets.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .targets import API_KEY, BrokenTarget

MAX_EXAMPLES = 5
RUN_TIMEOUT_SECONDS = 150

CONTROL = "control"
CONTROL_LIMITS = "control-limits"
# The un-mutated proxy must pass these, so that a variant's failure is the mutation's doing.
CONTROL_IDS = (
    "WH-BODY-001",
    "WH-CONV-001",
    "WH-CT-002",
    "WH-META-006",
    "WH-TIME-002",
    "WH-RURL-001",
    "STORY-GET-001",
    "STORY-FIELD-001",
)
CONTROL_LIMIT_IDS = ("WH-CONC-001", "WH-CONC-002", "WH-CONC-003", "WH-CONC-004")


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


def run_suite(plan: RunPlan, report_dir: Path) -> SuiteRun:
    command = [
        sys.executable,
        "-m",
        "conformance",
        "run",
        "--profile",
        str(plan.target.profile_path),
        "--report-dir",
        str(report_dir),
        "--max-examples",
        str(MAX_EXAMPLES),
        *(arg for rid in plan.only for arg in ("--only", rid)),
        *(["--include-limit-test"] if plan.limit_test else []),
    ]
    env = {**os.environ, plan.target.api_key_env: API_KEY}
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code, output = -1, f"timed out after {RUN_TIMEOUT_SECONDS} s\n{expired.stdout!r}"
    summary_path = report_dir / "summary.json"
    summary = json.loads(summary_path.read_text("utf-8")) if summary_path.is_file() else None
    return SuiteRun(plan.label, code, summary, output[-3000:], time.monotonic() - started)


def run_all(plans: Iterable[RunPlan], workdir: Path) -> dict[str, SuiteRun]:
    """Every plan's run, two shared-reference runs at a time and the limit runs one at a time."""
    plans = list(plans)
    results: dict[str, Future[SuiteRun]] = {}
    with ThreadPoolExecutor(2) as shared, ThreadPoolExecutor(1) as isolated:
        # The longest runs first, so that the pool does not end on a long tail.
        for plan in sorted(plans, key=lambda p: not p.limit_test):
            pool = isolated if plan.limit_test else shared
            submit: Callable[..., Future[SuiteRun]] = pool.submit
            directory = workdir / "reports" / plan.label.replace(":", "--")
            results[plan.label] = submit(run_suite, plan, directory)
    return {label: future.result() for label, future in results.items()}
