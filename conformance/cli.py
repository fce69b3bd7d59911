"""`conformance run / demo / requirements`: parse, call the library, map outcomes to exit codes.

Exit codes of `conformance run` (and of `demo`, which ends with one) are `conformance.exit_codes`: 0
every requirement passed (or is not observable); 1 one failed or was blocked, or the run showed less
(skipped, untested, --only), as the gate without expectations says; 2 a usage or profile error (one
line naming the file and the field); 3 set-up failed, e.g. the target cannot be reached (one line
naming the URL and why); 4 the run deadline was reached; 130 the run was interrupted. After 4 and
130 the partial report is written.

On a finished run's summary.json: `gate` exits 0 when it passes and 1 when it fails; `compare` exits
1 when a requirement newly fails and 0 otherwise; `report` exits 0. Each exits 2 on a usage error (a
missing or malformed file, an unknown option value)."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import tines_spec
from conformance import __version__
from conformance.cli_provision import add_command as add_provision_command
from conformance.cli_provision import dispatch as dispatch_provision_command
from conformance.cli_reports import add_commands as add_report_commands
from conformance.cli_reports import dispatch as dispatch_report_command
from conformance.errors import ConformanceError
from conformance.exit_codes import (
    COMMANDS_HELP,
    DONE_EXIT_CODES_HELP,
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_DEADLINE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PASSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    SETUP_EXIT_CODES_HELP,
)
from conformance.run_options import RunOptions, add_cli_options


def _fail(message: str) -> None:
    print(f"conformance: {message}", file=sys.stderr)


def _allure_installed() -> bool:
    try:
        import allure_pytest  # noqa: F401
    except ImportError:
        return False
    return True


def preflight(options: RunOptions, run_id: str) -> Any:
    """What can be judged before pytest starts, so that it is one clean line, not pytest's.

    Runs the set-up check (`conformance.setup_check`), prints its lines, and returns it as a
    `PreflightDone` for the plugin, which records its exchanges and judges the checks by it (None
    for a dry run, which sends nothing). Even an unreachable target goes on to the plugin, which
    blocks every check and writes the reports."""
    valid = options.validate(for_pytest=False)
    if options.dry_run:
        return None
    from conformance import recording
    from conformance.early_waits import EarlyWaits, start_early
    from conformance.http import TargetClient
    from conformance.request_budget import RequestBudget
    from conformance.run_state import PreflightDone
    from conformance.selection import selected_requirements
    from conformance.setup_check import check_setup
    from conformance.setup_gate import SETUP

    profile = valid.profile
    budget = RequestBudget(limit=profile.safety.max_requests)
    early: list[EarlyWaits] = []

    def start_long_waits() -> None:
        """The probe story answers: the long waits start now, not after pytest's collection.
        Only for the built-in checks, whose markers say which probes they read."""
        if options.checks is not None:
            return
        selected = selected_requirements(valid.levels, options.only)
        early.append(start_early(profile, run_id, budget, selected, options.include_limit_test))

    # The set-up's exchanges and the early probes' go to the run's HAR, which the session opens.
    recording.hold()
    started_at = recording.now()
    token = recording.current_check.set(SETUP)
    try:
        with TargetClient(profile, run_id) as client:
            client.budget = budget
            result = check_setup(client, probe_answered=start_long_waits)
    finally:
        recording.current_check.reset(token)
    _print_setup(result)
    return PreflightDone(result, started_at, budget, early[0] if early else None)


def _print_setup(result: Any) -> None:
    """One line per precondition: the problems on stderr, what holds on stdout."""
    if result.unreachable:
        _fail(str(result.unreachable_error()))
        return
    for problem in result.problems:
        _fail(f"set-up: {problem.line()}")
    for area in result.passed:
        print(f"conformance: set-up: {area}: ok", flush=True)


def check_setup_only(options: RunOptions) -> int:
    """`conformance check-setup`: the set-up check alone, one line per precondition."""
    from conformance.http import TargetClient
    from conformance.request_budget import RequestBudget
    from conformance.run_options import new_run_id
    from conformance.setup_check import check_setup

    valid = options.validate(for_pytest=False)
    with TargetClient(valid.profile, options.run_id or new_run_id()) as client:
        client.budget = RequestBudget(limit=valid.profile.safety.max_requests)
        result = check_setup(client)
        sent = client.requests_sent
    _print_setup(result)
    print(f"conformance: the set-up check sent {sent} requests")
    return EXIT_PASSED if result.ok else EXIT_UNREACHABLE


class _Outcome:
    """A pytest plugin object that keeps the conformance plugin's state once the session ends."""

    def __init__(self) -> None:
        self.state: Any = None

    def pytest_sessionfinish(self, session: Any) -> None:
        from conformance.run_state import state_of

        self.state = state_of(session.config)


def run(options: RunOptions) -> int:
    import pytest

    from conformance.run_options import new_run_id

    if options.run_id is None:
        options = replace(options, run_id=new_run_id())
    assert options.run_id is not None
    try:
        done = preflight(options, options.run_id)
    except ConformanceError as exc:
        _fail(str(exc))
        return EXIT_USAGE
    recorder = _Outcome()
    plugins: list[object] = [recorder] if done is None else [recorder, done]
    arguments = options.pytest_arguments(allure=_allure_installed())
    if done is not None and done.setup.unreachable and not options.debug:
        # Nothing will be sent: the one line said it all; the reports are written all the same.
        arguments.append("-qq")
    try:
        code = pytest.main(arguments, plugins=plugins)
    finally:
        # The session stops the long waits and takes what was held for its log; this is for
        # one that never started (pytest refused its command line).
        if done is not None:
            from conformance import recording

            if done.early is not None:
                done.early.scheduler.stop()
            recording.install(None)
    code = exit_code(int(code), recorder.state)
    if code in (EXIT_PASSED, EXIT_FAILED) and done is not None and not done.setup.ok:
        return EXIT_UNREACHABLE  # the areas the set-up did not block ran, and are reported
    return code


def exit_code(pytest_code: int, state: Any) -> int:
    """The documented exit code from pytest's and the plugin's view of the run."""
    if state is None or state.aborted:
        # The plugin stopped the session before it ran (pytest.exit with our code), or pytest
        # itself refused the command line.
        if pytest_code in (EXIT_USAGE, EXIT_UNREACHABLE):
            return pytest_code
        return EXIT_USAGE if pytest_code in (4, 5) else EXIT_FAILED
    if state.options.dry_run:
        return EXIT_PASSED if pytest_code == 0 else EXIT_USAGE
    if state.summary is None:
        return EXIT_FAILED
    if state.summary.outcome == "interrupted":
        return EXIT_DEADLINE if state.deadline_passed else EXIT_INTERRUPTED
    if state.summary.outcome in ("failed", "incomplete") or pytest_code not in (0, 5):
        return EXIT_FAILED
    return EXIT_PASSED


def list_requirements(as_json: bool, levels: str | None) -> int:
    from conformance.run_options import parse_levels

    catalogue = tines_spec.catalogue()
    try:
        wanted = parse_levels(levels) if levels else tines_spec.LEVELS
    except ValueError as exc:
        _fail(f"--level: {exc}")
        return EXIT_USAGE
    requirements = catalogue.at_levels(wanted)
    if as_json:
        rows = [
            {
                "id": r.id,
                "level": r.level,
                "title": r.title,
                "verification": r.verification,
                "needs": r.needs,
            }
            for r in requirements
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_PASSED
    width = max((len(r.id) for r in requirements), default=2)
    for r in requirements:
        print(f"{r.id:<{width}}  {r.level:<6}  {r.title}")
    print(f"{len(requirements)} requirements (spec {catalogue.spec_version})")
    return EXIT_PASSED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance",
        description="Check a target against the Tines Workflows-as-APIs and Stories Get contract.",
        epilog=COMMANDS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", help="run the suite against the profile's target", epilog=EXIT_CODES_HELP
    )
    add_cli_options(run_parser)

    setup_parser = commands.add_parser(
        "check-setup",
        help="check the target's set-up alone (base URL, API key, probe and race stories)",
        description="Send the set-up check's few requests (the profile's first story, two "
        "probes, one race request) and say, one line each, what is set up right or wrong.",
        epilog=SETUP_EXIT_CODES_HELP,
    )
    add_cli_options(setup_parser, names=("profile",))

    req_parser = commands.add_parser(
        "requirements", help="list the requirements catalogue", epilog=DONE_EXIT_CODES_HELP
    )
    req_parser.add_argument("--json", action="store_true", help="as a JSON array")
    req_parser.add_argument("--level", default=None, help="comma-separated levels to list")

    demo_parser = commands.add_parser(
        "demo",
        help="start the reference server and run the whole suite against it",
        epilog=EXIT_CODES_HELP,
    )
    demo_parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="as for run (reports/<run id>/, and reports/latest)",
    )
    demo_parser.add_argument(
        "--exit-timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="the reference's exit timeout, short so the timeout checks are quick (3)",
    )
    demo_parser.add_argument(
        "--max-examples", type=int, default=10, metavar="N", help="as for run (10)"
    )
    demo_parser.add_argument("--seed", type=int, default=None, metavar="N", help="as for run")
    add_report_commands(commands)
    add_provision_command(commands)
    return parser


def console_main() -> NoReturn:
    """The `conformance` command: `main`, then an exit that skips the interpreter's teardown.

    Freeing every module and object of a run (pytest's, schemathesis's, hypothesis's) took
    0.7 s after the last line was printed, on every run. The work is done by then: the atexit
    handlers run and the standard streams are flushed, as a normal exit would, and the process
    ends. Code that calls `main` in process (the tests) gets a return, not an exit."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line usage error
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_PASSED
    try:
        handled = dispatch_report_command(args)
        handled = dispatch_provision_command(args) if handled is None else handled
        if handled is not None:
            return handled
        if args.command == "requirements":
            return list_requirements(args.json, args.level)
        if args.command == "demo":
            from conformance.demo import run_demo

            return run_demo(
                report_dir=args.report_dir,
                exit_timeout=args.exit_timeout,
                max_examples=args.max_examples,
                seed=args.seed,
            )
        if args.command == "check-setup":
            return check_setup_only(RunOptions(profile=args.profile))
        seed = args.seed if args.seed is not None else random.randrange(2**32)
        return run(RunOptions.from_args(args, seed=seed))
    except ConformanceError as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output stopped reading (`conformance requirements | head`): not an
        # error of ours. Point stdout at /dev/null so the flush at exit cannot raise again, and
        # exit as a program killed by SIGPIPE does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
