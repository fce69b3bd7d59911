"""Wall time of the suite: does it wait once?

Starts the reference server (`--exit-timeout 10` by default) and, one after the other against it,
times `conformance run` with the limit test included and `conformance run` of the fast checks
alone (every black-box requirement that no slow probe serves). The suite meets issue 5's target
when the full run takes at most 1.5 exit timeouts and the fast checks at most half the full run.

    python benchmarks/suite_walltime.py [--exit-timeout 10]

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
FULL_TARGET = 1.5  # full run / exit timeout
FAST_TARGET = 0.5  # fast checks / full run


@dataclass(frozen=True)
class Timed:
    label: str
    seconds: float
    exit_code: int
    log: Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exit-timeout", type=float, default=10.0, help="seconds (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-walltime-") as tmp:
        work = Path(tmp)
        try:
            with demo.reference_server(
                work, log_path=work / "reference.log", exit_timeout=args.exit_timeout
            ) as reference:
                print(f"reference: {reference.base_url}, exit timeout {args.exit_timeout:g} s")
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
        except demo.ReferenceFailedToStart as exc:
            sys.exit(str(exc))
        report(args.exit_timeout, full, fast)
    return 0


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
    for run in (full, fast):
        verdict = "every requirement passed" if run.exit_code == 0 else "some requirement FAILED"
        print(f"{run.label}: {run.seconds:.1f} s wall time (exit {run.exit_code}: {verdict})")
        if run.exit_code != 0:
            tail = run.log.read_text(encoding="utf-8").splitlines()[-25:]
            print("\n".join("    " + line for line in tail))
    print(
        f"full / exit timeout = {full.seconds:.1f} / {exit_timeout:g} = {full_ratio:.2f} "
        f"(target <= {FULL_TARGET}: {'met' if full_ratio <= FULL_TARGET else 'NOT met'})"
    )
    print(
        f"fast / full = {fast.seconds:.1f} / {full.seconds:.1f} = {fast_ratio:.2f} "
        f"(target <= {FAST_TARGET}: {'met' if fast_ratio <= FAST_TARGET else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
