"""Real reference servers for the tests: `python -m reference_impl serve --port 0` subprocesses.

`ServerProcess` starts one, waits (with a deadline) for its one-line ready announcement, and
stops it with SIGTERM. Tests wait on conditions with deadlines (`wait_until`), never on sleeps.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from reference_impl.app import build_runtime
from reference_impl.config import ServerConfig
from reference_impl.fixtures import Story, builtin_fixtures
from reference_impl.runtime import Runtime

API_KEY = "test-key-0123456789"


def in_memory_runtime(**settings: Any) -> tuple[Runtime, Story]:
    """A runtime on an in-memory database with the built-in stories, and its probe story."""
    runtime = build_runtime(ServerConfig(db=":memory:", **settings), builtin_fixtures())
    return runtime, next(s for s in runtime.stories.values() if s.role == "probe")


READY_PREFIX = "reference-impl listening on "
T = TypeVar("T")


def wait_until(
    produce: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    deadline: float,
    interval: float = 0.05,
) -> T:
    """Call `produce` until `accept` holds for its value; fail when the deadline passes."""
    ends = time.monotonic() + deadline
    while True:
        value = produce()
        if accept(value):
            return value
        if time.monotonic() > ends:
            raise AssertionError(f"condition not met within {deadline} s; last value: {value!r}")
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], Awaitable[bool]],
    *,
    deadline: float,
    interval: float = 0.01,
) -> None:
    """Await `condition` until it holds; fail when the deadline passes (the asyncio twin of
    `wait_until`, for checks made on the engine's own loop)."""
    ends = time.monotonic() + deadline
    while not await condition():
        if time.monotonic() > ends:
            raise AssertionError(f"condition not met within {deadline} s")
        await asyncio.sleep(interval)


class ServerProcess:
    """One reference server process, its base URL and the profile it wrote."""

    def __init__(
        self,
        tmp: Path,
        db: str,
        *extra: str,
        api_key: str | None = API_KEY,
        env_extra: Mapping[str, str] | None = None,
    ) -> None:
        self.profile_path = tmp / f"profile-{time.monotonic_ns()}.yaml"
        env = {k: v for k, v in os.environ.items() if k != "TINES_API_KEY"} | dict(env_extra or {})
        if api_key is not None:
            env["TINES_API_KEY"] = api_key
        self.stderr_path = tmp / f"stderr-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference_impl",
                "serve",
                "--port",
                "0",
                "--db",
                db,
                "--profile-out",
                str(self.profile_path),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        try:
            line = lines.get(timeout=15)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"no ready line; stderr: {self.stderr_path.read_text()}") from None
        assert line.startswith(READY_PREFIX), line
        self.base_url = line[len(READY_PREFIX) :].strip()
        self.extra_stdout = lines
        self.profile: dict[str, Any] = yaml.safe_load(self.profile_path.read_text())
        self.client = httpx.Client(base_url=self.base_url, timeout=20)

    @property
    def probe_url(self) -> str:
        return str(self.profile["webhooks"]["probe_url"])

    @property
    def race_url(self) -> str:
        return str(self.profile["webhooks"]["race_url"])

    def probe(self, exit: Any, delay: float = 0, **kwargs: Any) -> httpx.Response:
        return self.client.post(
            self.probe_url, json={"exit": exit, "delay_seconds": delay}, **kwargs
        )

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then the exit code."""
        if hasattr(self, "client"):
            self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._stderr.close()
        return code


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A shared server: exit timeout 3 s, two run slots per story, a 64 KiB body cap.

    3 s rather than 1: on a loaded 2-core machine (the whole project's tests run at once) a run
    meant to answer in time must not time out; only one test waits for the timeout.
    """
    tmp = tmp_path_factory.mktemp("reference")
    proc = ServerProcess(
        tmp,
        str(tmp / "db.sqlite3"),
        "--exit-timeout",
        "3",
        "--max-concurrent-runs",
        "2",
        "--max-body-bytes",
        "65536",
    )
    yield proc
    assert proc.stop() == 0
