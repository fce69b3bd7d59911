"""`conformance run / demo / requirements`: parse, call the library, map outcomes to exit codes.

Exit codes of `conformance run` (and of `demo`, which ends with one):
0 every selected requirement passed or was skipped for a profile reason; 1 a requirement failed;
2 a usage or profile error (one line naming the file and the field); 3 the target cannot be
reached (one line naming the URL and why); 130 the run was interrupted or hit its deadline.

On a finished run's summary.json: `gate` exits 0 when it passes and 1 when it fails; `compare`
exits 1 when a requirement newly fails and 0 otherwise; `report` exits 0. Each exits 2 on a usage
error (a missing or malformed file, an unknown option value).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tines_spec
from conformance import __version__
from conformance.cli_provision import add_command as add_provision_command
from conformance.cli_provision import dispatch as dispatch_provision_command
from conformance.cli_reports import add_commands as add_report_commands
from conformance.cli_reports import dispatch as dispatch_report_command
from conformance.errors import ConformanceError, UsageError

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 128 + 13  # as if killed by SIGPIPE, like other shell tools


@dataclass(frozen=True)
class RunOptions:
    profile: Path
    # None: reports/<run id>/, with reports/latest pointing at it.
    report_dir: Path | None = None
    levels: str = "must,should,may"
    only: tuple[str, ...] = ()
    max_examples: int = 10
    seed: int | None = None
    include_limit_test: bool = False
    dry_run: bool = False
    retries: int = 1
    expectations: Path | None = None
    checks: Path | None = None
    run_id: str | None = None
    pytest_args: tuple[str, ...] = ()


def _fail(message: str) -> None:
    print(f"conformance: {message}", file=sys.stderr)


def pytest_arguments(options: RunOptions) -> list[str]:
    """The pytest command line of a run: the plugin's options, the reports, the checks."""
    from conformance.plugin import CHECKS_DIR, default_report_dir

    report_dir = options.report_dir
    if report_dir is None:
        assert options.run_id is not None, "the run ID names the default report directory"
        report_dir = default_report_dir(options.run_id)
    args = [
        "-p",
        "no:cacheprovider",
        # Checks report through CheckFailure, never through a bare assert, so pytest's assertion
        # rewriting buys the suite nothing. It costs a lot: pytest rewrites every module of each
        # plugin's package (all of schemathesis), about 4 s per run where bytecode is not cached.
        "--assert=plain",
        f"--conformance-profile={options.profile}",
        f"--conformance-levels={options.levels}",
        f"--conformance-max-examples={options.max_examples}",
        f"--conformance-retries={options.retries}",
        "--rootdir",
        str((options.checks or CHECKS_DIR).parent),
    ]
    if options.report_dir is not None:
        args.append(f"--conformance-report-dir={options.report_dir}")
    if options.expectations is not None:
        args.append(f"--conformance-expectations={options.expectations}")
    args += [f"--conformance-only={rid}" for rid in options.only]
    if options.run_id:
        args.append(f"--conformance-run-id={options.run_id}")
    if options.seed is not None:
        args.append(f"--hypothesis-seed={options.seed}")
    if options.include_limit_test:
        args.append("--conformance-include-limit-test")
    if options.dry_run:
        args += ["--conformance-dry-run", "-q"]
    elif _allure_installed():
        # junit.xml and the other reports are the plugin's, rendered from the summary.
        args.append(f"--alluredir={report_dir / 'allure-results'}")
    args += list(options.pytest_args)
    args.append(str(options.checks or CHECKS_DIR))
    return args


def _allure_installed() -> bool:
    try:
        import allure_pytest  # noqa: F401
    except ImportError:
        return False
    return True


def preflight(options: RunOptions, run_id: str) -> Any:
    """What can be judged before pytest starts, so that it is one clean line, not pytest's.

    Returns the reachability exchange as a `PreflightDone` for the plugin, which records it and
    does not send its own (None for a dry run, which sends nothing)."""
    from conformance.http import TargetClient, ensure_reachable
    from conformance.plugin import parse_levels, unknown_ids
    from conformance.profile import load_profile

    try:
        parse_levels(options.levels)
    except ValueError as exc:
        raise UsageError(f"--levels: {exc}") from None
    missing = unknown_ids(list(options.only))
    if missing:
        raise UsageError(
            f"unknown requirement ID {', '.join(missing)} in --only "
            "(`conformance requirements` lists them)"
        )
    if options.max_examples < 1:
        raise UsageError("--max-examples must be at least 1")
    if options.retries < 0:
        raise UsageError("--retries must be 0 or more")
    if options.expectations is not None:
        from conformance.expectations import load_expectations

        load_expectations(options.expectations)
    if options.checks is not None and not options.checks.exists():
        raise UsageError(f"--checks: {options.checks} does not exist")
    profile = load_profile(options.profile)
    if options.dry_run:
        return None
    profile.api_key()
    from conformance import recording
    from conformance.plugin import PreflightDone

    started_at = recording.now()
    with TargetClient(profile, run_id) as client:
        return PreflightDone(ensure_reachable(client), started_at)


class _Outcome:
    """A pytest plugin object that keeps the conformance plugin's state once the session ends."""

    def __init__(self) -> None:
        self.state: Any = None

    def pytest_sessionfinish(self, session: Any) -> None:
        from conformance.plugin import state_of

        self.state = state_of(session.config)


def run(options: RunOptions) -> int:
    import pytest

    from conformance.errors import TargetUnreachable
    from conformance.plugin import new_run_id

    if options.run_id is None:
        options = replace(options, run_id=new_run_id())
    assert options.run_id is not None
    try:
        done = preflight(options, options.run_id)
    except TargetUnreachable as exc:
        _fail(str(exc))
        return EXIT_UNREACHABLE
    except ConformanceError as exc:
        _fail(str(exc))
        return EXIT_USAGE
    recorder = _Outcome()
    plugins: list[object] = [recorder] if done is None else [recorder, done]
    code = pytest.main(pytest_arguments(options), plugins=plugins)
    return exit_code(int(code), recorder.state)


def exit_code(pytest_code: int, state: Any) -> int:
    """The documented exit code from pytest's and the plugin's view of the run."""
    if state is None or state.aborted:
        # The plugin stopped the session before it ran (pytest.exit with our code), or pytest
        # itself refused the command line.
        if pytest_code in (EXIT_USAGE, EXIT_UNREACHABLE):
            return pytest_code
        return EXIT_USAGE if pytest_code in (4, 5) else EXIT_FAILED
    if state.dry_run:
        return EXIT_PASSED if pytest_code == 0 else EXIT_USAGE
    if state.summary is None:
        return EXIT_FAILED
    if state.summary.outcome == "interrupted":
        return EXIT_INTERRUPTED
    if state.summary.outcome == "failed" or pytest_code not in (0, 5):
        return EXIT_FAILED
    return EXIT_PASSED


def list_requirements(as_json: bool, levels: str | None) -> int:
    from conformance.plugin import parse_levels

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
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_parser = commands.add_parser("run", help="run the suite against the profile's target")
    run_parser.add_argument(
        "--profile",
        required=True,
        type=Path,
        metavar="FILE",
        help="the target profile (YAML; spec/schemas/profile.schema.json)",
    )
    run_parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the reports go: summary.json, summary.md, junit.xml, report.html, "
        "exchanges.har, allure-results (default: reports/<run id>/, and reports/latest)",
    )
    run_parser.add_argument(
        "--levels", default="must,should,may", help="comma-separated (default: all)"
    )
    run_parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="repeatable; one requirement"
    )
    run_parser.add_argument(
        "--max-examples",
        type=int,
        default=10,
        metavar="N",
        help="generated examples per property check (10)",
    )
    run_parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="hypothesis seed; a failure's report prints the one that reproduces it",
    )
    run_parser.add_argument(
        "--include-limit-test",
        action="store_true",
        help="also flood the probe story past its concurrency limit (WH-CONC-*)",
    )
    run_parser.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="run a failed check N more times before reporting it; a pass on retry is reported "
        "as flaky (1)",
    )
    run_parser.add_argument(
        "--expectations",
        type=Path,
        default=None,
        metavar="FILE",
        help="known deviations (YAML, spec/schemas/expectations.schema.json), marked in every "
        "report; `conformance gate` applies them",
    )
    run_parser.add_argument("--dry-run", action="store_true", help="print the plan, send nothing")
    run_parser.add_argument(
        "--checks",
        type=Path,
        default=None,
        metavar="PATH",
        help="a directory or file of checks to run instead of the built-in ones",
    )

    req_parser = commands.add_parser("requirements", help="list the requirements catalogue")
    req_parser.add_argument("--json", action="store_true", help="as a JSON array")
    req_parser.add_argument("--level", default=None, help="comma-separated levels to list")

    demo_parser = commands.add_parser(
        "demo", help="start the reference server and run the whole suite against it"
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
        return run(
            RunOptions(
                profile=args.profile,
                report_dir=args.report_dir,
                levels=args.levels,
                only=tuple(args.only),
                max_examples=args.max_examples,
                seed=args.seed if args.seed is not None else random.randrange(2**32),
                include_limit_test=args.include_limit_test,
                dry_run=args.dry_run,
                retries=args.retries,
                expectations=args.expectations,
                checks=args.checks,
            )
        )
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
