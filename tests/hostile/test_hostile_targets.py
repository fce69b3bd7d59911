"""`conformance run` against hostile targets: each run ends within a bound, under a memory bound,
with its documented exit code, a report where one is due, and no secret in any form anywhere.

Each run is a child process, measured with `os.wait4` (its own peak RSS, not that of other
children of this test process). The profiles make every wait short: a 1 s exit timeout, 2 s to a
first byte, 1 s for the rest of an answer, and a run deadline of RUN_DEADLINE seconds.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest
import yaml

from conformance.exit_codes import EXIT_DEADLINE, EXIT_FAILED, EXIT_UNREACHABLE
from tests.hostile.servers import EXIT_TIMEOUT_SECONDS, HostileTarget, serving
from tests.support.suite_process import suite_command

API_KEY_ENV = "CONFORMANCE_HOSTILE_TEST_KEY"
RUN_DEADLINE = 8
# A run that starts, sends its checks and writes its reports: the deadline, the interpreter's
# start (pytest, schemathesis, hypothesis imports) and the reports, on a loaded 2-core machine.
WALL_BOUND = RUN_DEADLINE + 20
# A run of the suite alone is 110-130 MB, whatever its length (benchmarks/suite_memory.py); one
# that buffers a huge answer, or keeps something per request, is several times that.
MEMORY_BOUND_MB = 200
# The door-hostile targets: `conformance run` gives up at its reachability check.
SETUP_BOUND = 20
# A few checks of each kind of request: stories (both ways of sending the key), a webhook probe,
# and the response URL that the background timeout probe follows.
CHECKS = ("STORY-GET-001", "STORY-AUTH-002", "WH-BODY-001", "WH-RURL-001")


@dataclass
class Run:
    code: int
    seconds: float
    peak_mb: float
    output: str
    report_dir: Path

    def files(self) -> list[Path]:
        if not self.report_dir.exists():
            return []
        return sorted(p for p in self.report_dir.rglob("*") if p.is_file())


def run_suite(
    profile: Path, report_dir: Path, key: str, bound: float, checks: tuple[str, ...] = CHECKS
) -> Run:
    """`python -m conformance run` with its own peak memory, killed if it outlives `bound`."""
    out_path = report_dir.parent / f"{report_dir.name}.out"
    env = {**os.environ, API_KEY_ENV: key, "PYTHONUNBUFFERED": "1"}
    command = suite_command("run", "--profile", str(profile))
    command += ["--report-dir", str(report_dir), "--retries", "0", "--max-examples", "1"]
    command += [f"--only={rid}" for rid in checks]
    with out_path.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        waited: dict[str, Any] = {}

        def wait() -> None:
            _, status, usage = os.wait4(process.pid, 0)
            waited.update(status=status, usage=usage, at=time.monotonic())

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(bound)
        if waiter.is_alive():
            process.kill()
            waiter.join(10)
            pytest.fail(f"the run outlived {bound:g} s:\n{out_path.read_text(errors='replace')}")
    process.returncode = os.waitstatus_to_exitcode(waited["status"])
    return Run(
        code=process.returncode,
        seconds=waited["at"] - started,
        peak_mb=waited["usage"].ru_maxrss / 1024,
        output=out_path.read_text(encoding="utf-8", errors="replace"),
        report_dir=report_dir,
    )


def write_profile(directory: Path, base_url: str, webhook_secret: str) -> Path:
    document = {
        "name": "hostile",
        "target": {"base_url": base_url, "api_key_env": API_KEY_ENV},
        "stories": {"ids": [1], "missing_id": 999},
        "webhooks": {
            "probe_url": f"{base_url}/webhook/probe/{webhook_secret}",
            "exit_timeout_seconds": EXIT_TIMEOUT_SECONDS,
            "timing_margin_seconds": 0.5,
            "response_url_deadline_seconds": 2,
        },
        "safety": {
            "max_requests_per_second": 200,
            "max_in_flight": 4,
            "request_timeout_seconds": 2,
            "answer_seconds": 1,
            "run_deadline_seconds": RUN_DEADLINE,
        },
    }
    path = directory / "profile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX_RUN = re.compile(rb"[0-9a-fA-F]{16,}")


def _decoded_views(data: bytes) -> list[bytes]:
    """The data, and what it spells once each encoding a target could use is undone: percent-
    and plus-encoding (once and twice), JSON and HTML escapes, and every run of base64 or hex
    decoded at each alignment. A secret in any of these is a leak."""
    text = data.decode("utf-8", errors="replace")
    views = [data]
    for undo in (unquote, unquote_plus, lambda t: unquote(unquote(t)), html.unescape):
        views.append(undo(text).encode())
    views.append(text.replace("\\/", "/").encode())
    decoded = []
    for match in _BASE64_RUN.finditer(data):
        run = match.group().rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
        for start in range(4):
            piece = run[start:]
            if len(piece) % 4 == 1:  # a lone last character encodes no whole byte
                piece = piece[:-1]
            with_padding = piece + b"=" * (-len(piece) % 4)
            try:
                decoded.append(base64.b64decode(with_padding))
            except binascii.Error:
                continue
    for match in _HEX_RUN.finditer(data):
        for start in range(2):
            piece = match.group()[start:]
            decoded.append(binascii.unhexlify(piece[: len(piece) - len(piece) % 2]))
    return views + decoded


def leaks(data: bytes, found: set[str]) -> list[str]:
    views = _decoded_views(data)
    return sorted(s for s in found if any(s.encode() in view for view in views))


def assert_no_secret_anywhere(run: Run, found: set[str]) -> None:
    assert not leaks(run.output.encode(), found), f"the output holds a secret:\n{run.output}"
    for path in run.files():
        leaked = leaks(path.read_bytes(), found)
        assert not leaked, f"{path.name} holds a secret in some encoding"


def assert_reports_written(run: Run) -> dict[str, Any]:
    names = {p.name for p in run.files()}
    assert {"summary.json", "summary.md", "junit.xml", "report.html"} <= names, run.output
    summary: dict[str, Any] = json.loads((run.report_dir / "summary.json").read_text())
    return summary


def assert_judged(run: Run) -> dict[str, Any]:
    """The run ended in a verdict (failed, cut at its deadline, or stopped by a set-up check that
    met the hostility first) and wrote every report."""
    assert run.code in (EXIT_FAILED, EXIT_DEADLINE, EXIT_UNREACHABLE), run.output
    return assert_reports_written(run)


def evidence(run: Run) -> str:
    """What the run says it saw: the summary's reasons and each exchange's error (HAR)."""
    summary = (run.report_dir / "summary.json").read_text(encoding="utf-8")
    return summary + (run.report_dir / "exchanges.har").read_text(encoding="utf-8")


@pytest.fixture
def credentials() -> tuple[str, str]:
    return "key-" + secrets.token_urlsafe(24), "secret" + secrets.token_hex(12)


def hostile_run(
    tmp_path: Path,
    credentials: tuple[str, str],
    target: HostileTarget,
    bound: float,
    checks: tuple[str, ...] = CHECKS,
) -> Run:
    key, webhook_secret = credentials
    with serving(target):
        profile = write_profile(tmp_path, target.base_url, webhook_secret)
        run = run_suite(profile, tmp_path / "reports", key, bound, checks)
    assert target.requests >= 1, "the run never reached the target"
    assert run.peak_mb < MEMORY_BOUND_MB, f"peak {run.peak_mb:.0f} MB\n{run.output}"
    assert_no_secret_anywhere(run, {key, webhook_secret})
    return run


@pytest.mark.slow
def test_a_huge_answer_is_cut_at_the_cap_and_never_buffered(
    tmp_path: Path, credentials: tuple[str, str]
) -> None:
    run = hostile_run(tmp_path, credentials, HostileTarget("huge"), WALL_BOUND)
    assert_judged(run)
    assert "answer larger than 8388608 bytes" in evidence(run)


@pytest.mark.slow
def test_a_trickling_answer_counts_against_the_request_time(
    tmp_path: Path, credentials: tuple[str, str]
) -> None:
    run = hostile_run(tmp_path, credentials, HostileTarget("trickle"), WALL_BOUND)
    assert_judged(run)
    assert "no complete answer within 1 s of its first byte" in evidence(run)


@pytest.mark.slow
def test_a_garbage_answer_fails_its_checks_without_leaking(
    tmp_path: Path, credentials: tuple[str, str]
) -> None:
    run = hostile_run(tmp_path, credentials, HostileTarget("garbage"), WALL_BOUND)
    summary = assert_judged(run)
    assert summary["outcome"] in ("failed", "interrupted")


@pytest.mark.slow
def test_an_echo_of_the_credentials_leaks_in_no_encoding(
    tmp_path: Path, credentials: tuple[str, str]
) -> None:
    target = HostileTarget("echo")
    # The story checks send the key (as Bearer and as X-User-Token); the probe, the webhook's.
    checks = ("STORY-GET-001", "STORY-AUTH-002", "WH-META-010")
    run = hostile_run(tmp_path, credentials, target, WALL_BOUND, checks)
    summary = assert_judged(run)
    # The scan above means something only if the echo reached the reports: the masks are there.
    har = (run.report_dir / "exchanges.har").read_text(encoding="utf-8")
    assert "X-Echo-Authorization" in har
    assert "X-Echo-X-User-Token" in har
    assert "/webhook/probe/***" in har
    assert summary["requests_sent"] >= 3


@pytest.mark.slow
def test_a_foreign_response_url_is_not_fetched_and_is_a_finding(
    tmp_path: Path, credentials: tuple[str, str]
) -> None:
    with serving(HostileTarget("echo", door=False)) as elsewhere:
        target = HostileTarget("foreign", foreign_url=elsewhere.base_url)
        # The response URL's checks, and a story read that the target redirects elsewhere.
        checks = ("WH-RURL-001", "WH-RURL-002", "STORY-AUTH-002")
        run = hostile_run(tmp_path, credentials, target, WALL_BOUND, checks)
    assert elsewhere.requests == 0, "the suite fetched a URL on another origin"
    summary = assert_judged(run)
    verdict = next(r for r in summary["requirements"] if r["id"] == "WH-RURL-001")
    assert verdict["status"] == "failed"
    assert "outside the target's origin" in verdict["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silent", "trickle", "garbage", "huge"])
def test_a_target_that_never_answers_usefully_ends_the_run_at_once(
    tmp_path: Path, credentials: tuple[str, str], kind: str
) -> None:
    """Hostile from the first byte: the reachability check gives up within seconds (exit 3, one
    line naming the URL), before any check or report."""
    target = HostileTarget(kind, door=False)
    run = hostile_run(tmp_path, credentials, target, SETUP_BOUND)
    assert run.code == EXIT_UNREACHABLE, run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert len(lines) == 1, run.output
    assert lines[0].startswith(f"conformance: cannot reach {target.base_url}"), run.output
    assert "Traceback" not in run.output
