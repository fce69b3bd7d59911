"""Stoplight Prism as the tests run it: where it is installed, and a running `prism` process.

Prism is an npm tool. `.ci/run` installs it under `.ci/prism/` (`npm install --prefix .ci/prism
@stoplight/prism-cli`); `TINES_PRISM` may name another `prism` executable, and one on PATH is
used last. Without it the Prism tests skip, saying how to install it, except under CI, where
a missing Prism fails them: CI is where they must run.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import repo_root

READY = "Prism is listening on "
START_DEADLINE_SECONDS = 90


def prism_executable() -> str:
    candidates = [
        os.environ.get("TINES_PRISM"),
        str(repo_root() / ".ci" / "prism" / "node_modules" / ".bin" / "prism"),
        shutil.which("prism"),
    ]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is not None and shutil.which("node") is not None:
        return found
    reason = (
        "Stoplight Prism is not installed (needs node and npm: "
        "`npm install --prefix .ci/prism @stoplight/prism-cli`, or set TINES_PRISM)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so under CI this is a failure")
    pytest.skip(reason)


class PrismProcess:
    """`prism <mode> <document> [upstream] --port 0`-like: a free port, its ready line awaited."""

    def __init__(self, mode: str, document: Path, upstream: str | None, port: int) -> None:
        command = [prism_executable(), mode, str(document)]
        if upstream is not None:
            command.append(upstream)
        command += ["--host", "127.0.0.1", "--port", str(port), "--errors=false"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def pump() -> None:
            for line in stdout:
                self.log.append(line)
                self.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        ends = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            try:
                line = self.lines.get(timeout=max(ends - time.monotonic(), 0.01))
            except queue.Empty:
                self.stop()
                raise AssertionError("prism did not start: " + "".join(self.log)) from None
            if READY in line:
                break
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
