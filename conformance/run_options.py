"""`RunOptions`: a run's options, declared once for `conformance run` and for the pytest plugin.

Each option is one row of `OPTIONS`: the CLI's flag (`--levels`) and the plugin's pytest flag
(`--conformance-levels`) are both made from it, with one help text. The CLI parses into a
`RunOptions` (`from_args`), the plugin reads one from pytest's config (`from_pytest_config`); both
check it with `validate`, so an error has one message (naming the flag as the user spelled it).
The same object turns itself into pytest's command line (`pytest_arguments`) and into the command
that repeats the run (`repeat_command`, `reproduction`).
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import tines_spec
from conformance.errors import UsageError
from conformance.redaction import redact

if TYPE_CHECKING:
    import pytest

    from conformance.profile import Profile

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
DEFAULT_REPORTS = Path("reports")
DEFAULT_LEVELS = "must,should,may"
PYTEST_PREFIX = "--conformance-"

Kind = Literal["path", "int", "text", "flag", "list"]


@dataclass(frozen=True)
class Option:
    """One option of a run. `cli` / `pytest`: whether `conformance run` / the plugin offer it (the
    seed reaches pytest as hypothesis' own `--hypothesis-seed`, the checks as a test path)."""

    name: str
    kind: Kind
    help: str
    metavar: str | None = None
    cli: bool = True
    pytest: bool = True

    def flag(self, *, for_pytest: bool) -> str:
        dashed = self.name.replace("_", "-")
        return f"{PYTEST_PREFIX}{dashed}" if for_pytest else f"--{dashed}"


OPTIONS: tuple[Option, ...] = (
    Option(
        "profile", "path", "the target profile (YAML; spec/schemas/profile.schema.json)", "FILE"
    ),
    Option(
        "report_dir",
        "path",
        "where the reports go: summary.json, summary.md, junit.xml, report.html, "
        "exchanges.har, allure-results (default: reports/<run id>/, and reports/latest)",
        "DIR",
    ),
    Option(
        "levels", "text", "comma-separated levels to check (default: must,should,may)", "LEVELS"
    ),
    Option("only", "list", "check only this requirement (repeatable)", "ID"),
    Option("max_examples", "int", "generated examples per property check (default: 10)", "N"),
    Option(
        "seed",
        "int",
        "hypothesis seed; a failure's report prints the one that reproduces it",
        "N",
        pytest=False,
    ),
    Option(
        "include_limit_test",
        "flag",
        "also flood the probe story past its concurrency limit (WH-CONC-*)",
    ),
    Option(
        "retries",
        "int",
        "run a failed check N more times before reporting it; a pass on retry is reported "
        "as flaky (default: 1)",
        "N",
    ),
    Option(
        "expectations",
        "path",
        "known deviations (YAML, spec/schemas/expectations.schema.json), marked in every "
        "report; `conformance gate` applies them",
        "FILE",
    ),
    Option(
        "dry_run",
        "flag",
        "print the plan (checks, requirement IDs, operations, most requests) and send nothing",
    ),
    Option(
        "checks",
        "path",
        "a directory or file of checks to run instead of the built-in ones",
        "PATH",
        pytest=False,
    ),
    Option("run_id", "text", "the run's ID", "ID", cli=False),
)


@dataclass(frozen=True)
class RunOptions:
    """What a run was asked to do, before anything is checked or loaded."""

    profile: Path
    # None: reports/<run id>/, with reports/latest pointing at it.
    report_dir: Path | None = None
    levels: str = DEFAULT_LEVELS
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

    # ------------------------------------------------------------------ from a command line

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> RunOptions:
        """From `conformance run`'s parsed arguments (see `add_cli_options`)."""
        given = {o.name: getattr(args, o.name) for o in OPTIONS if o.cli}
        given["only"] = tuple(given["only"])
        return cls(**{**given, **overrides})

    @classmethod
    def from_pytest_config(cls, config: pytest.Config) -> RunOptions | None:
        """From the plugin's pytest options; None without `--conformance-profile`."""
        given: dict[str, Any] = {}
        for option in OPTIONS:
            if not option.pytest:
                continue
            value = config.getoption(f"conformance_{option.name}")
            if option.kind == "path":
                value = Path(value) if value else None
            elif option.kind == "int":
                value = int(value)
            elif option.kind == "flag":
                value = bool(value)
            elif option.kind == "list":
                value = tuple(value)
            given[option.name] = value
        if given["profile"] is None:
            return None
        return cls(**given)

    # ------------------------------------------------------------------ checked once

    def validate(self, *, for_pytest: bool) -> ValidRun:
        """Check every option and load the files they name; the first error is raised as a
        `ConformanceError` whose message names the flag as the user spelled it."""
        from conformance.profile import load_profile

        def flag(name: str) -> str:
            return _option(name).flag(for_pytest=for_pytest)

        try:
            levels = parse_levels(self.levels)
        except ValueError as exc:
            raise UsageError(f"{flag('levels')}: {exc}") from None
        missing = unknown_ids(self.only)
        if missing:
            raise UsageError(
                f"unknown requirement ID {', '.join(missing)} in {flag('only')} "
                "(`conformance requirements` lists them)"
            )
        if self.max_examples < 1:
            raise UsageError(f"{flag('max_examples')} must be at least 1")
        if self.retries < 0:
            raise UsageError(f"{flag('retries')} must be 0 or more")
        expectations: tuple[Any, ...] = ()
        if self.expectations is not None:
            from conformance.expectations import load_expectations

            expectations = load_expectations(self.expectations)
        if self.checks is not None and not self.checks.exists():
            raise UsageError(f"{flag('checks')}: {self.checks} does not exist")
        profile = load_profile(self.profile)
        if not self.dry_run:
            profile.api_key()
        return ValidRun(levels=levels, profile=profile, expectations=expectations)

    # ------------------------------------------------------------------ what follows from it

    @property
    def links_latest(self) -> bool:
        """`reports/latest` is pointed at the run only when no directory was given."""
        return self.report_dir is None

    def reports_at(self) -> Path:
        """The run's report directory: the one given, or one of its own per run, so that no
        run overwrites another's evidence."""
        if self.report_dir is not None:
            return self.report_dir
        assert self.run_id is not None, "the run ID names the default report directory"
        return default_report_dir(self.run_id)

    def pytest_arguments(self, *, allure: bool) -> list[str]:
        """The pytest command line of a run: the plugin's options, the reports, the checks."""
        args = [
            "-p",
            "no:cacheprovider",
            # Checks report through CheckFailure, never through a bare assert, so pytest's
            # assertion rewriting buys the suite nothing. It costs a lot: pytest rewrites every
            # module of each plugin's package (all of schemathesis), about 4 s per run where
            # bytecode is not cached.
            "--assert=plain",
            f"--conformance-profile={self.profile}",
            f"--conformance-levels={self.levels}",
            f"--conformance-max-examples={self.max_examples}",
            f"--conformance-retries={self.retries}",
            "--rootdir",
            str((self.checks or CHECKS_DIR).parent),
        ]
        if self.report_dir is not None:
            args.append(f"--conformance-report-dir={self.report_dir}")
        if self.expectations is not None:
            args.append(f"--conformance-expectations={self.expectations}")
        args += [f"--conformance-only={rid}" for rid in self.only]
        if self.run_id:
            args.append(f"--conformance-run-id={self.run_id}")
        if self.seed is not None:
            args.append(f"--hypothesis-seed={self.seed}")
        if self.include_limit_test:
            args.append("--conformance-include-limit-test")
        if self.dry_run:
            args += ["--conformance-dry-run", "-q"]
        elif allure:
            # junit.xml and the other reports are the plugin's, rendered from the summary.
            args.append(f"--alluredir={self.reports_at() / 'allure-results'}")
        args += list(self.pytest_args)
        args.append(str(self.checks or CHECKS_DIR))
        return args

    def repeat_command(self) -> str:
        """The command that repeats the whole run, with its seed."""
        levels = parse_levels(self.levels)
        parts = [
            "conformance run",
            f"--profile {self.profile}",
            f"--levels {','.join(level.lower() for level in levels)}",
            *(f"--only {rid}" for rid in self.only),
            f"--max-examples {self.max_examples}",
            f"--retries {self.retries}",
        ]
        if self.include_limit_test:
            parts.append("--include-limit-test")
        if self.expectations is not None:
            parts.append(f"--expectations {self.expectations}")
        parts.append(f"--seed {self.seed}")
        return redact(" ".join(parts))

    def reproduction(self, failed_ids: tuple[str, ...]) -> str:
        """The command that runs the failing requirements' checks again, on the same examples."""
        only = " ".join(f"--only {rid}" for rid in failed_ids)
        return redact(f"conformance run --profile {self.profile} {only} --seed {self.seed}")


@dataclass(frozen=True)
class ValidRun:
    """What `RunOptions.validate` loaded: the levels in the catalogue's order, the profile, and
    the known deviations."""

    levels: tuple[str, ...]
    profile: Profile
    expectations: tuple[Any, ...]


def _option(name: str) -> Option:
    return next(o for o in OPTIONS if o.name == name)


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    """`conformance run`'s flags, from `OPTIONS`."""
    _declare(parser.add_argument, for_pytest=False)


def add_pytest_options(group: Any) -> None:
    """The plugin's `--conformance-*` flags, from `OPTIONS` (pytest's option group, whose
    `addoption` takes argparse's arguments)."""
    _declare(group.addoption, for_pytest=True)


_TYPES: dict[str, type] = {"path": Path, "int": int, "text": str}


def _declare(add: Any, *, for_pytest: bool) -> None:
    defaults = RunOptions(profile=Path())
    for option in OPTIONS:
        if not (option.pytest if for_pytest else option.cli):
            continue
        settings: dict[str, Any] = {"help": option.help}
        if option.kind == "flag":
            settings.update(action="store_true", default=False)
        elif option.kind == "list":
            settings.update(action="append", default=[], metavar=option.metavar)
        else:
            required = option.name == "profile" and not for_pytest
            default = None if option.name == "profile" else getattr(defaults, option.name)
            settings.update(type=_TYPES[option.kind], default=default, metavar=option.metavar)
            if required:
                settings["required"] = True
        add(option.flag(for_pytest=for_pytest), **settings)


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


__all__ = [
    "CHECKS_DIR",
    "OPTIONS",
    "RunOptions",
    "ValidRun",
    "add_cli_options",
    "add_pytest_options",
    "default_report_dir",
    "new_run_id",
    "parse_levels",
    "unknown_ids",
]
