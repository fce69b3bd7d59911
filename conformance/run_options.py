"""`RunOptions`: a run's options, declared once for `conformance run` and for the pytest plugin.

Each option is one row of `OPTIONS` (`conformance.option_table`): the CLI's flag (`--levels`)
and the plugin's pytest flag (`--conformance-levels`) are both made from it, with one help text.
The CLI parses into a `RunOptions` (`from_args`), the plugin reads one from pytest's config
(`from_pytest_config`); both check it with `validate`, so an error has one message (naming the
flag as the user spelled it). The same object turns itself into pytest's command line
(`pytest_arguments`) and into the command that repeats the run (`repeat_command`, `reproduction`).
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tines_spec
from conformance.errors import UsageError
from conformance.option_table import OPTIONS, Option
from conformance.redaction import redact

if TYPE_CHECKING:
    import pytest

    from conformance.profile import Profile

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
DEFAULT_REPORTS = Path("reports")
DEFAULT_LEVELS = "must,should,may"


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
    shrink: bool = False
    debug: bool = False
    retries: int = 1
    expectations: Path | None = None
    checks: Path | None = None
    run_id: str | None = None
    pytest_args: tuple[str, ...] = ()
    repeat_as: str | None = None

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
            # anyio's plugin (httpx brings anyio) serves no check, and on this pytest it warns of
            # a renamed pytest internal in every run.
            "-p",
            "no:anyio",
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
        if self.repeat_as:
            args.append(f"--conformance-repeat-as={self.repeat_as}")
        if self.seed is not None:
            args.append(f"--hypothesis-seed={self.seed}")
        if self.include_limit_test:
            args.append("--conformance-include-limit-test")
        if self.shrink:
            args.append("--conformance-shrink")
        if self.debug:
            args.append("--conformance-debug")
        else:
            # A failure's reason and evidence are in the conformance summary; pytest's
            # tracebacks and source excerpts are the suite's internals, not the target's, and so
            # are its header, progress letters, test summary, its count of tests (not of
            # requirements) and warnings about its plugins: the area lines
            # (`conformance.progress`) and the table say what a user acts on.
            args += [
                "--tb=no",
                "-qq",
                # A check module that does not import is said in one line and refused
                # (`selection.refuse`, exit 2), not as pytest's "Interrupted" banner.
                "--continue-on-collection-errors",
                "--no-header",
                "-rN",
                "--disable-warnings",
                "-o",
                "console_output_style=classic",
                # It looks for exceptions raised in finalizers, to warn of them (warnings are
                # off here), with gc.collect() run over and over at the end: 0.25 s a run.
                "-p",
                "no:unraisableexception",
            ]
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
        if self.repeat_as:
            return redact(f"{self.repeat_as} --seed {self.seed}")
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
        if self.shrink:
            parts.append("--shrink")
        if self.expectations is not None:
            parts.append(f"--expectations {self.expectations}")
        parts.append(f"--seed {self.seed}")
        return redact(" ".join(parts))

    def reproduction(self, failed_ids: tuple[str, ...]) -> str:
        """The command that runs the failing requirements' checks again, on the same examples
        (for a demo, whose reference and profile are gone once it ends: the demo again)."""
        if self.repeat_as:
            return self.repeat_command()
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


def add_cli_options(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """`conformance run`'s flags, from `OPTIONS`; with `names`, only those (a command that takes
    a few of them, such as `check-setup`, must not offer a flag it would ignore)."""
    _declare(parser.add_argument, for_pytest=False, names=names)


def add_pytest_options(group: Any) -> None:
    """The plugin's `--conformance-*` flags, from `OPTIONS` (pytest's option group, whose
    `addoption` takes argparse's arguments)."""
    _declare(group.addoption, for_pytest=True)


_TYPES: dict[str, type] = {"path": Path, "int": int, "text": str}


def _declare(add: Any, *, for_pytest: bool, names: Collection[str] | None = None) -> None:
    defaults = RunOptions(profile=Path())
    for option in OPTIONS:
        if not (option.pytest if for_pytest else option.cli):
            continue
        if names is not None and option.name not in names:
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
