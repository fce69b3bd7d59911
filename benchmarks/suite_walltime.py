"""Wall time of the suite: does it wait once?

For each exit timeout (10 s and 30 s by default), starts the reference server with it and, one
after the other against it, times `conformance run` with the limit test included and `conformance
run` of the fast checks alone (every black-box requirement that no slow probe serves). The floor
of a full run is one exit timeout (the timeout probe must see it pass); the targets: the full run
at a 10 s exit timeout takes at most 1.2 of it, and the fast checks at most half the
full run.

    python benchmarks/suite_walltime.py [--exit-timeout 10 --exit-timeout 30]

A script, not a test: it prints the figures and exits 0 whether or not the targets are met (1 only
when a run could not be made at all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tines_spec
from conformance import demo
from conformance.check_marks import serve_builtin_checks

SLOW_REQUIREMENTS = serve_builtin_checks()
FULL_TARGET = 1.2  # full run / exit timeout, at a 10 s exit timeout
FULL_TARGET_AT = 10.0
FAST_TARGET = 0.5  # fast checks / full run
DEFAULT_EXIT_TIMEOUTS = (10.0, 30.0)


@dataclass(frozen=True)
class Timed:
    label: str
    seconds: float
    exit_code: int
    log: Path
    tail: tuple[str, ...] = ()


def keep_tail(run: Timed) -> Timed:
    lines = run.log.read_text(encoding="utf-8").splitlines()[-25:]
    return Timed(run.label, run.seconds, run.exit_code, run.log, tuple(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exit-timeout",
        type=float,
        action="append",
        help="seconds; give it more than once for several (default: 10 and 30)",
    )
    args = parser.parse_args()
    rows = [measure_at(exit_timeout) for exit_timeout in args.exit_timeout or DEFAULT_EXIT_TIMEOUTS]
    print()
    print(f"{'exit timeout':>12} {'full run':>9} {'full/timeout':>12} {'fast':>7} {'fast/full':>9}")
    for exit_timeout, full, fast in rows:
        print(
            f"{exit_timeout:>11g}s {full.seconds:>8.1f}s {full.seconds / exit_timeout:>12.2f}"
            f" {fast.seconds:>6.1f}s {fast.seconds / full.seconds:>9.2f}"
        )
    for exit_timeout, full, fast in rows:
        report(exit_timeout, full, fast)
    return 0


def measure_at(exit_timeout: float) -> tuple[float, Timed, Timed]:
    """The full run and the fast checks against a reference with this exit timeout."""
    with tempfile.TemporaryDirectory(prefix="suite-walltime-") as tmp:
        work = Path(tmp)
        try:
            with demo.reference_server(
                work, log_path=work / "reference.log", exit_timeout=exit_timeout
            ) as reference:
                print(f"reference: {reference.base_url}, exit timeout {exit_timeout:g} s")
                env = {**os.environ, demo.API_KEY_ENV: reference.api_key}
                profile = str(reference.profile_path)
                full = timed(
                    "full run (--include-limit-test)",
                    ["run", "--profile", profile, "--include-limit-test"],
                    work / "full",
                    env,
                )
                fast_ids = fast_requirement_ids()
                fast = timed(
                    f"fast checks alone (--only {len(fast_ids)} requirements)",
                    ["run", "--profile", profile, *(f"--only={rid}" for rid in fast_ids)],
                    work / "fast",
                    env,
                )
                # The logs go with the temporary directory: keep what report() reads.
                full, fast = keep_tail(full), keep_tail(fast)
        except demo.ReferenceFailedToStart as exc:
            sys.exit(str(exc))
    return exit_timeout, full, fast


def fast_requirement_ids() -> list[str]:
    """Every requirement a check can see over HTTP, except those the slow probes serve."""
    return [
        r.id
        for r in tines_spec.catalogue().requirements
        if r.verification == "black-box" and r.id not in SLOW_REQUIREMENTS
    ]


def conformance_command() -> list[str]:
    """The console script beside this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("conformance")
    found = str(beside) if beside.exists() else shutil.which("conformance")
    if found is None:
        sys.exit("the `conformance` command is not installed (pip install -e '.[dev]')")
    return [found]


def timed(label: str, arguments: list[str], report_dir: Path, env: dict[str, str]) -> Timed:
    log = report_dir.with_suffix(".log")
    command = [*conformance_command(), *arguments, "--report-dir", str(report_dir)]
    print(f"timing {label} ...", flush=True)
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
        seconds = time.perf_counter() - started
    if code not in (0, 1):
        # 2 or 3: the run did not happen (usage, profile, unreachable); its figure means nothing.
        print(log.read_text(encoding="utf-8")[-2000:], file=sys.stderr)
        sys.exit(f"{label}: conformance exited {code}")
    return Timed(label, seconds, code, log)


def report(exit_timeout: float, full: Timed, fast: Timed) -> None:
    full_ratio = full.seconds / exit_timeout
    fast_ratio = fast.seconds / full.seconds
    print(f"\nat an exit timeout of {exit_timeout:g} s:")
    for run in (full, fast):
        verdict = "every requirement passed" if run.exit_code == 0 else "some requirement FAILED"
        print(f"{run.label}: {run.seconds:.1f} s wall time (exit {run.exit_code}: {verdict})")
        if run.exit_code != 0:
            print("\n".join("    " + line for line in run.tail))
    target = ""
    if exit_timeout == FULL_TARGET_AT:
        met = "met" if full_ratio <= FULL_TARGET else "NOT met"
        target = f" (target <= {FULL_TARGET}: {met})"
    print(f"full / exit timeout = {full.seconds:.1f} / {exit_timeout:g} = {full_ratio:.2f}{target}")
    print(
        f"fast / full = {fast.seconds:.1f} / {full.seconds:.1f} = {fast_ratio:.2f} "
        f"(target <= {FAST_TARGET}: {'met' if fast_ratio <= FAST_TARGET else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
