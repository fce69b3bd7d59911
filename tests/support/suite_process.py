"""`python -m conformance ...` in a child process: the suite started as a user starts it.

Every test that runs a command of the suite end to end (`run`, `gate`, `demo`, `check-setup`)
starts it through here, with the interpreter running the tests, so that it imports the code
under test. A test that must watch the process itself (its peak memory, a signal) takes the
command line alone (`suite_command`) and starts it its own way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_suite_command", "suite_command"]


def suite_command(*args: str) -> list[str]:
    """The command line of `conformance ARGS`, with this interpreter."""
    return [sys.executable, "-m", "conformance", *args]


def run_suite_command(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `conformance ARGS` to its end, its output captured as text; a run past `timeout`
    raises `subprocess.TimeoutExpired`. Without `env`, this test's environment, unbuffered."""
    environment = dict(env) if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        suite_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environment,
        check=False,
    )
