"""Peak memory of `conformance run` against the number of requests it sends: is it flat?

A run's memory should be a constant plus what the profile's caps allow (one answer of at most
`safety.max_response_bytes` at a time per request in flight), whatever the number of requests.
This script makes runs of several lengths against two targets and prints, for each, the requests
sent (summary.json's `requests_sent`) and the run process's own peak RSS (`os.wait4`), then the
slope between the shortest and the longest run:

- the reference server (every check passes): the length is `--max-examples`, the examples each
  property check generates;
- a hostile target from tests/hostile/servers.py (every check fails, so each failure is shrunk):
  the length is `--retries`, each retry running the failed checks again, shrinking included.

    python benchmarks/suite_memory.py [--examples 2,10,30] [--retries 0,5,20] [--hostile echo]

A script, not a test: it prints the figures and exits 0 (1 only when a run could not be made).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

# The hostile targets live with their tests; this script runs from a checkout, not an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance import demo
from tests.hostile.servers import HostileTarget, serving
from tests.hostile.test_hostile_targets import API_KEY_ENV, write_profile

# The hostile runs' checks: the story checks (schemathesis's among them) and a webhook probe,
# the kinds of request whose failures are shrunk.
HOSTILE_CHECKS = ("STORY-GET-001", "STORY-AUTH-002", "WH-META-010")
# Long enough that the run deadline never shortens the longest run.
HOSTILE_DEADLINE_SECONDS = 600


@dataclass(frozen=True)
class Measured:
    target: str
    knob: str
    requests: int
    peak_mb: float
    seconds: float
    exit_code: int


def measure(
    target: str, knob: str, arguments: list[str], report_dir: Path, env: dict[str, str]
) -> Measured:
    """One `conformance run` as a child process, with its own peak RSS (not this process's)."""
    command = [sys.executable, "-m", "conformance", "run", *arguments]
    command += ["--report-dir", str(report_dir)]
    log = report_dir.with_suffix(".log")
    print(f"running {target} {knob} ...", flush=True)
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    summary = report_dir / "summary.json"
    if code not in (0, 1, 4) or not summary.exists():
        print(log.read_text(encoding="utf-8")[-2000:], file=sys.stderr)
        sys.exit(f"{target} {knob}: conformance exited {code} without a summary")
    requests = int(json.loads(summary.read_text(encoding="utf-8"))["requests_sent"])
    return Measured(target, knob, requests, usage.ru_maxrss / 1024, seconds, code)


def reference_runs(work: Path, examples: list[int]) -> list[Measured]:
    rows = []
    with demo.reference_server(work, log_path=work / "reference.log") as reference:
        env = {**os.environ, demo.API_KEY_ENV: reference.api_key}
        for n in examples:
            arguments = ["--profile", str(reference.profile_path), "--max-examples", str(n)]
            report_dir = work / f"reference-{n}"
            rows.append(measure("reference", f"--max-examples {n}", arguments, report_dir, env))
    return rows


def hostile_runs(work: Path, kind: str, retries: list[int]) -> list[Measured]:
    rows = []
    key = "key-" + secrets.token_urlsafe(24)
    env = {**os.environ, API_KEY_ENV: key}
    with serving(HostileTarget(kind)) as target:
        profile = write_profile(work, target.base_url, "secret" + secrets.token_hex(12))
        document = yaml.safe_load(profile.read_text(encoding="utf-8"))
        document["safety"]["run_deadline_seconds"] = HOSTILE_DEADLINE_SECONDS
        profile.write_text(yaml.safe_dump(document), encoding="utf-8")
        for n in retries:
            arguments = ["--profile", str(profile), "--max-examples", "1", "--retries", str(n)]
            arguments += [f"--only={rid}" for rid in HOSTILE_CHECKS]
            report_dir = work / f"{kind}-{n}"
            rows.append(measure(kind, f"--retries {n}", arguments, report_dir, env))
    return rows


def report(rows: list[Measured]) -> None:
    print(f"\n{'target':<10} {'run':<17} {'requests':>8} {'peak MB':>8} {'wall s':>7}  exit")
    for row in rows:
        print(
            f"{row.target:<10} {row.knob:<17} {row.requests:>8} {row.peak_mb:>8.0f} "
            f"{row.seconds:>7.1f}  {row.exit_code}"
        )
    for target in dict.fromkeys(row.target for row in rows):
        runs = sorted((r for r in rows if r.target == target), key=lambda r: r.requests)
        first, last = runs[0], runs[-1]
        if last.requests == first.requests:
            continue
        slope = (last.peak_mb - first.peak_mb) / (last.requests - first.requests) * 100
        print(
            f"{target}: {slope:+.1f} MB per 100 requests "
            f"({first.requests} -> {last.requests} requests, "
            f"{first.peak_mb:.0f} -> {last.peak_mb:.0f} MB)"
        )


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=_numbers, default=[2, 10, 30], help="reference runs")
    parser.add_argument("--retries", type=_numbers, default=[0, 5, 20], help="hostile runs")
    parser.add_argument("--hostile", default="echo", choices=["echo", "garbage"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-memory-") as tmp:
        work = Path(tmp)
        (work / "reference").mkdir()
        (work / "hostile").mkdir()
        try:
            rows = reference_runs(work / "reference", args.examples)
        except demo.ReferenceFailedToStart as exc:
            print(f"conformance: {exc}", file=sys.stderr)
            return 1
        rows += hostile_runs(work / "hostile", args.hostile, args.retries)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
