"""`conformance demo`: the reference server as a subprocess, and the whole suite against it.

The suite never imports `reference_impl` (it must be as good against any server), so the demo
drives it through its command line: `python -m reference_impl serve --port 0 ... --profile-out`,
with a fresh random API key in the environment, waits for its ready line, runs the suite with the
limit test included against the profile it wrote, and stops it with SIGTERM.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conformance.errors import ConformanceError
from conformance.exit_codes import EXIT_UNREACHABLE
from conformance.redaction import redact, register_secret

API_KEY_ENV = "TINES_API_KEY"
READY = re.compile(r"reference-impl listening on (https?://\S+)")
START_DEADLINE_SECONDS = 30.0
STOP_DEADLINE_SECONDS = 10.0
MAX_CONCURRENT_RUNS = 4


class ReferenceFailedToStart(ConformanceError):
    pass


class _OutputPump:
    """Drains the server's output (a full pipe would stall it) into a log, and spots the ready
    line."""

    def __init__(self, stream: IO[str], log_path: Path) -> None:
        self.ready = threading.Event()
        self.base_url: str | None = None
        self.tail: list[str] = []
        self._stream = stream
        self._log_path = log_path
        self._thread = threading.Thread(target=self._pump, name="reference-output", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("w", encoding="utf-8") as log:
            for line in self._stream:
                cleaned = redact(line)
                log.write(cleaned)
                log.flush()
                self.tail = [*self.tail[-9:], cleaned.rstrip()]
                match = READY.search(line)
                if match and not self.ready.is_set():
                    self.base_url = match.group(1)
                    self.ready.set()
        self.ready.set()  # the stream ended: the server is gone, whoever waits must look

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@dataclass(frozen=True)
class RunningReference:
    base_url: str
    profile_path: Path
    api_key: str


@contextmanager
def reference_server(
    workdir: Path,
    *,
    log_path: Path,
    exit_timeout: float = 3.0,
    max_concurrent_runs: int = MAX_CONCURRENT_RUNS,
    api_key: str | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[RunningReference]:
    """Start the reference on a free port, yield where it is, stop it with SIGTERM.

    The one launcher of the reference as a subprocess: the demo, the benchmarks and the tests
    that need a real server all start it here. The key (a fresh random one unless given) goes to
    the child's environment only; the caller decides whether this process needs it too.
    """
    key = api_key or secrets.token_urlsafe(24)
    register_secret(key)
    profile_path = workdir / "profile.yaml"
    command = [
        sys.executable,
        "-m",
        "reference_impl",
        "serve",
        "--port",
        "0",
        "--db",
        str(workdir / "runs.sqlite3"),
        "--exit-timeout",
        f"{exit_timeout:g}",
        "--max-concurrent-runs",
        str(max_concurrent_runs),
        "--profile-out",
        str(profile_path),
        *extra_args,
    ]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
        command,
        env={**os.environ, API_KEY_ENV: key},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    pump = _OutputPump(process.stdout, log_path)
    try:
        if not pump.ready.wait(START_DEADLINE_SECONDS) or pump.base_url is None:
            tail = " | ".join(pump.tail[-3:]) or "no output"
            raise ReferenceFailedToStart(
                f"the reference server did not start within {START_DEADLINE_SECONDS:g} s: {tail}"
            )
        if not profile_path.is_file():  # the reference writes it before it listens
            raise ReferenceFailedToStart(f"the reference server wrote no profile to {profile_path}")
        yield RunningReference(pump.base_url, profile_path, key)
    finally:
        _stop(process)
        pump.join(STOP_DEADLINE_SECONDS)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_DEADLINE_SECONDS)


def run_demo(
    *,
    report_dir: Path | None = None,
    exit_timeout: float = 3.0,
    max_examples: int = 10,
    seed: int | None = None,
) -> int:
    from conformance.cli import run
    from conformance.run_options import RunOptions, default_report_dir, new_run_id

    started = time.monotonic()
    run_id = new_run_id()
    with tempfile.TemporaryDirectory(prefix="conformance-demo-") as tmp:
        log_path = (report_dir or default_report_dir(run_id)) / "reference-server.log"
        try:
            with reference_server(
                Path(tmp), log_path=log_path, exit_timeout=exit_timeout
            ) as reference:
                print(
                    f"conformance demo: reference server at {reference.base_url} (log: {log_path})"
                )
                # The suite reads the key from the variable the profile names, in this process.
                os.environ[API_KEY_ENV] = reference.api_key
                code = run(
                    RunOptions(
                        profile=reference.profile_path,
                        report_dir=report_dir,
                        run_id=run_id,
                        max_examples=max_examples,
                        seed=seed,
                        include_limit_test=True,
                    )
                )
        except ReferenceFailedToStart as exc:
            print(f"conformance: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
    print(f"conformance demo: exit {code} after {time.monotonic() - started:.1f} s")
    return code
