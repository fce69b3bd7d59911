"""The background scheduler: the suite's long waits run once, together, beside the fast checks.

A probe that waits about an exit timeout (30 s on Tines) is registered with `@slow_probe`; a check
that reads its outcome says so with `@pytest.mark.probe(name)`, and the probe serves the
requirements of the checks that read it (`serve_checks`, from the collected checks' markers), so no
list of IDs is kept beside the checks. At session start the plugin hands the scheduler the
selection, and every probe that serves a selected requirement starts at once on a private event
loop in a daemon thread. The checks run meanwhile and read a probe's result with `outcome(name)`,
which blocks only as long as that probe still needs. The run therefore takes about one exit timeout
plus the fast checks, not the sum of the waits. `cancel()` ends outstanding probes at Ctrl-C or at
the run deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from conformance.http import AsyncTargetClient
    from conformance.profile import Profile

__all__ = [
    "PROBE_MARKER",
    "ProbeCancelled",
    "Scheduler",
    "SlowProbe",
    "serve_checks",
    "slow_probe",
]

ProbeFunction = Callable[["AsyncTargetClient", "Profile"], Awaitable[Any]]
F = TypeVar("F", bound=ProbeFunction)

# `@pytest.mark.probe(name)`: the check reads the outcome of the background probe `name`.
PROBE_MARKER = "probe"
LIMIT_TEST_SKIP = "the concurrency-limit test runs only with --include-limit-test"


@dataclass(frozen=True)
class SlowProbe:
    name: str
    requirement_ids: frozenset[str]
    limit_test: bool
    function: ProbeFunction


_registry: dict[str, SlowProbe] = {}


def slow_probe(
    name: str, *, requirement_ids: Collection[str] = (), limit_test: bool = False
) -> Callable[[F], F]:
    """Register `async def probe(client, profile)` to start at session start when selected.

    The requirements it serves are those of the checks marked `probe(name)` (`serve_checks`);
    `requirement_ids` adds to them, for a probe no marked check reads."""

    def register(function: F) -> F:
        _registry[name] = SlowProbe(name, frozenset(requirement_ids), limit_test, function)
        return function

    return register


def serve_checks(checks: Iterable[tuple[str, Collection[str], Iterable[Any]]]) -> None:
    """Let each probe serve the requirements of the checks that read it.

    `checks`: (name, requirement IDs, marks) per check, the marks as pytest keeps them (an item's
    `iter_markers()`, a function's `pytestmark`). A mark naming no registered probe raises
    `LookupError` naming the check, so that a typo is a usage error, not a probe never started."""
    for check, requirement_ids, marks in checks:
        for mark in marks:
            if mark.name != PROBE_MARKER:
                continue
            for name in mark.args:
                probe = _registry.get(name)
                if probe is None:
                    known = ", ".join(sorted(_registry)) or "none"
                    raise LookupError(
                        f"{check} reads the background probe {name!r}, which no @slow_probe "
                        f"registers (registered: {known})"
                    )
                served = probe.requirement_ids | frozenset(requirement_ids)
                _registry[name] = replace(probe, requirement_ids=served)


def probes_read(item_marks: Iterable[Any]) -> tuple[str, ...]:
    """The probes a check reads, from its marks."""
    return tuple(
        str(name) for mark in item_marks if mark.name == PROBE_MARKER for name in mark.args
    )


def not_started_because(name: str, include_limit_test: bool) -> str | None:
    """Why a run does not start the probe (and so skips the checks that read it), or None."""
    probe = _registry.get(name)
    if probe is not None and probe.limit_test and not include_limit_test:
        return LIMIT_TEST_SKIP
    return None


class ProbeCancelled(Exception):
    """A probe's outcome was asked for after the run was interrupted or hit its deadline."""


class Scheduler:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._futures: dict[str, concurrent.futures.Future[Any]] = {}
        self._client: AsyncTargetClient | None = None
        self._skipped: dict[str, str] = {}

    @property
    def started(self) -> tuple[str, ...]:
        return tuple(self._futures)

    def plan(
        self, selected_requirement_ids: Collection[str], include_limit_test: bool
    ) -> list[SlowProbe]:
        """The probes a selection starts (the dry run prints them)."""
        selected = set(selected_requirement_ids)
        return [
            probe
            for probe in _registry.values()
            if probe.requirement_ids & selected and (include_limit_test or not probe.limit_test)
        ]

    def start(
        self,
        client: AsyncTargetClient,
        profile: Profile,
        selected_requirement_ids: Collection[str],
        include_limit_test: bool,
    ) -> None:
        """Start every selected probe not yet started, at once, on the scheduler's own loop.

        `conformance run` starts the probes as soon as its set-up check allows, before pytest
        has collected anything; the plugin calls this again with the collected selection, which
        starts what that adds, with the same client and profile."""
        if self._client is not None and client is not self._client:
            raise RuntimeError("the scheduler was started with another client")
        self._skipped = {
            name: why
            for name in _registry
            if (why := not_started_because(name, include_limit_test)) is not None
        }
        self._client = client
        loop = self._loop
        if loop is None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._thread = threading.Thread(
                target=loop.run_forever, name="conformance-background", daemon=True
            )
            self._thread.start()
        for probe in self.plan(selected_requirement_ids, include_limit_test):
            if probe.name not in self._futures:
                # In a context of their own: the caller's (the set-up check's, when `conformance
                # run` starts them) would label their exchanges as its own.
                self._futures[probe.name] = contextvars.Context().run(
                    asyncio.run_coroutine_threadsafe, _run(probe.function, client, profile), loop
                )

    def keep_only(self, names: Collection[str]) -> None:
        """Cancel the started probes not named: those started before the selection was known
        that it turned out not to need."""
        for name, future in self._futures.items():
            if name not in names:
                future.cancel()

    def outcome(self, name: str, timeout: float | None = None) -> Any:
        """The probe's value once it is done; its exception (a CheckFailure, say) is re-raised.

        TimeoutError when it is still running after `timeout` seconds; a skip when the probe is
        the limit test and the run does not include it.
        """
        if name in self._skipped:
            pytest.skip(self._skipped[name])
        future = self._futures.get(name)
        if future is None:
            known = ", ".join(sorted(self._futures)) or "none"
            raise LookupError(
                f"no background probe {name!r} was started (started: {known}); a check that "
                f"reads it is marked @pytest.mark.{PROBE_MARKER}({name!r})"
            )
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            raise ProbeCancelled(f"the {name} probe was cancelled: the run was stopped") from None

    def cancel(self) -> None:
        """Cancel what is still running; readers of those outcomes get ProbeCancelled."""
        for future in self._futures.values():
            future.cancel()

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is left, close the client and end the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self.cancel()
        if self._client is not None and not loop.is_closed():
            closing = asyncio.run_coroutine_threadsafe(self._client.aclose(), loop)
            try:
                closing.result(timeout)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                closing.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None


async def _run(function: ProbeFunction, client: AsyncTargetClient, profile: Profile) -> Any:
    return await function(client, profile)
