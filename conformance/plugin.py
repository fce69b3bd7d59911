"""The pytest hooks of the suite (entry point `pytest11`): `pytest --conformance-profile FILE`.

It is loaded in every pytest run of this environment, the project's own tests included, so without
`--conformance-profile` it only registers the markers (`markers`) and does nothing else. With it
each hook hands its job to the module named after it:

- options (`run_options`): read once from pytest's config and validated (a bad one: exit 2);
  the seed and retries are handed to hypothesis and pytest-rerunfailures (`run_settings`);
- selection (`selection`): levels and IDs, unknown IDs, the order, the dry run's plan;
- session start: the target is tried once (no HTTP answer at all: exit 3, one line), the
  background probes (`background`) start before the first check, the run deadline (`deadline`)
  is armed;
- attempts and evidence (`evidence`): every report is redacted before JUnit XML or Allure see it;
  a failed check is run once more (`--conformance-retries`) and its failure read into evidence;
  Allure labels and the exchanges each check sent (`allure_labels`);
- the end (`report_writing`, `latest`): a verdict per requirement, every report written from one
  summary (even after Ctrl-C or the deadline, with what did not run as `untested`), the table.

The marker: `requirement(*ids, max_requests=N, per_example=False, operations=(...))`.
`max_requests` is what the check may send; for a hypothesis test (or one marked `per_example`,
which runs hypothesis inside itself) it is per example. The plan counts it for every example, the
replays of a failing one and every retry (`conformance.request_budget`), prints that bound, and
the run holds the check to it. `operations` adds to the operations the plan derives from the
catalogue's `encoded_by` of the check's requirements.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pytest

from conformance import recording, report_writing
from conformance.allure_labels import attach_exchanges
from conformance.deadline import arm_deadline, disarm_deadline
from conformance.errors import ConformanceError
from conformance.evidence import count_report, read_attempt, redact_report
from conformance.exit_codes import EXIT_UNREACHABLE, EXIT_USAGE

# The checks' fixtures: imported here so that pytest finds them with the plugin's hooks.
from conformance.fixtures import background, catalogue, profile, run_id, target  # noqa: F401
from conformance.http import AsyncTargetClient, TargetClient
from conformance.markers import register_markers
from conformance.progress import AreaProgress
from conformance.report_writing import build_summary, redact_other_reports, write_reports
from conformance.reporting.plan import requirement_ids
from conformance.reporting.table import render_table
from conformance.request_budget import RequestBudget
from conformance.result import Blocked
from conformance.run_options import CHECKS_DIR, RunOptions, add_pytest_options, new_run_id
from conformance.run_order import open_burst_after
from conformance.run_settings import load_hypothesis_profile, settle_retries, settle_seed
from conformance.run_state import STATE, RunState, state_of, usage_exit
from conformance.selection import (
    check_shares,
    note_collect_error,
    plan_lines,
    select,
)
from conformance.setup_gate import (
    preflight_of,
    setup_verdicts,
    take_setup,
    unblocked_requirements,
)
from conformance.verdicts import covering

SPOOL = ".exchanges.spool.jsonl"

# pytest_keyboard_interrupt and pytest_runtest_logreport are given no config: the session's is
# kept here.
_current_config: pytest.Config | None = None


def _current_state() -> RunState | None:
    config = _current_config
    return state_of(config) if config is not None else None


# ----------------------------------------------------------------------------- options, markers


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser.getgroup("conformance", "tines-conformance suite"))


def _import_long_waits() -> None:
    """The slow probes register themselves when their module is imported."""
    try:
        import conformance.long_waits  # noqa: F401
    except ImportError as exc:
        if exc.name != "conformance.long_waits":
            raise


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    options = RunOptions.from_pytest_config(config)
    if options is None:
        return
    global _current_config
    _current_config = config
    try:
        valid = options.validate(for_pytest=True)
    except ConformanceError as exc:
        usage_exit(str(exc))
    options = replace(
        options,
        run_id=options.run_id or new_run_id(),
        seed=settle_seed(config),
        retries=settle_retries(config, options.retries),
    )
    # The long waits `conformance run` started, and the checks that read them, must meet on one
    # profile object (a probe and its readers share state keyed by it).
    done = preflight_of(config)
    early = done.early if done is not None else None
    config.stash[STATE] = RunState(
        options=options,
        profile=early.profile if early is not None else valid.profile,
        levels=valid.levels,
        expectations=valid.expectations,
    )
    load_hypothesis_profile(options.max_examples, shrink=options.shrink, debug=options.debug)
    _import_long_waits()
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(CHECKS_DIR)]


# ----------------------------------------------------------------------------- session start


def pytest_sessionstart(session: pytest.Session) -> None:
    state = state_of(session.config)
    if state is None or state.dry_run:
        return
    state.exchange_log = recording.ExchangeLog(state.report_dir / SPOOL)
    recording.install(state.exchange_log)
    state.target = TargetClient(state.profile, state.run_id)
    # The run's limit holds from its first request (the CLI's set-up check's, when it made one);
    # the checks' shares come with the selection.
    done = preflight_of(session.config)
    state.budget = (
        done.budget if done is not None else RequestBudget(limit=state.profile.safety.max_requests)
    )
    state.target.budget = state.budget
    if done is not None and done.early is not None:
        state.scheduler = done.early.scheduler
        state.async_target = done.early.client
    # The deadline counts from the first request (`conformance run`'s own set-up check when there
    # was one), so no answer of the target's can keep the run past it. It is armed at the end of
    # this hook: pytest skips sessionfinish, and so the report, for an interrupt during it.
    first_request_at = take_setup(session, state)
    arm_deadline(state, (recording.now() - first_request_at).total_seconds())


# ----------------------------------------------------------------------------- collection


def pytest_collectreport(report: pytest.CollectReport) -> None:
    state = _current_state()
    if state is not None and report.failed:
        note_collect_error(report, state)


@pytest.hookimpl(trylast=True)  # after -k and -m, so that the verdicts see the final selection
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = state_of(config)
    if state is None:
        return
    select(config, items, state)
    if state.refused:
        return
    if state.budget is None:  # a dry run: the shares are what its plan prints
        state.budget = RequestBudget(limit=state.profile.safety.max_requests)
    state.budget.shares = check_shares(items, state)
    unreachable = state.setup is not None and state.setup.unreachable
    if not state.options.debug and not state.dry_run and not unreachable:
        write = config.get_terminal_writer().line
        state.progress = AreaProgress.of([item.nodeid for item in items], write)
    failures, blocks = setup_verdicts(items, state)
    state.setup_failures.update(failures)
    for nodeid, (because_of, reason) in blocks.items():
        block_check(config, nodeid, because_of, reason)


def _start_background(session: pytest.Session, state: RunState) -> None:
    if state.dry_run or (state.setup is not None and state.setup.unreachable):
        return
    wanted = set(state.selected_ids) & unblocked_requirements(state)
    if state.async_target is None:
        state.async_target = AsyncTargetClient(state.profile, state.run_id)
        state.async_target.budget = state.budget
    # Those `conformance run` started already are kept if the collected checks read them.
    state.scheduler.start(state.async_target, state.profile, wanted, state.include_limit_test)
    needed = state.scheduler.plan(wanted, state.include_limit_test)
    state.scheduler.keep_only({probe.name for probe in needed})
    open_burst_after(None, state.last_webhook_check, state.profile)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The long waits start as soon as the selection is known, before the first check runs."""
    state = state_of(session.config)
    if state is not None and not state.aborted:
        _start_background(session, state)
        report_writing.prepare_reports()


# ----------------------------------------------------------------------------- the run


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """A dry run prints the plan in place of running anything."""
    state = state_of(session.config)
    if state is None or not state.dry_run:
        return None
    write = _writer(session.config)
    for line in plan_lines(session.items, state):
        write(line)
    return True


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Every request sent while a check runs (its retries included) is labelled with it."""
    token = recording.current_check.set(item.nodeid)
    try:
        with covering(requirement_ids(item)):
            return (yield)
    finally:
        recording.current_check.reset(token)
        state = state_of(item.config)
        if state is not None:
            open_burst_after(item.nodeid, state.last_webhook_check, state.profile)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check marked blocked before it runs (`block_check`) reports that, and sends nothing; so
    does one whose requirement the set-up check's answer already contradicts, failed with it."""
    state = state_of(item.config)
    if state is None:
        return
    if item.nodeid in state.setup_failures:
        raise state.setup_failures[item.nodeid]
    if item.nodeid in state.blocked_checks:
        raise state.blocked_checks[item.nodeid]


def block_check(
    config: pytest.Config, nodeid: str, because_of: tuple[str, ...], reason: str
) -> None:
    """Mark a check blocked before it runs: its requirements are reported `blocked`, pointing at
    `because_of` (a failed precondition of the run, such as the probe story not answering)."""
    state = state_of(config)
    if state is not None:
        state.blocked_checks[nodeid] = Blocked(None, because_of, reason)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Redact the report (innermost, so JUnit and Allure see only the redacted one), read the
    failure's evidence off it, and attach the check's exchanges to its Allure result."""
    report = yield
    state = state_of(item.config)
    if state is None:
        return report
    redact_report(report)
    if item.nodeid not in state.outcomes:
        return report
    attach_exchanges(item, state)
    read_attempt(item, call, report, state)
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    state = _current_state()
    if state is not None:
        count_report(report, state)


def pytest_runtest_logstart(nodeid: str) -> None:
    state = _current_state()
    if state is not None and state.progress is not None:
        state.progress.started(nodeid)


def pytest_runtest_logfinish(nodeid: str) -> None:
    state = _current_state()
    if state is not None and state.progress is not None and nodeid in state.outcomes:
        state.progress.finished(nodeid, state.outcomes[nodeid].status)


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: Any, config: pytest.Config) -> Generator[None, Any, Any]:
    """Without --debug the area lines (`conformance.progress`) replace pytest's letters."""
    result = yield
    state = state_of(config)
    if state is None or state.options.debug or state.dry_run or not result:
        return result
    return (result[0], "", "")


# ----------------------------------------------------------------------------- the end


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C or the deadline: cancel the background probes at once, before the report."""
    state = _current_state()
    if state is None or state.aborted:
        return
    if isinstance(excinfo.value, pytest.exit.Exception) and excinfo.value.returncode in (
        EXIT_USAGE,
        EXIT_UNREACHABLE,
    ):
        state.aborted = True
        return
    disarm_deadline(state)
    if state.stopped is None:
        state.stopped = "interrupted (Ctrl-C)"
    state.scheduler.cancel()


@pytest.hookimpl(wrapper=True, specname="pytest_runtestloop")
def pytest_runtestloop_then_disarm(session: pytest.Session) -> Generator[None, object, object]:
    """The deadline covers collection and the checks; once they are over it cannot fire in the
    middle of writing the report."""
    try:
        return (yield)
    finally:
        state = state_of(session.config)
        if state is not None:
            disarm_deadline(state)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = state_of(session.config)
    if state is None:
        return
    disarm_deadline(state)
    state.scheduler.stop()
    if state.target is not None:
        state.target.close()
    log = state.exchange_log
    recording.install(None)
    if state.refused:
        session.exitstatus = EXIT_USAGE
    if state.aborted or state.dry_run:
        if log is not None:
            log.close()
            with contextlib.suppress(OSError):
                state.report_dir.rmdir()  # only if the run left nothing in it
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED and state.stopped is None:
        state.stopped = "interrupted"
    state.summary = build_summary(state)
    state.reports_written = write_reports(state, state.summary)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if state is None or state.summary is None:
        return
    if state.setup is not None and state.setup.unreachable and not state.options.debug:
        return  # every check blocked by the one line already printed; the reports say the rest
    terminalreporter.section("conformance: requirements")
    for line in render_table(state.summary, terminalreporter._tw.fullwidth):
        terminalreporter.write_line(line)
    for path in state.reports_written:
        terminalreporter.write_line(f"wrote {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _current_config
    state = state_of(config)
    if state is None:
        return
    if _current_config is config:
        # A run made inside another pytest session (the project's own tests call the CLI in
        # process) must leave no state behind for the outer session's hooks.
        _current_config = None
    state.scheduler.stop()
    redact_other_reports(config)


def _writer(config: pytest.Config) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return reporter.write_line
    return lambda line: print(line, file=sys.stdout)
