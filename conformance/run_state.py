"""`RunState`: everything the plugin keeps for one session, in pytest's `config.stash`.

The hooks of `conformance.plugin` and the modules they delegate to share it; `conformance.cli`
reads it once the session is over to choose the exit code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conformance import recording
from conformance.background import Scheduler
from conformance.early_waits import EarlyWaits
from conformance.exit_codes import EXIT_USAGE
from conformance.http import AsyncTargetClient, TargetClient
from conformance.profile import Profile
from conformance.progress import AreaProgress
from conformance.redaction import redact
from conformance.reporting.outcomes import CheckOutcome, RunSummary
from conformance.request_budget import RequestBudget
from conformance.result import Blocked, CheckFailure
from conformance.run_options import RunOptions
from conformance.setup_result import SetupResult


# Compared and hashed as itself (pytest keeps its plugins in a set; the budget is mutable).
@dataclass(frozen=True, eq=False)
class PreflightDone:
    """Handed to pytest as a plugin object by `conformance run`, which has already run the set-up
    check (to fail in one clean line before pytest starts): the session records its exchanges
    and blocks on its result rather than sending the same requests again. It holds the run's
    request budget, which the set-up's requests were charged to, and the long waits it started
    (`conformance.early_waits`), which the session adopts."""

    setup: SetupResult
    started_at: datetime
    budget: RequestBudget
    early: EarlyWaits | None = None


@dataclass
class RunState:
    """The session's options (with the run ID, seed and retries it settled on), what they
    loaded, and what the run has gathered so far. The options are read through the properties
    below, so that each is held once, in `options`."""

    options: RunOptions
    profile: Profile
    levels: tuple[str, ...]
    expectations: tuple[Any, ...] = ()
    exchange_log: recording.ExchangeLog | None = None
    preflight_requests: int = 0
    setup: SetupResult | None = None
    # Checks whose requirement the set-up check's answer contradicts, by node ID: each fails at
    # its setup with that answer as evidence, and sends nothing.
    setup_failures: dict[str, CheckFailure] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    selected_ids: tuple[str, ...] = ()
    # The last fast check that sends webhook requests: the burst may open once it has run
    # (`conformance.run_order`; None: at once).
    last_webhook_check: str | None = None
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)
    scheduler: Scheduler = field(default_factory=Scheduler)
    target: TargetClient | None = None
    async_target: AsyncTargetClient | None = None
    stopped: str | None = None
    deadline_passed: bool = False
    aborted: bool = False
    summary: RunSummary | None = None
    # Checks marked blocked before they run (`conformance.plugin.block_check`), by node ID.
    blocked_checks: dict[str, Blocked] = field(default_factory=dict)
    reports_written: tuple[Path, ...] = ()
    # Each check's share of the run's request bound, and what it sent (`request_budget`).
    budget: RequestBudget | None = None
    # The area lines printed in place of pytest's progress (None with --debug).
    progress: AreaProgress | None = None
    _disarm: list[Any] = field(default_factory=list)
    # Check modules that could not be collected: node ID and the error's last line.
    collect_errors: list[str] = field(default_factory=list)
    # The selection was refused at collection (`selection.refuse`): the run exits 2.
    refused: bool = False

    # The options, under the names the hooks read them by.

    @property
    def run_id(self) -> str:
        assert self.options.run_id is not None, "the plugin settles the run ID at configure"
        return self.options.run_id

    @property
    def seed(self) -> int | None:
        return self.options.seed

    @property
    def retries(self) -> int:
        return self.options.retries

    @property
    def report_dir(self) -> Path:
        return self.options.reports_at()

    @property
    def link_latest(self) -> bool:
        return self.options.links_latest

    @property
    def expectations_path(self) -> Path | None:
        return self.options.expectations

    @property
    def only(self) -> tuple[str, ...]:
        return self.options.only

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def include_limit_test(self) -> bool:
        return self.options.include_limit_test

    @property
    def max_examples(self) -> int:
        return self.options.max_examples


STATE = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE, None)


def usage_line(message: str) -> str:
    """The one line a usage error is said in."""
    return f"conformance: {redact(message)}"


def usage_exit(message: str) -> NoReturn:
    """End the session before it runs, with one line and the usage exit code."""
    pytest.exit(usage_line(message), returncode=EXIT_USAGE)
