"""`conformance gate / report / compare`: the commands that act on a finished run's summary.json.

They send nothing to any target: they read summaries (and an expectations file), so CI can run
the suite once and then decide, re-render and compare as often as it likes. `conformance.cli`
adds them to its parser with `add_commands` and hands them the parsed arguments with `dispatch`.

Exit codes: `gate` 0 passed, 1 blocked; `compare` 0 nothing newly failing, 1 a requirement is
newly failing; `report` 0 written. Any of them: 2 for a usage error (a missing or invalid
summary or expectations file, a level the run did not include), as one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from conformance.errors import UsageError
from conformance.exit_codes import (
    COMPARE_EXIT_CODES_HELP,
    DONE_EXIT_CODES_HELP,
    EXIT_PASSED,
    GATE_EXIT_CODES_HELP,
)
from conformance.reporting.formats import rerenderable

__all__ = ["COMMANDS", "add_commands", "dispatch"]

COMMANDS = ("gate", "report", "compare")
STDOUT = "-"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _expectation_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument(
        "--expectations",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"known deviations (YAML, spec/schemas/expectations.schema.json) to {what} "
        "(default: none; the expectations a summary already carries are not used)",
    )
    parser.add_argument(
        "--today",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the expectations' expiry dates are judged on (default: today)",
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gate`, `report` and `compare` to the `conformance` parser's subcommands."""
    gate = commands.add_parser(
        "gate",
        help="decide from a finished run's summary.json whether CI may go on (exit 0 or 1)",
        description="Exit 0 if every requirement at the gated levels passed or is an unexpired "
        "expected deviation, 1 otherwise: a failed, untested or skipped requirement blocks, "
        "and so does an expired expectation or an interrupted run.",
        epilog=GATE_EXIT_CODES_HELP,
    )
    gate.add_argument("summary", type=Path, metavar="SUMMARY", help="a run's summary.json")
    gate.add_argument(
        "--levels",
        default=None,
        metavar="LEVELS",
        help="comma-separated levels to gate on, e.g. must,should; each must have been run "
        "(default: the levels the run was at)",
    )
    _expectation_options(gate, what="let through")

    report = commands.add_parser(
        "report",
        help="render a report again from a finished run's summary.json alone",
        description="Re-render summary.md, report.html or junit.xml from summary.json, "
        "optionally with an expectations file applied.",
        epilog=DONE_EXIT_CODES_HELP,
    )
    report.add_argument("summary", type=Path, metavar="SUMMARY", help="a run's summary.json")
    report.add_argument(
        "--format",
        required=True,
        choices=sorted(rerenderable()),
        help=", ".join(f"{f.name} ({f.file})" for f in rerenderable().values()) + "; required",
    )
    report.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="where to write it, '-' for stdout (default: beside the summary, as "
        + ", ".join(f.file for f in rerenderable().values())
        + " by format)",
    )
    _expectation_options(report, what="mark in the report")

    compare = commands.add_parser(
        "compare",
        help="what changed between two runs' summaries (exit 1 if a requirement newly fails)",
        description="Compare two summary.json files requirement by requirement. Exit 1 when a "
        "requirement failed in NEW that passed, was skipped or was untested in OLD; 0 otherwise.",
        epilog=COMPARE_EXIT_CODES_HELP,
    )
    compare.add_argument("old", type=Path, metavar="OLD", help="the earlier run's summary.json")
    compare.add_argument("new", type=Path, metavar="NEW", help="the later run's summary.json")


def dispatch(args: argparse.Namespace) -> int | None:
    """Run the command if it is one of these; None if it is another module's.

    A usage or input error is raised as a `ConformanceError`, which `conformance.cli.main` prints
    as one line and turns into exit code 2, as for every other command."""
    if args.command not in COMMANDS:
        return None
    if args.command == "gate":
        return _gate(args)
    if args.command == "report":
        return _report(args)
    return _compare(args)


def _levels(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    from conformance.run_options import parse_levels

    try:
        return parse_levels(text)
    except ValueError as exc:
        raise UsageError(f"--levels: {exc}") from None


def _gate(args: argparse.Namespace) -> int:
    from conformance.expectations import load_expectations
    from conformance.gate import evaluate, render_gate
    from conformance.reporting.loading import load_summary

    document = load_summary(args.summary)
    levels = _levels(args.levels)
    expectations = load_expectations(args.expectations) if args.expectations else ()
    result = evaluate(
        document,
        levels=levels,
        expectations=expectations,
        today=args.today or date.today(),
        expectations_file=str(args.expectations) if args.expectations else None,
    )
    print("\n".join(render_gate(result)))
    return result.exit_code


def _report(args: argparse.Namespace) -> int:
    from conformance.expectations import annotate, load_expectations
    from conformance.reporting.loading import load_summary

    document = load_summary(args.summary)
    if args.expectations:
        document = annotate(
            document,
            load_expectations(args.expectations),
            args.today or date.today(),
            file=str(args.expectations),
        )
    form = rerenderable()[args.format]
    text = form.render(document)
    if args.output == STDOUT:
        sys.stdout.write(text)
        return EXIT_PASSED
    output = Path(args.output) if args.output else args.summary.parent / form.file
    if output.resolve() == args.summary.resolve():
        raise UsageError(f"--output: {output} is the summary itself; it is not overwritten")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}")
    return EXIT_PASSED


def _compare(args: argparse.Namespace) -> int:
    from conformance.reporting.compare import compare, render_comparison
    from conformance.reporting.loading import load_summary

    comparison = compare(load_summary(args.old), load_summary(args.new))
    print("\n".join(render_comparison(comparison)))
    return comparison.exit_code
