"""The clients every request goes through: caps, recorded evidence, transport errors.

The caps are measured by counting (a fake clock, the cap's own waiters and the requests a mock
transport sees at once), never by timing real sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conformance.caps import Caps, InFlightCap, RateLimiter
from conformance.http import (
    RUN_ID_HEADER,
    AsyncTargetClient,
    TargetClient,
)
from conformance.profile import Profile, load_profile
from tests.conformance.conftest import Profiles, free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def clocked_client(
    profile: Profile, clock: FakeClock, handler: Callable[[httpx.Request], httpx.Response]
) -> TargetClient:
    """A client whose every wait (rate limit, poll back-off) moves `clock` instead of the time,
    so that a test reads what it waited from the clock at once."""
    return TargetClient(
        profile,
        "run",
        caps=Caps(RateLimiter(1000, clock=clock), InFlightCap(2)),
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
    )


@pytest.fixture
def profile(profiles: Profiles) -> Profile:
    return load_profile(profiles.write("http://target.test"))


def test_rate_limiter_spaces_reservations_by_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now += 10  # a long pause refills at most one token: no burst afterwards
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.1)


def test_no_one_second_window_holds_more_than_the_rate(profile: Profile) -> None:
    clock = FakeClock()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        return httpx.Response(200, json={})

    caps = Caps(RateLimiter(5, clock=clock), InFlightCap(4))
    client = TargetClient(
        profile, "run", caps=caps, transport=httpx.MockTransport(handler), sleep=clock.sleep
    )
    for _ in range(23):
        client.request("GET", "http://target.test/x")
    assert client.requests_sent == 23
    for start in sent_at:
        assert sum(1 for t in sent_at if start <= t < start + 1.0) <= 5


def _concurrency_meter(limit_seen: int) -> tuple[Callable[[], None], Callable[[], int]]:
    """A handler body that records how many requests are inside at once; each waits (with a
    deadline) until `limit_seen` are inside or the rest are done, so a cap is actually tested."""
    state = {"inside": 0, "peak": 0, "left": 0}
    condition = threading.Condition()

    def enter() -> None:
        with condition:
            state["inside"] += 1
            state["peak"] = max(state["peak"], state["inside"])
            condition.notify_all()
            condition.wait_for(lambda: state["inside"] >= limit_seen, timeout=2)
            state["inside"] -= 1
            condition.notify_all()

    return enter, lambda: state["peak"]


def test_in_flight_cap_holds_across_threads_and_an_event_loop(profile: Profile) -> None:
    enter, peak = _concurrency_meter(3)

    def handler(request: httpx.Request) -> httpx.Response:
        enter()
        return httpx.Response(200, json={})

    class AsyncHandler(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.to_thread(enter)
            return httpx.Response(200, json={})

    caps = Caps(RateLimiter(1000), InFlightCap(3))
    sync_client = TargetClient(profile, "run", caps=caps, transport=httpx.MockTransport(handler))
    async_client = AsyncTargetClient(profile, "run", caps=caps, transport=AsyncHandler())

    async def burst() -> list[int | None]:
        answers = await asyncio.gather(
            *(async_client.request("GET", "http://target.test/a") for _ in range(6))
        )
        return [a.response.status if a.response else None for a in answers]

    statuses: list[int | None] = []
    threads = [
        threading.Thread(target=lambda: sync_client.request("GET", "http://target.test/s"))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    statuses = asyncio.run(burst())
    for thread in threads:
        thread.join(10)
    assert statuses == [200] * 6
    assert peak() == 3
    assert caps.in_flight.peak == 3
    assert caps.in_flight.in_use == 0


def test_a_cancelled_waiter_hands_its_slot_back() -> None:
    cap = InFlightCap(1)

    async def scenario() -> int:
        await cap.acquire_async()
        waiter = asyncio.create_task(cap.acquire_async())
        await asyncio.sleep(0)  # one turn of the loop: the waiter runs up to its wait
        assert cap.in_use == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        cap.release()
        await cap.acquire_async()  # the slot is free again, not lost to the cancelled waiter
        cap.release()
        return cap.in_use

    assert asyncio.run(scenario()) == 0


def test_request_is_recorded_exactly_as_sent(profile: Profile) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, headers={"X-Reply": "yes"}, content=b"not json")

    client = TargetClient(profile, "run-42", transport=httpx.MockTransport(handler))
    exchange = client.probe({"status": "201", "body": None}, delay_seconds=1.5, accept="text/csv")
    wire = seen[0]
    assert exchange.request.body == wire.content
    assert json.loads(exchange.request.body) == {
        "exit": {"status": "201", "body": None},
        "delay_seconds": 1.5,
    }
    sent_headers = dict(exchange.request.headers)
    assert sent_headers[RUN_ID_HEADER] == "run-42"
    assert sent_headers["User-Agent"].startswith("tines-conformance/")
    assert sent_headers["Accept"] == "text/csv"
    assert wire.headers[RUN_ID_HEADER] == "run-42"
    assert exchange.response is not None
    assert exchange.response.status == 201
    assert exchange.response.header("x-reply") == "yes"
    assert exchange.response.body == b"not json"


def test_json_null_can_be_sent(profile: Profile) -> None:
    client = TargetClient(
        profile, "run", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    exchange = client.request("POST", "http://target.test/", json=None)
    assert exchange.request.body == b"null"
    assert client.request("POST", "http://target.test/").request.body == b""


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ("bearer", "authorization", "Bearer {key}"),
        ("token", "x-user-token", "{key}"),
        ("none", "authorization", None),
        ("wrong", "authorization", "Bearer conformance-wrong-key-0000000000000000"),
    ],
)
def test_get_story_auth_modes(
    profile: Profile, profiles: Profiles, auth: str, header: str, expected: str | None
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = TargetClient(profile, "run", transport=httpx.MockTransport(handler))
    client.get_story(5, params={"story_mode": "LIVE"}, auth=auth)  # type: ignore[arg-type]
    assert seen[0].url == "http://target.test/api/v1/stories/5?story_mode=LIVE"
    value = seen[0].headers.get(header)
    assert value == (expected.format(key=profiles.api_key) if expected else None)


def test_transport_errors_become_exchanges_not_exceptions(profiles: Profiles) -> None:
    profile = load_profile(profiles.write(f"http://127.0.0.1:{free_port()}"))
    with TargetClient(profile, "run") as client:
        exchange = client.get_story(1)
    assert exchange.response is None
    assert exchange.error == "connection refused"

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = TargetClient(profile, "run", transport=httpx.MockTransport(hang))
    timed_out = client.request("GET", f"{profile.target.base_url}/", timeout=0.5)
    assert timed_out.error is not None
    assert timed_out.error.startswith("no answer within 0.5 s")


def test_a_trickling_answer_is_cut_off_at_the_request_timeout(profiles: Profiles) -> None:
    """httpx bounds each read, not the whole: a target sending a byte every 50 ms would hold a
    blocking check for the 5 s its answer takes. The client gives up after the timeout plus
    safety.answer_seconds, long before the stream ends."""
    profile = load_profile(profiles.write("http://target.test", safety={"answer_seconds": 0.5}))
    sent_chunks: list[int] = []

    class Trickle(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            for number in range(100):
                time.sleep(0.05)  # the target's pace, not synchronisation
                sent_chunks.append(number)
                yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Trickle())

    with TargetClient(profile, "run", transport=httpx.MockTransport(handler)) as client:
        exchange = client.request("GET", "http://target.test/slow", timeout=0.2)
    assert exchange.response is None
    assert exchange.error is not None
    assert exchange.error.startswith("no complete answer within 0.7 s")
    assert len(sent_chunks) < 100


def test_poll_response_url_backs_off_until_the_answer(profile: Profile) -> None:
    clock = FakeClock()
    answers = iter([202, 202, 202, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={})

    client = clocked_client(profile, clock, handler)
    exchanges = client.poll_response_url("http://target.test/r/1", deadline_seconds=30)
    assert [e.response.status for e in exchanges if e.response] == [202, 202, 202, 200]
    assert clock.now - 100.0 == pytest.approx(0.1 + 0.2 + 0.4)


def test_poll_waits_until_the_data_is_due_and_caps_its_backoff(profile: Profile) -> None:
    """No GET before the data can exist; after it, waits double from 0.1 s and stop at 1 s."""
    clock = FakeClock()
    answers = iter([202] * 6 + [200])
    asked_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked_at.append(clock.now - 100.0)
        return httpx.Response(next(answers), json={})

    client = clocked_client(profile, clock, handler)
    exchanges = client.poll_response_url("http://target.test/r/1", 30, due_in_seconds=5)
    last = exchanges[-1].response
    assert last is not None
    assert last.status == 200
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(asked_at)]
    assert asked_at[0] == pytest.approx(5.0)
    assert gaps == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_async_poll_gives_up_at_the_deadline(profile: Profile) -> None:
    client = AsyncTargetClient(
        profile,
        "run",
        caps=Caps(RateLimiter(1000), InFlightCap(2)),
        transport=httpx.MockTransport(lambda r: httpx.Response(202, json={})),
    )

    async def poll() -> list[int]:
        exchanges = await client.poll_response_url("http://target.test/r/1", 0.35)
        await client.aclose()
        return [e.response.status for e in exchanges if e.response]

    statuses = asyncio.run(poll())
    assert statuses
    assert set(statuses) == {202}


def test_ca_bundle_and_verify_are_honoured(profiles: Profiles, tmp_path: Path) -> None:
    insecure = load_profile(profiles.write("https://x.test", target={"verify_tls": False}))
    assert TargetClient(insecure, "run")._verify() is False
    secure = load_profile(profiles.write("https://x.test"))
    assert TargetClient(secure, "run")._verify() is True
