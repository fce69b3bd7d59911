"""`AsyncTargetClient`: the background probes' client, the checks' calls awaited, same caps.

Its calls and their bounds are described in `conformance.http`; what it shares with the checks'
client is `client_core.ClientCore`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

import tines_spec
from conformance import recording
from conformance.bounded import (
    AnswerTooLarge,
    read_capped_async,
)
from conformance.caps import Caps
from conformance.client_core import (
    POLL_BACKOFF,
    UNSET,
    Auth,
    ClientCore,
    default_until,
    trickled,
    was_refused,
)
from conformance.exchange import Exchange
from conformance.profile import Profile

CANCELLED = "no answer: the run stopped waiting for it (cancelled)"


def _delivery_trace(
    delivered: Callable[[], None],
) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """httpcore's `trace` extension, reduced to the one event a caller needs: the request's
    body has been written to the connection."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_body.complete"):
            delivered()

    return trace


class AsyncTargetClient(ClientCore):
    """The background probes' client: the same calls, awaited, within the same shared caps.

    Its httpx.AsyncClient is made on first use, inside the event loop that will run it.
    """

    def __init__(
        self,
        profile: Profile,
        run_id: str,
        *,
        caps: Caps | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(profile, run_id, caps=caps)
        self._transport = transport
        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
            self._http = httpx.AsyncClient(
                verify=self._verify(),
                transport=self._transport,
                limits=limits,
                follow_redirects=False,  # as the sync client: a 3xx is the answer
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = UNSET,
        content: bytes | str | None = None,
        timeout: float | None = None,
        answer_timeout: float | None = None,
        on_delivered: Callable[[], None] | None = None,
    ) -> Exchange:
        """Send, bounded as every request of the suite is. `on_delivered` is called once the
        request's body has been sent (the target has all of it), or never if it was not."""
        seconds = self._timeout(timeout)
        total = seconds + self._answer_timeout(answer_timeout)
        http = self._client()
        request, sent = self._build(http, method, url, headers, params, json, content, seconds)
        if on_delivered is not None:
            request.extensions["trace"] = _delivery_trace(on_delivered)
        refused = self._refused(sent)
        if refused is not None:
            return refused
        self._charge()
        await self.caps.in_flight.acquire_async()
        try:
            wait = self.caps.rate.reserve()
            if wait > 0:
                await self._sleep(wait)
            self._count()
            started_at = recording.now()
            started = time.perf_counter()
            try:
                # A total deadline as well as httpx's per-phase timeouts: a target that trickles
                # its answer byte by byte must still end within the request's time.
                response, body = await asyncio.wait_for(self._read(http, request), total)
            except AnswerTooLarge as exc:
                return self._cut(sent, started_at, exc)
            except TimeoutError:
                return self._failed(sent, started_at, trickled(total), total)
            except httpx.HTTPError as exc:
                return self._failed(sent, started_at, exc, seconds)
            except asyncio.CancelledError:
                # Sent, so in the run's record: a probe the run stopped (Ctrl-C, the deadline,
                # or a selection that turned out not to need it) leaves its request in the HAR.
                recording.record(Exchange(sent, None, error=CANCELLED), started_at)
                raise
            elapsed = time.perf_counter() - started
            return self._answered(sent, started_at, self._received(response, elapsed, body))
        finally:
            self.caps.in_flight.release()

    async def _read(
        self, http: httpx.AsyncClient, request: httpx.Request
    ) -> tuple[httpx.Response, bytes]:
        response = await http.send(request, stream=True)
        try:
            body = await read_capped_async(response, self.profile.safety.max_response_bytes)
        finally:
            await response.aclose()
        return response, body

    async def get_story(
        self,
        story_id: int | str,
        params: Mapping[str, Any] | None = None,
        auth: Auth = "bearer",
        *,
        timeout: float | None = None,
    ) -> Exchange:
        url, headers = self._story_args(story_id, auth)
        return await self.request("GET", url, headers=headers, params=params, timeout=timeout)

    async def probe(
        self,
        exit: Any,
        delay_seconds: float = 0.0,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        on_delivered: Callable[[], None] | None = None,
    ) -> Exchange:
        return await self.request(
            "POST",
            self.profile.webhooks.probe_url,
            headers=self._accept_headers(accept, headers),
            json=tines_spec.probe_request(exit, delay_seconds),
            timeout=timeout,
            on_delivered=on_delivered,
        )

    async def race(
        self,
        token: str,
        first_delay_seconds: float,
        second_delay_seconds: float,
        accept: str | None = None,
        *,
        timeout: float | None = None,
    ) -> Exchange:
        race_url = self.profile.webhooks.race_url
        if race_url is None:
            raise LookupError("the profile has no webhooks.race_url")
        return await self.request(
            "POST",
            race_url,
            headers=self._accept_headers(accept, None),
            json=tines_spec.race_request(token, first_delay_seconds, second_delay_seconds),
            timeout=timeout,
        )

    async def poll_response_url(
        self,
        url: str,
        deadline_seconds: float,
        until: Callable[[Exchange], bool] = default_until,
        *,
        due_in_seconds: float = 0.0,
    ) -> list[Exchange]:
        """GET the URL with backoff until `until` holds or time is up (see POLL_BACKOFF)."""
        seen: list[Exchange] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_seconds
        await self._sleep(min(max(due_in_seconds, 0.0), deadline_seconds))
        backoff = POLL_BACKOFF[0]
        while True:
            remaining = deadline - loop.time()
            timeout = min(self._timeout(None), max(remaining, 1.0))
            exchange = await self.request("GET", url, timeout=timeout)
            seen.append(exchange)
            if until(exchange) or was_refused(exchange):
                return seen
            remaining = deadline - loop.time()
            if remaining <= 0:
                return seen
            await self._sleep(min(backoff, remaining))
            backoff = min(backoff * 2, POLL_BACKOFF[1])
