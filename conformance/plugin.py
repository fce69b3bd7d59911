"""The pytest hooks of the suite (entry point `pytest11`): `pytest --conformance-profile FILE`.

It is loaded in every pytest run of this environment, the project's own tests included, so without
`--conformance-profile` it only registers the `requirement` marker and does nothing else. With it
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

The marker: `requirement(*ids, max_requests=N, operations=(...))`. `max_requests` is what the dry
run prints as the most requests a check may send; for a hypothesis test it is per example and the
plan multiplies it by `--conformance-max-examples` (a failing example is then also replayed and
shrunk, which hypothesis bounds). `operations` adds to the operations the plan derives from the
catalogue's `encoded_by` of the check's requirements.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pytest

import tines_spec
from conformance import recording
from conformance.allure_labels import attach_exchanges
from conformance.background import PROBE_MARKER, Scheduler
from conformance.deadline import arm_deadline, disarm_deadline
from conformance.errors import ConformanceError, TargetUnreachable
from conformance.evidence import count_report, read_attempt, redact_report
from conformance.exit_codes import EXIT_UNREACHABLE, EXIT_USAGE
from conformance.http import AsyncTargetClient, TargetClient, ensure_reachable
from conformance.profile import Profile
from conformance.report_writing import build_summary, redact_other_reports, write_reports
from conformance.reporting.plan import requirement_ids
from conformance.reporting.table import render_table
from conformance.result import Blocked
from conformance.run_options import CHECKS_DIR, RunOptions, add_pytest_options, new_run_id
from conformance.run_settings import load_hypothesis_profile, settle_retries, settle_seed
from conformance.run_state import STATE, PreflightDone, RunState, state_of, usage_exit
from conformance.selection import plan_lines, select
from conformance.verdicts import covering

SPOOL = ".exchanges.spool.jsonl"
PREFLIGHT = "session start: is the target reachable?"

# pytest_keyboard_interrupt and pytest_runtest_logreport are given no config: the session's is
# kept here.
_current_config: pytest.Config | None = None


def _current_state() -> RunState | None:
    config = _current_config
    return state_of(config) if config is not None else None


# ----------------------------------------------------------------------------- options, marker


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
    config.addinivalue_line(
        "markers",
        "requirement(*ids, max_requests=None, max_requests_per_story=None, operations=()): the "
        "requirement IDs (spec/requirements.yaml) a check covers; max_requests (per example for "
        "hypothesis tests, or per profile story) and operations feed the dry-run plan",
    )
    config.addinivalue_line(
        "markers",
        "operations(*operations): the OpenAPI operations ('POST /webhook/{path}/{secret}') the "
        "checks of a module call, for the dry-run plan",
    )
    config.addinivalue_line(
        "markers",
        f"{PROBE_MARKER}(name): the check reads the outcome of this background probe, which then "
        "serves the check's requirements",
    )
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
    config.stash[STATE] = RunState(
        options=options,
        profile=valid.profile,
        levels=valid.levels,
        expectations=valid.expectations,
    )
    load_hypothesis_profile(options.max_examples)
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
    done = next(
        (p for p in session.config.pluginmanager.get_plugins() if isinstance(p, PreflightDone)),
        None,
    )
    # The deadline counts from the first request (`conformance run`'s own preflight when there
    # was one), so no answer of the target's can keep the run past it. It is armed at the end of
    # this hook: pytest skips sessionfinish, and so the report, for an interrupt during it.
    first_request_at = done.started_at if done is not None else recording.now()
    if done is not None:
        state.exchange_log.add(done.exchange, done.started_at, PREFLIGHT)
        state.preflight_requests = 1
    else:
        token = recording.current_check.set(PREFLIGHT)
        try:
            ensure_reachable(state.target)
        except TargetUnreachable as exc:
            state.aborted = True
            pytest.exit(f"conformance: {exc}", returncode=EXIT_UNREACHABLE)
        finally:
            recording.current_check.reset(token)
    arm_deadline(state, (recording.now() - first_request_at).total_seconds())


# ----------------------------------------------------------------------------- collection


@pytest.hookimpl(trylast=True)  # after -k and -m, so that the verdicts see the final selection
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = state_of(config)
    if state is None:
        return
    select(config, items, state)


def _start_background(session: pytest.Session, state: RunState) -> None:
    if state.dry_run:
        return
    selected = set(state.selected_ids)
    covered = {rid for outcome in state.outcomes.values() for rid in outcome.requirement_ids}
    state.async_target = AsyncTargetClient(state.profile, state.run_id)
    state.scheduler.start(
        state.async_target, state.profile, selected & covered, state.include_limit_test
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The long waits start as soon as the selection is known, before the first check runs."""
    state = state_of(session.config)
    if state is not None and not state.aborted:
        _start_background(session, state)


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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check marked blocked before it runs (`block_check`) reports that, and sends nothing."""
    state = state_of(item.config)
    if state is not None and item.nodeid in state.blocked_checks:
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


# ----------------------------------------------------------------------------- fixtures


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
    return state.target


@pytest.fixture(scope="session")
def background(request: pytest.FixtureRequest) -> Scheduler:
    return _require_state(request).scheduler


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
    terminalreporter.section("conformance: requirements")
    for line in render_table(state.summary, terminalreporter._tw.fullwidth):
        terminalreporter.write_line(line)
    for path in state.reports_written:
        terminalreporter.write_line(f"wrote {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = state_of(config)
    if state is None:
        return
    state.scheduler.stop()
    redact_other_reports(config)


def _writer(config: pytest.Config) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return reporter.write_line
    return lambda line: print(line, file=sys.stdout)
