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
- at the end each selected requirement gets a verdict (`conformance.reporting.outcomes`), written
  to summary.json and summary.md in the report directory and printed as a table. An interrupted
  run (Ctrl-C, or the deadline) still writes them, with what did not run as `untested`.

The marker: `requirement(*ids, max_requests=N, operations=(...))`. `max_requests` is what the dry
run prints as the most requests a check may send; for a hypothesis test it is per example and the
plan multiplies it by `--conformance-max-examples` (a failing example is then also replayed and
shrunk, which hypothesis bounds). `operations` adds to the operations the plan derives from the
catalogue's `encoded_by` of the check's requirements.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import pytest

import tines_spec
from conformance import __version__
from conformance.background import ProbeCancelled, Scheduler
from conformance.errors import ConformanceError, ProfileError, TargetUnreachable
from conformance.http import AsyncTargetClient, TargetClient, ensure_reachable
from conformance.profile import Profile, load_profile
from conformance.redaction import redact
from conformance.reporting.markdown import write_markdown
from conformance.reporting.outcomes import (
    CheckOutcome,
    RunSummary,
    judge_all,
    run_outcome,
)
from conformance.reporting.plan import plan_check, render_plan, requirement_ids
from conformance.reporting.summary import write_summary_json
from conformance.reporting.table import render_table
from conformance.result import CheckFailure

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
MARKER = "requirement"
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
HYPOTHESIS_PROFILE = "conformance-run"
_ALLURE_SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


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
        default="reports",
        help="where summary.json and summary.md are written (default: reports/)",
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
    state = RunState(
        profile=profile,
        levels=levels,
        only=only,
        run_id=config.getoption("conformance_run_id") or new_run_id(),
        report_dir=Path(config.getoption("conformance_report_dir")),
        dry_run=dry_run,
        include_limit_test=bool(config.getoption("conformance_include_limit_test")),
        max_examples=max_examples,
        seed=_seed(config),
    )
    config.stash[STATE] = state
    _load_hypothesis_profile(max_examples)
    _import_long_waits()
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(CHECKS_DIR)]


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
    state.target = TargetClient(state.profile, state.run_id)
    try:
        ensure_reachable(state.target)
    except TargetUnreachable as exc:
        state.aborted = True
        pytest.exit(f"conformance: {exc}", returncode=EXIT_UNREACHABLE)
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
    """Feature = the requirement's area (its ID's prefix), story = the ID, severity = level."""
    from allure_pytest.utils import ALLURE_LABEL_MARK

    catalogue = tines_spec.catalogue()
    label = getattr(pytest.mark, ALLURE_LABEL_MARK)
    areas = sorted({rid.rsplit("-", 1)[0] for rid in ids})
    item.add_marker(label(*areas, label_type="feature"))
    item.add_marker(label(*ids, label_type="story"))
    strictest = min(ids, key=lambda rid: tines_spec.LEVELS.index(catalogue[rid].level))
    item.add_marker(label(_ALLURE_SEVERITY[catalogue[strictest].level], label_type="severity"))


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


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Redact the report (innermost, so JUnit and Allure see only the redacted one) and record
    the test's outcome for the verdicts."""
    report = yield
    state = state_of(item.config)
    if state is None:
        return report
    _redact_report(report)
    outcome = state.outcomes.get(item.nodeid)
    if outcome is None:
        return report
    if report.failed:
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, ProbeCancelled) and state.stopped:
            outcome.status, outcome.reason = "notrun", state.stopped
            return report
        outcome.status = "failed"
        outcome.reason, outcome.failed_ids = _failure(error, outcome.requirement_ids, report)
        reproduction = _reproduction(state, outcome)
        report.sections.append(("conformance", reproduction))
        # JUnit reads the properties of the teardown report, which copies the item's.
        item.user_properties.append(("reproduce", reproduction.splitlines()[-1]))
    elif report.skipped and outcome.status != "failed":
        outcome.status = "skipped"
        outcome.reason = _skip_reason(report)
    elif report.passed and report.when == "call" and outcome.status == "notrun":
        outcome.status = "passed"
    return report


def _failure(
    error: BaseException | None, test_ids: tuple[str, ...], report: pytest.TestReport
) -> tuple[str, tuple[str, ...]]:
    """The one-line reason and the requirements a failure names.

    Hypothesis reports several distinct failures as an exception group: the check failures in it
    are taken one by one, so that each requirement they name is failed with its own reason.
    """
    leaves = _leaves(error) if error is not None else []
    failures = [leaf for leaf in leaves if isinstance(leaf, CheckFailure)]
    if failures:
        named: list[str] = []
        for failure in failures:
            named.extend(r for r in failure.requirement_ids if r in test_ids and r not in named)
        if len(failures) < len(leaves):  # an error beside them: it counts against them all
            named = list(test_ids)
        more = f" (and {len(leaves) - 1} more failures)" if len(leaves) > 1 else ""
        return redact(failures[0].reason + more), tuple(named) or test_ids
    if error is None:
        return redact(report.longreprtext.strip().splitlines()[-1:][0][:300]), test_ids
    message = " ".join(str(error).split())
    where = "" if report.when == "call" else f" (in {report.when})"
    return redact(f"{type(error).__name__}{where}: {message}"[:300]), test_ids


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return redact(text.removeprefix("Skipped: "))


def _reproduction(state: RunState, outcome: CheckOutcome) -> str:
    only = " ".join(f"--only {rid}" for rid in outcome.failed_ids)
    return (
        f"hypothesis seed: {state.seed}\n"
        f"conformance run --profile {state.profile.path} {only} --seed {state.seed}"
    )


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
    if state.aborted or state.dry_run:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED and state.stopped is None:
        state.stopped = "interrupted"
    state.summary = build_summary(state)
    state.report_dir.mkdir(parents=True, exist_ok=True)
    summary_json = state.report_dir / "summary.json"
    summary_md = state.report_dir / "summary.md"
    write_summary_json(state.summary, summary_json)
    write_markdown(state.summary, summary_md)
    state.reports_written = (summary_json, summary_md)


def build_summary(state: RunState) -> RunSummary:
    catalogue = tines_spec.catalogue()
    wanted = [r for r in catalogue.at_levels(state.levels) if not state.only or r.id in state.only]
    outcomes = list(state.outcomes.values())
    results = judge_all(wanted, outcomes, state.stopped)
    sent = sum(c.requests_sent for c in (state.target, state.async_target) if c is not None)
    notes: list[str] = []
    if state.stopped:
        notes.append(f"the run stopped early: {state.stopped}")
    if not state.include_limit_test:
        notes.append("the concurrency-limit test was not included (--include-limit-test)")
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
        outcome=run_outcome(results, outcomes, state.stopped),
        requests_sent=sent,
        requirements=results,
        notes=tuple(notes),
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
