"""The background scheduler: selected probes start together, outcomes come back or fail, and
cancellation ends them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _pytest.outcomes import Skipped

from conformance import background
from conformance.background import ProbeCancelled, Scheduler, slow_probe
from conformance.caps import Caps, InFlightCap, RateLimiter
from conformance.http import AsyncTargetClient
from conformance.profile import Profile, load_profile
from conformance.result import CheckFailure
from tests.conformance.conftest import Profiles


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test registers its own probes; the suite's stay out of the way."""
    monkeypatch.setattr(background, "_registry", {})


@pytest.fixture
def client_and_profile(profiles: Profiles) -> tuple[AsyncTargetClient, Profile]:
    profile = load_profile(profiles.write("http://target.test"))
    client = AsyncTargetClient(
        profile,
        "run",
        caps=Caps(RateLimiter(1000), InFlightCap(8)),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": True})),
    )
    return client, profile


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    made = Scheduler()
    yield made
    made.stop()


def test_probes_start_together_so_their_waits_overlap(
    scheduler: Scheduler, client_and_profile: tuple[AsyncTargetClient, Profile]
) -> None:
    """Each probe waits for the other to have started: they finish only if both run at once."""
    started: dict[str, asyncio.Event] = {}

    def make(name: str, other: str) -> Any:
        async def probe(client: AsyncTargetClient, profile: Profile) -> str:
            started.setdefault(name, asyncio.Event()).set()
            await asyncio.wait_for(started.setdefault(other, asyncio.Event()).wait(), 5)
            exchange = await client.probe({"from": name})
            assert exchange.response is not None
            return name

        return probe

    slow_probe("a", requirement_ids=["WH-TIME-002"])(make("a", "b"))
    slow_probe("b", requirement_ids=["WH-TIME-001"])(make("b", "a"))
    client, profile = client_and_profile
    scheduler.start(client, profile, {"WH-TIME-001", "WH-TIME-002"}, include_limit_test=False)
    assert scheduler.outcome("a", timeout=10) == "a"
    assert scheduler.outcome("b", timeout=10) == "b"
    assert client.requests_sent == 2


def test_only_selected_probes_start_and_the_limit_test_only_when_included(
    scheduler: Scheduler, client_and_profile: tuple[AsyncTargetClient, Profile]
) -> None:
    async def value(client: AsyncTargetClient, profile: Profile) -> int:
        return 1

    slow_probe("timeout", requirement_ids=["WH-TIME-002"])(value)
    slow_probe("unselected", requirement_ids=["WH-RURL-001"])(value)
    slow_probe("burst", requirement_ids=["WH-CONC-001"], limit_test=True)(value)
    client, profile = client_and_profile
    scheduler.start(client, profile, {"WH-TIME-002", "WH-CONC-001"}, include_limit_test=False)
    assert scheduler.started == ("timeout",)
    assert scheduler.outcome("timeout", timeout=10) == 1
    with pytest.raises(Skipped, match="--include-limit-test"):
        scheduler.outcome("burst")
    with pytest.raises(LookupError, match="unselected"):
        scheduler.outcome("unselected")
    included = Scheduler()
    try:
        included.start(client, profile, {"WH-CONC-001"}, include_limit_test=True)
        assert included.outcome("burst", timeout=10) == 1
    finally:
        included.stop()


def test_a_probe_failure_is_re_raised_to_the_check_that_reads_it(
    scheduler: Scheduler, client_and_profile: tuple[AsyncTargetClient, Profile]
) -> None:
    async def failing(client: AsyncTargetClient, profile: Profile) -> None:
        raise CheckFailure(["WH-TIME-002"], "status 504", "status 200")

    slow_probe("timeout", requirement_ids=["WH-TIME-002"])(failing)
    client, profile = client_and_profile
    scheduler.start(client, profile, {"WH-TIME-002"}, include_limit_test=False)
    with pytest.raises(CheckFailure) as raised:
        scheduler.outcome("timeout", timeout=10)
    assert raised.value.requirement_ids == ("WH-TIME-002",)


def test_cancel_ends_waiting_probes_and_readers_learn_why(
    scheduler: Scheduler, client_and_profile: tuple[AsyncTargetClient, Profile]
) -> None:
    cancelled: list[bool] = []

    async def forever(client: AsyncTargetClient, profile: Profile) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    slow_probe("timeout", requirement_ids=["WH-TIME-002"])(forever)
    client, profile = client_and_profile
    scheduler.start(client, profile, {"WH-TIME-002"}, include_limit_test=False)
    with pytest.raises(TimeoutError):
        scheduler.outcome("timeout", timeout=0.05)
    scheduler.cancel()
    with pytest.raises(ProbeCancelled):
        scheduler.outcome("timeout", timeout=5)
    scheduler.stop()
    assert cancelled == [True]


def test_a_second_start_adds_what_the_collected_selection_needs_and_keeps_the_rest(
    scheduler: Scheduler, client_and_profile: tuple[AsyncTargetClient, Profile]
) -> None:
    """`conformance run` starts the probes before collection; the plugin starts again with the
    collected selection: a probe already running is not started twice, one the selection adds
    starts, and one it does not need is cancelled."""
    runs: list[str] = []

    def make(name: str) -> Any:
        async def probe(client: AsyncTargetClient, profile: Profile) -> str:
            runs.append(name)
            await asyncio.Event().wait()
            return name

        return probe

    slow_probe("timeout", requirement_ids=["WH-TIME-002"])(make("timeout"))
    slow_probe("just_under", requirement_ids=["WH-TIME-001"])(make("just_under"))
    slow_probe("urls", requirement_ids=["WH-RURL-001"])(make("urls"))
    client, profile = client_and_profile
    scheduler.start(client, profile, {"WH-TIME-002", "WH-TIME-001"}, include_limit_test=False)
    scheduler.start(client, profile, {"WH-TIME-002", "WH-RURL-001"}, include_limit_test=False)
    assert scheduler.started == ("timeout", "just_under", "urls")
    scheduler.keep_only({"timeout", "urls"})
    with pytest.raises(ProbeCancelled):
        scheduler.outcome("just_under", timeout=5)
    with pytest.raises(TimeoutError):
        scheduler.outcome("timeout", timeout=0.05)
    deadline = time.monotonic() + 5
    while sorted(runs) != ["just_under", "timeout", "urls"]:
        assert time.monotonic() < deadline, f"each probe runs once: {runs}"
        time.sleep(0.01)  # polling the loop's thread, with a deadline
    other = AsyncTargetClient(profile, "another run")
    with pytest.raises(RuntimeError, match="another client"):
        scheduler.start(other, profile, {"WH-TIME-002"}, include_limit_test=False)
