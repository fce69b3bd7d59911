"""The pytest plugin of the suite (entry point `pytest11`): `pytest --conformance-profile FILE`.

It is loaded in every pytest run of this environment, the project's own tests included, so without
`--conformance-profile` it only registers the `requirement` marker and does nothing else. With it:

- the session collects `conformance/checks` unless test paths are given;
- a typo in `--conformance-only` or in a check's marker is a usage error (exit 2), never an empty
  run; checks whose requirements are all outside the selected levels and IDs are deselected;
- the target is tried once at session start (no HTTP answer at all: exit 3, one line);
- the background probes start together before the first check, and the run deadline is armed;
- every report is redacted before JUnit XML or Allure see it, and carries its requirement IDs,
  levels and sentences (JUnit properties, Allure feature/story/severity labels);
- a failed check is run once more (`--conformance-retries`, through pytest-rerunfailures) before
  its failure is reported; one that then passes is reported as flaky, with the failed attempt's
  evidence;
- every exchange is recorded (`conformance.recording`): exchanges.har, and each check's own
  exchanges attached to its Allure result;
- at the end each selected requirement gets a verdict (`conformance.reporting.outcomes`), written
  to the report directory (summary.json, summary.md, junit.xml, report.html, exchanges.har) and
  printed as a table. An interrupted run (Ctrl-C, or the deadline) still writes them, with what did
  not run as `untested`. Without `--conformance-report-dir` the directory is `reports/<run id>/`,
  and `reports/latest` points at it.

The marker: `requirement(*ids, max_requests=N, operations=(...))`. `max_requests` is what the dry
run prints as the most requests a check may send; for a hypothesis test it is per example and the
plan multiplies it by `--conformance-max-examples` (a failing example is then also replayed and
shrunk, which hypothesis bounds). `operations` adds to the operations the plan derives from the
catalogue's `encoded_by` of the check's requirements.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import pytest

import tines_spec
from conformance import __version__, recording
from conformance.background import ProbeCancelled, Scheduler
from conformance.errors import ConformanceError, ProfileError, TargetUnreachable
from conformance.exchange import Exchange
from conformance.http import AsyncTargetClient, TargetClient, ensure_reachable
from conformance.profile import Profile, load_profile
from conformance.redaction import redact
from conformance.reporting.markdown import write_markdown
from conformance.reporting.outcomes import (
    CheckOutcome,
    Evidence,
    RunSummary,
    judge_all,
    run_outcome,
)
from conformance.reporting.plan import plan_check, render_plan, requirement_ids
from conformance.reporting.summary import redacted_document, write_document
from conformance.reporting.table import render_table
from conformance.result import Blocked, CheckFailure, NoEvidence
from conformance.verdicts import AttemptVerdicts, covering, judge_attempt

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
MARKER = "requirement"
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
HYPOTHESIS_PROFILE = "conformance-run"
DEFAULT_REPORTS = Path("reports")
LATEST = "latest"
SPOOL = ".exchanges.spool.jsonl"
PREFLIGHT = "session start: is the target reachable?"
_DETAILS_LIMIT = 20_000
_ALLURE_SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


@dataclass(frozen=True)
class PreflightDone:
    """Handed to pytest as a plugin object by `conformance run`, which has already tried the
    target (to fail in one clean line before pytest starts): the session records that exchange
    rather than sending the same request again."""

    exchange: Exchange
    started_at: datetime


class RunDeadline(KeyboardInterrupt):
    """Raised in the main thread when safety.run_deadline_seconds passes: pytest then ends the run
    as it does at Ctrl-C, and the report marks what did not run as untested."""


@dataclass
class RunState:
    """Everything the plugin keeps for one session (in `config.stash`)."""

    profile: Profile
    levels: tuple[str, ...]
    only: tuple[str, ...]
    run_id: str
    report_dir: Path
    dry_run: bool
    include_limit_test: bool
    max_examples: int
    seed: int | None
    retries: int = 0
    link_latest: bool = False
    expectations: tuple[Any, ...] = ()
    expectations_path: Path | None = None
    exchange_log: recording.ExchangeLog | None = None
    preflight_requests: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    selected_ids: tuple[str, ...] = ()
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)
    scheduler: Scheduler = field(default_factory=Scheduler)
    target: TargetClient | None = None
    async_target: AsyncTargetClient | None = None
    stopped: str | None = None
    aborted: bool = False
    summary: RunSummary | None = None
    # Checks marked blocked before they run (block_check), by node ID.
    blocked_checks: dict[str, Blocked] = field(default_factory=dict)
    reports_written: tuple[Path, ...] = ()
    _disarm: list[Any] = field(default_factory=list)


STATE = pytest.StashKey[RunState]()
# pytest_keyboard_interrupt is given no config: the session's is kept here.
_current_config: pytest.Config | None = None


def state_of(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE, None)


def _usage_exit(message: str) -> NoReturn:
    pytest.exit(f"conformance: {redact(message)}", returncode=EXIT_USAGE)


# ----------------------------------------------------------------------------- options, marker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "tines-conformance suite")
    group.addoption(
        "--conformance-profile",
        metavar="FILE",
        default=None,
        help="run the conformance suite against the target this profile names",
    )
    group.addoption(
        "--conformance-report-dir",
        metavar="DIR",
        default=None,
        help="where the reports are written (default: reports/<run id>/, with reports/latest "
        "pointing at it)",
    )
    group.addoption(
        "--conformance-retries",
        metavar="N",
        type=int,
        default=1,
        help="run a failed check N more times before its failure is reported; one that then "
        "passes is reported as flaky (default: 1)",
    )
    group.addoption(
        "--conformance-expectations",
        metavar="FILE",
        default=None,
        help="known deviations (spec/schemas/expectations.schema.json), shown in every report",
    )
    group.addoption(
        "--conformance-levels",
        metavar="LEVELS",
        default="must,should,may",
        help="comma-separated levels to check (default: must,should,may)",
    )
    group.addoption(
        "--conformance-only",
        metavar="ID",
        action="append",
        default=[],
        help="check only this requirement (repeatable)",
    )
    group.addoption(
        "--conformance-max-examples",
        metavar="N",
        type=int,
        default=10,
        help="hypothesis examples per generated check (default: 10)",
    )
    group.addoption(
        "--conformance-include-limit-test",
        action="store_true",
        default=False,
        help="also run the concurrency-limit flood (WH-CONC-*)",
    )
    group.addoption("--conformance-run-id", metavar="ID", default=None, help="the run's ID")
    group.addoption(
        "--conformance-dry-run",
        action="store_true",
        default=False,
        help="print the plan (checks, requirement IDs, operations, most requests) and send nothing",
    )


def default_report_dir(run_id: str) -> Path:
    """Where a run's reports go when no directory is given: one directory per run, so that no
    run overwrites another's evidence."""
    return DEFAULT_REPORTS / run_id


def parse_levels(text: str) -> tuple[str, ...]:
    """`must,should` -> ("MUST", "SHOULD"), in the catalogue's order; unknown names raise."""
    asked = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = asked - set(tines_spec.LEVELS)
    if unknown or not asked:
        wrong = ", ".join(sorted(unknown)) or "(none)"
        raise ValueError(f"unknown level {wrong}; choose from {', '.join(tines_spec.LEVELS)}")
    return tuple(level for level in tines_spec.LEVELS if level in asked)


def unknown_ids(ids: tuple[str, ...] | list[str]) -> list[str]:
    catalogue = tines_spec.catalogue()
    return [rid for rid in ids if rid not in catalogue]


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


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
    profile_path = config.getoption("conformance_profile")
    if not profile_path:
        return
    global _current_config
    _current_config = config
    dry_run = bool(config.getoption("conformance_dry_run"))
    try:
        levels = parse_levels(config.getoption("conformance_levels"))
    except ValueError as exc:
        _usage_exit(f"--conformance-levels: {exc}")
    only = tuple(config.getoption("conformance_only"))
    missing = unknown_ids(only)
    if missing:
        _usage_exit(
            f"unknown requirement ID {', '.join(missing)} in --conformance-only "
            "(`conformance requirements` lists them)"
        )
    try:
        profile = load_profile(profile_path)
        if not dry_run:
            profile.api_key()
    except ProfileError as exc:
        _usage_exit(str(exc))
    max_examples = int(config.getoption("conformance_max_examples"))
    if max_examples < 1:
        _usage_exit("--conformance-max-examples must be at least 1")
    expectations_path = config.getoption("conformance_expectations")
    expectations: tuple[Any, ...] = ()
    if expectations_path:
        from conformance.expectations import load_expectations

        try:
            expectations = load_expectations(Path(expectations_path))
        except ConformanceError as exc:
            _usage_exit(str(exc))
    run_id = config.getoption("conformance_run_id") or new_run_id()
    given_dir = config.getoption("conformance_report_dir")
    state = RunState(
        profile=profile,
        levels=levels,
        only=only,
        run_id=run_id,
        report_dir=Path(given_dir) if given_dir else default_report_dir(run_id),
        dry_run=dry_run,
        include_limit_test=bool(config.getoption("conformance_include_limit_test")),
        max_examples=max_examples,
        seed=_seed(config),
        retries=_retries(config),
        link_latest=not given_dir,
        expectations=expectations,
        expectations_path=Path(expectations_path) if expectations_path else None,
    )
    config.stash[STATE] = state
    _load_hypothesis_profile(max_examples)
    _import_long_waits()
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(CHECKS_DIR)]


def _retries(config: pytest.Config) -> int:
    """How many more times a failed check runs: pytest-rerunfailures does the running. Its own
    `--reruns`, if given, wins; otherwise ours is handed to it."""
    retries = int(config.getoption("conformance_retries"))
    if retries < 0:
        _usage_exit("--conformance-retries must be 0 or more")
    if not config.pluginmanager.has_plugin("rerunfailures"):
        if retries:
            _usage_exit("--conformance-retries needs pytest-rerunfailures (pip install it)")
        return 0
    given = config.getoption("reruns", None)
    if given is not None:
        return int(given)
    config.option.reruns = retries
    return retries


def _seed(config: pytest.Config) -> int:
    """The hypothesis seed of the run: the one given, or a fresh one forced on every test, so that
    any failure can be replayed with `--seed`."""
    from hypothesis import core

    given = config.getoption("hypothesis_seed", None)
    if given is not None:
        try:
            return int(given)
        except ValueError:
            _usage_exit(f"--hypothesis-seed must be an integer, not {given!r}")
    seed = random.SystemRandom().randrange(2**32)
    config.option.hypothesis_seed = str(seed)
    core.global_force_seed = seed  # type: ignore[assignment]
    return seed


def _load_hypothesis_profile(max_examples: int) -> None:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        HYPOTHESIS_PROFILE,
        max_examples=max_examples,
        # A target's latency is not the code under test: no deadline, no too-slow health check.
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
        # A run is reproduced by its seed; an example database would replay old examples
        # against a target that may have changed, and litter the user's directory.
        database=None,
        print_blob=True,
    )
    settings.load_profile(HYPOTHESIS_PROFILE)


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
    _arm_deadline(state)


def _arm_deadline(state: RunState) -> None:
    """Stop the run at safety.run_deadline_seconds as Ctrl-C would, from wherever it is waiting.

    On POSIX a SIGALRM timer raises `RunDeadline` in the main thread, which also breaks a blocking
    socket read; elsewhere a timer thread interrupts the main thread.
    """
    seconds = state.profile.safety.run_deadline_seconds

    def expire() -> None:
        state.stopped = f"the run deadline of {seconds:g} s passed"
        state.scheduler.cancel()

    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            expire()
            raise RunDeadline(state.stopped)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)

        def disarm() -> None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        state._disarm.append(disarm)
    else:
        import _thread

        def fire() -> None:
            expire()
            _thread.interrupt_main()

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()
        state._disarm.append(timer.cancel)


# ----------------------------------------------------------------------------- collection


@pytest.hookimpl(trylast=True)  # after -k and -m, so that the verdicts see the final selection
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = state_of(config)
    if state is None:
        return
    catalogue = tines_spec.catalogue()
    bad = [
        f"{item.nodeid} names {rid}"
        for item in items
        for rid in requirement_ids(item)
        if rid not in catalogue
    ]
    if bad:
        _usage_exit(f"unknown requirement ID in a check's marker: {'; '.join(bad[:5])}")
    selected = {r.id for r in catalogue.at_levels(state.levels)}
    if state.only:
        selected &= set(state.only)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        ids = set(requirement_ids(item))
        keep = bool(ids & selected) if ids else not state.only
        (kept if keep else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if not kept:
        asked = ", ".join(state.only) if state.only else f"level {', '.join(state.levels)}"
        _usage_exit(f"no check covers {asked}: nothing would run")
    # Checks that read a background probe's outcome go last (a stable sort keeps the rest in
    # order): the fast checks then run while the long waits are under way, and the burst, which
    # holds the target's run slots, starts only once no fast check can be starved by it.
    items.sort(key=lambda item: "background" in getattr(item, "fixturenames", ()))
    state.selected_ids = tuple(r.id for r in catalogue.requirements if r.id in selected)
    allure_active = config.pluginmanager.has_plugin("allure_listener")
    for item in kept:
        ids_here = requirement_ids(item)
        state.outcomes[item.nodeid] = CheckOutcome(item.nodeid, ids_here)
        for rid in ids_here:
            requirement = catalogue[rid]
            item.user_properties.append(("requirement", rid))
            item.user_properties.append(("level", f"{rid}: {requirement.level}"))
            item.user_properties.append(("sentence", f"{rid}: {requirement.sentence}"))
        if allure_active and ids_here:
            _label_for_allure(item, ids_here)


def _label_for_allure(item: pytest.Item, ids: tuple[str, ...]) -> None:
    """Epic = the source document, feature = the requirement's area (its ID's prefix), story =
    the ID, severity = the strictest level; `requirement` and `level` labels carry the IDs and
    levels as such, and each requirement links to its sentence on the published page."""
    from allure_pytest.utils import ALLURE_LABEL_MARK, ALLURE_LINK_MARK

    catalogue = tines_spec.catalogue()
    label = getattr(pytest.mark, ALLURE_LABEL_MARK)
    link = getattr(pytest.mark, ALLURE_LINK_MARK)
    requirements = [catalogue[rid] for rid in ids]
    epics = sorted({catalogue.document_title(r) for r in requirements})
    areas = sorted({rid.rsplit("-", 1)[0] for rid in ids})
    item.add_marker(label(*epics, label_type="epic"))
    item.add_marker(label(*areas, label_type="feature"))
    item.add_marker(label(*ids, label_type="story"))
    item.add_marker(label(*ids, label_type="requirement"))
    levels = sorted({f"{r.id}: {r.level}" for r in requirements})
    item.add_marker(label(*levels, label_type="level"))
    strictest = min(requirements, key=lambda r: tines_spec.LEVELS.index(r.level))
    item.add_marker(label(_ALLURE_SEVERITY[strictest.level], label_type="severity"))
    for requirement in requirements:
        item.add_marker(
            link(catalogue.source_url(requirement), name=requirement.id, link_type="requirement")
        )


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


def plan_lines(items: list[pytest.Item], state: RunState) -> list[str]:
    """The dry run's plan (see `conformance.reporting.plan`)."""
    probes = state.scheduler.plan(state.selected_ids, state.include_limit_test)
    return render_plan(
        [plan_check(item, state.max_examples, len(state.profile.stories.ids)) for item in items],
        header=f"plan for {redact(state.profile.target.base_url)} (run {state.run_id}); "
        "nothing will be sent",
        probes=[(probe.name, tuple(probe.requirement_ids)) for probe in probes],
        max_examples=state.max_examples,
        rate=state.profile.safety.max_requests_per_second,
        in_flight=state.profile.safety.max_in_flight,
    )


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


@dataclass(frozen=True)
class AttemptFailure:
    """What `makereport` read off a failed phase, for `logreport` to count once it knows whether
    the attempt is final or will be run again."""

    reason: str
    failed_ids: tuple[str, ...]
    evidence: Evidence | None
    stopped: bool = False
    verdicts: AttemptVerdicts | None = None


_ATTEMPT = "conformance_attempt"
# The properties the plugin itself puts on every check; the summary carries them per requirement.
_OWN_PROPERTIES = frozenset({"requirement", "level", "sentence"})


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
    _redact_report(report)
    outcome = state.outcomes.get(item.nodeid)
    if outcome is None:
        return report
    _attach_exchanges(item, state)
    error = call.excinfo.value if call.excinfo is not None else None
    if report.skipped and isinstance(error, Blocked | NoEvidence):
        verdicts = judge_attempt([error], outcome.requirement_ids)
        reason = error.summary if isinstance(error, Blocked) else f"no evidence: {error.reason}"
        setattr(report, _ATTEMPT, AttemptFailure(reason, (), None, verdicts=verdicts))
    if report.failed:
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, ProbeCancelled) and state.stopped:
            setattr(report, _ATTEMPT, AttemptFailure(state.stopped, (), None, stopped=True))
            return report
        reason, failed_ids, evidence, verdicts = _failure(
            error,
            outcome.requirement_ids,
            report,
            check=item.nodeid,
            reproduce=lambda ids: _reproduction(state, ids),
        )
        setattr(report, _ATTEMPT, AttemptFailure(reason, failed_ids, evidence, verdicts=verdicts))
        report.sections.append(("conformance", f"hypothesis seed: {state.seed}"))
        report.sections.append(("reproduce", evidence.reproduce))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the report toward its check's outcome. A failed attempt that pytest-rerunfailures
    will run again arrives as `rerun`: its evidence is kept, in case the retry passes (flaky)."""
    config = _current_config
    state = state_of(config) if config is not None else None
    if state is None:
        return
    outcome = state.outcomes.get(report.nodeid)
    if outcome is None:
        return
    outcome.duration_seconds += report.duration
    for name, value in report.user_properties:
        if name not in _OWN_PROPERTIES:
            outcome.properties[str(name)] = redact(str(value))
    outcome.attempts = max(outcome.attempts, int(getattr(report, "rerun", 0) or 0) + 1)
    attempt: AttemptFailure | None = getattr(report, _ATTEMPT, None)
    if str(report.outcome) == "rerun":  # pytest-rerunfailures' own outcome, beside pytest's
        if attempt is not None and outcome.evidence is None:
            outcome.evidence = attempt.evidence
        return
    if report.failed:
        if attempt is not None and attempt.stopped:
            outcome.status, outcome.reason = "notrun", attempt.reason
            return
        outcome.status = "failed"
        if attempt is not None:
            outcome.reason, outcome.failed_ids = attempt.reason, attempt.failed_ids
            outcome.evidence = attempt.evidence
            outcome.take(attempt.verdicts)
        else:  # a failure no makereport of ours saw: count it against every requirement
            outcome.reason = redact(report.longreprtext.strip().splitlines()[-1][:300])
            outcome.failed_ids = outcome.requirement_ids
    elif report.skipped and outcome.status != "failed":
        outcome.status = "skipped"
        outcome.reason = _skip_reason(report)
        if attempt is not None and attempt.verdicts is not None:
            outcome.reason = attempt.reason
            outcome.take(attempt.verdicts)
    elif report.passed and report.when == "call" and outcome.status == "notrun":
        outcome.status = "passed"


def _attach_exchanges(item: pytest.Item, state: RunState) -> None:
    """Each exchange the check sent, as evidence on its Allure result (already redacted)."""
    log = state.exchange_log
    if log is None:
        return
    entries = log.take(item.nodeid)
    if not entries or not item.config.pluginmanager.has_plugin("allure_listener"):
        return
    import allure

    for number, entry in enumerate(entries, start=1):
        request, response = entry["request"], entry["response"]
        status = response["status"] or response.get("_error", "no answer")
        allure.attach(
            json.dumps({"request": request, "response": response}, indent=2, ensure_ascii=False),
            name=f"exchange {number}: {request['method']} {request['url']} -> {status}",
            attachment_type=allure.attachment_type.JSON,
        )


def _failure(
    error: BaseException | None,
    test_ids: tuple[str, ...],
    report: pytest.TestReport,
    *,
    check: str,
    reproduce: Callable[[tuple[str, ...]], str],
) -> tuple[str, tuple[str, ...], Evidence, AttemptVerdicts]:
    """The one-line reason, the requirements a failure names, and its evidence.

    Hypothesis reports several distinct failures as an exception group: the check failures in it
    are taken one by one, so that each requirement they name is failed with its own reason.
    """
    leaves = _leaves(error) if error is not None else []
    failures = [leaf for leaf in leaves if isinstance(leaf, CheckFailure)]
    verdicts = judge_attempt(leaves or [AssertionError()], test_ids)
    if failures:
        more = f" (and {len(leaves) - 1} more failures)" if len(leaves) > 1 else ""
        reason = redact(failures[0].reason + more)
        failed_ids = verdicts.failed or (() if verdicts.blocked else test_ids)
        head = failures[0]
        exchange = head.exchange or next(iter(head.extra_exchanges), None)
        details = "\n\n".join(f.render() for f in failures)
        expected, actual = head.expected, head.actual
        curl = exchange.curl() if exchange is not None else None
    else:
        if error is None:
            reason = redact(report.longreprtext.strip().splitlines()[-1:][0][:300])
        else:
            message = " ".join(str(error).split())
            where = "" if report.when == "call" else f" (in {report.when})"
            reason = redact(f"{type(error).__name__}{where}: {message}"[:300])
        failed_ids = test_ids
        expected = "the check to run to its end"
        actual = reason
        details = report.longreprtext
        curl = None
    if len(details) > _DETAILS_LIMIT:
        details = details[:_DETAILS_LIMIT] + f"\n... ({len(details)} characters in all)"
    evidence = Evidence(
        check=check,
        summary=reason,
        expected=redact(expected),
        actual=redact(actual),
        details=redact(details),
        curl=curl,
        reproduce=reproduce(failed_ids or test_ids),
    )
    return reason, failed_ids, evidence, verdicts


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return redact(text.removeprefix("Skipped: "))


def _reproduction(state: RunState, failed_ids: tuple[str, ...]) -> str:
    """The command that runs the failing requirements' checks again, on the same examples."""
    only = " ".join(f"--only {rid}" for rid in failed_ids)
    return redact(f"conformance run --profile {state.profile.path} {only} --seed {state.seed}")


def _command(state: RunState) -> str:
    """The command that repeats the whole run, with its seed."""
    parts = [
        "conformance run",
        f"--profile {state.profile.path}",
        f"--levels {','.join(level.lower() for level in state.levels)}",
        *(f"--only {rid}" for rid in state.only),
        f"--max-examples {state.max_examples}",
        f"--retries {state.retries}",
    ]
    if state.include_limit_test:
        parts.append("--include-limit-test")
    if state.expectations_path is not None:
        parts.append(f"--expectations {state.expectations_path}")
    parts.append(f"--seed {state.seed}")
    return redact(" ".join(parts))


def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    found = [("python", platform.python_version()), ("platform", platform.platform(terse=True))]
    for package in ("pytest", "hypothesis", "schemathesis", "httpx"):
        with contextlib.suppress(PackageNotFoundError):
            found.append((package, version(package)))
    return tuple(found)


def _redact_report(report: pytest.TestReport) -> None:
    longrepr = report.longrepr
    if longrepr is not None:
        if isinstance(longrepr, tuple):
            path, line, message = longrepr
            report.longrepr = (path, line, redact(str(message)))
        else:
            text = str(longrepr)
            cleaned = redact(text)
            if cleaned != text:
                report.longrepr = cleaned
    report.sections = [(title, redact(content)) for title, content in report.sections]
    report.user_properties = [(name, redact(str(value))) for name, value in report.user_properties]


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
    config = _current_config
    state = state_of(config) if config is not None else None
    if state is None or state.aborted:
        return
    if isinstance(excinfo.value, pytest.exit.Exception) and excinfo.value.returncode in (
        EXIT_USAGE,
        EXIT_UNREACHABLE,
    ):
        state.aborted = True
        return
    _disarm_deadline(state)
    if state.stopped is None:
        state.stopped = "interrupted (Ctrl-C)"
    state.scheduler.cancel()


def _disarm_deadline(state: RunState) -> None:
    for disarm in state._disarm:
        disarm()
    state._disarm.clear()


@pytest.hookimpl(wrapper=True, specname="pytest_runtestloop")
def pytest_runtestloop_then_disarm(session: pytest.Session) -> Generator[None, object, object]:
    """The deadline covers collection and the checks; once they are over it cannot fire in the
    middle of writing the report."""
    try:
        return (yield)
    finally:
        state = state_of(session.config)
        if state is not None:
            _disarm_deadline(state)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = state_of(session.config)
    if state is None:
        return
    _disarm_deadline(state)
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


def write_reports(state: RunState, summary: RunSummary) -> tuple[Path, ...]:
    """Every report of the run, each rendered from the one summary document."""
    from conformance.reporting.html import write_html
    from conformance.reporting.junit import write_junit

    directory = state.report_dir
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    log = state.exchange_log
    if log is not None:
        har = directory / "exchanges.har"
        log.write_har(har, run_id=state.run_id)
        log.close()
        written.append(har)
    document = redacted_document(summary)
    if state.expectations_path is not None:
        from conformance.expectations import annotate

        document = annotate(
            document,
            state.expectations,
            today=datetime.now(UTC).date(),
            file=str(state.expectations_path),
        )
    names = ["summary.json", "summary.md", "junit.xml", "report.html"]
    names += [path.name for path in written]
    if (directory / "allure-results").is_dir():
        names.append("allure-results")
    document["artifacts"] = names
    paths = [directory / name for name in names[:4]]
    write_document(document, paths[0])
    write_markdown(document, paths[1])
    write_junit(document, paths[2])
    write_html(document, paths[3])
    if state.link_latest:
        _point_latest_at(directory)
    return (*paths, *written)


def _point_latest_at(directory: Path) -> None:
    """`reports/latest` -> this run's directory, replaced in one step so that a reader never
    finds it missing. Where symbolic links cannot be made, the link is left as it was."""
    link = directory.parent / LATEST
    staging = directory.parent / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(OSError):
        staging.unlink(missing_ok=True)
        staging.symlink_to(directory.name, target_is_directory=True)
        os.replace(staging, link)


def build_summary(state: RunState) -> RunSummary:
    catalogue = tines_spec.catalogue()
    wanted = [r for r in catalogue.at_levels(state.levels) if not state.only or r.id in state.only]
    outcomes = list(state.outcomes.values())
    results = judge_all(wanted, outcomes, state.stopped)
    clients = (state.target, state.async_target)
    sent = state.preflight_requests + sum(c.requests_sent for c in clients if c is not None)
    notes: list[str] = []
    if state.stopped:
        notes.append(f"the run stopped early: {state.stopped}")
    if not state.include_limit_test:
        notes.append("the concurrency-limit test was not included (--include-limit-test)")
    checks = tuple(state.outcomes.values())
    return RunSummary(
        tool_version=__version__,
        spec_version=catalogue.spec_version,
        run_id=state.run_id,
        target_name=state.profile.name,
        base_url=redact(state.profile.target.base_url),
        profile_path=str(state.profile.path),
        started_at=state.started_at,
        duration_seconds=time.monotonic() - state.started,
        levels=state.levels,
        seed=state.seed,
        outcome=run_outcome(
            results,
            outcomes,
            state.stopped,
            limited=len(wanted) < len(catalogue.at_levels(state.levels)),
        ),
        requests_sent=sent,
        requirements=results,
        notes=tuple(notes),
        checks=checks,
        retries=state.retries,
        command=_command(state),
        only=state.only,
        versions=_versions(),
    )


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
    """A last pass over the files other plugins wrote (JUnit XML, Allure results): whatever
    reached them past the report redaction (a captured log line, say) is masked here."""
    state = state_of(config)
    if state is None:
        return
    state.scheduler.stop()
    paths: list[Path] = []
    xml = getattr(config.option, "xmlpath", None)
    if xml:
        paths.append(Path(xml))
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir and Path(allure_dir).is_dir():
        paths.extend(p for p in Path(allure_dir).iterdir() if p.is_file())
    for path in paths:
        redact_file(path)


def redact_file(path: Path) -> None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = path.read_text(encoding="utf-8")
        cleaned = redact(text)
        if cleaned != text:
            path.write_text(cleaned, encoding="utf-8")


def _writer(config: pytest.Config) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return reporter.write_line
    return lambda line: print(line, file=sys.stdout)


__all__ = [
    "CHECKS_DIR",
    "ConformanceError",
    "RunState",
    "build_summary",
    "parse_levels",
    "plan_lines",
    "state_of",
    "unknown_ids",
]
