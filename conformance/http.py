"""Every request the suite sends goes through here, within the profile's safety caps.

`TargetClient` (sync, for checks) and `AsyncTargetClient` (for the background probes) share, per
process, one `RateLimiter` (requests per second) and one `InFlightCap` (requests outstanding at
once): a check, a probe and schemathesis's calls made through `request` all draw on the same
budget, so the profile's caps hold for the run as a whole. Each request carries the run's ID and
the suite's User-Agent, has a timeout, and comes back as an `Exchange`: an HTTP answer of any kind
or a transport failure (`response=None`, `error` one line), never an exception, so a misbehaving
target becomes a failed check with a reason rather than a crashed suite. Every exchange is also
handed to the run's `recording` log (exchanges.har, the Allure evidence).
"""

from __future__ import annotations

import asyncio
import errno
import json as jsonlib
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, Literal

import httpx

import tines_spec
from conformance import __version__, recording
from conformance.bounded import (
    NOT_FETCHED,
    AnswerTooLarge,
    Origins,
    Unfinished,
    budget,
    read_capped,
    read_capped_async,
    with_deadlines,
)
from conformance.caps import Caps, shared_caps
from conformance.errors import TargetUnreachable
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.profile import Profile
from conformance.redaction import redact

__all__ = [
    "RUN_ID_HEADER",
    "USER_AGENT",
    "AsyncTargetClient",
    "Auth",
    "TargetClient",
    "describe_transport_error",
    "ensure_reachable",
    "story_url",
]

RUN_ID_HEADER = "X-Conformance-Run-ID"
# Polling a response URL: the first GET when the data can first exist (`due_in_seconds`), then
# waits doubling from 0.1 s to 1 s. Data that arrives on time is seen within a tenth of a second;
# late data costs the target at most one request a second per URL, inside the rate cap.
POLL_BACKOFF = (0.1, 1.0)
USER_AGENT = f"tines-conformance/{__version__}"
Auth = Literal["bearer", "token", "none", "wrong"]
# A key of the right shape that no target issued: STORY-AUTH-003's "wrong key".
WRONG_KEY = "conformance-wrong-key-0000000000000000"
NO_ANSWER = "no answer within"
PREFLIGHT_TIMEOUT_SECONDS = 5.0


class _Unset:
    """Marks `json=` as not given, so that `json=None` can send the JSON literal null."""


UNSET: Any = _Unset()


@cache
def _get_story_path() -> str:
    """The Stories Get path template, read from the OpenAPI document by operationId."""
    document = tines_spec.openapi()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("operationId") == "getStory":
                return str(path)
    raise LookupError("spec/openapi.yaml has no operation getStory")


def story_url(profile: Profile, story_id: int | str) -> str:
    path = _get_story_path().replace("{story_id}", str(story_id))
    return profile.target.base_url.rstrip("/") + path


def describe_transport_error(exc: BaseException, timeout: float) -> str:
    """One line saying why no HTTP answer came: refused, DNS, TLS, timeout, reset."""
    if isinstance(exc, Unfinished):
        return str(exc)
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"{NO_ANSWER} {timeout:g} s ({type(exc).__name__})"
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the target"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"DNS lookup failed: {text}"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS error: {text}"
    return f"{type(exc).__name__}: {text}"[:300]


def ensure_reachable(client: TargetClient) -> Exchange:
    """One GET of the first story: no usable HTTP answer ends the run early, in one line.

    Refused, DNS, TLS, bytes that are not HTTP, no answer within PREFLIGHT_TIMEOUT_SECONDS (or
    within the run deadline, if shorter), an answer that trickles or passes the size cap: a
    target that cannot answer one story read in that time would only make every check wait out
    its timeout, until the run deadline. The exchange is returned, so that the run's record of
    its traffic can include it.
    """
    profile = client.profile
    seconds = min(PREFLIGHT_TIMEOUT_SECONDS, profile.safety.run_deadline_seconds / 2)
    exchange = client.get_story(
        profile.stories.ids[0], timeout=seconds, answer_timeout=PREFLIGHT_TIMEOUT_SECONDS
    )
    if exchange.response is None:
        raise TargetUnreachable(redact(profile.target.base_url), exchange.error or "no answer")
    return exchange


def _trickled(seconds: float) -> Unfinished:
    return Unfinished(f"no complete answer within {seconds:g} s (a trickle counts as silence)")


def _refused(exchange: Exchange) -> bool:
    return exchange.response is None and (exchange.error or "").startswith(NOT_FETCHED)


def _header_pairs(headers: httpx.Headers) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key.decode(headers.encoding), value.decode(headers.encoding)) for key, value in headers.raw
    )


def _default_until(exchange: Exchange) -> bool:
    return exchange.response is not None and exchange.response.status == 200


class _ClientCore:
    """What the sync and async clients share: caps, headers, request building, recording."""

    def __init__(self, profile: Profile, run_id: str, *, caps: Caps | None = None) -> None:
        self.profile = profile
        self.run_id = run_id
        self.caps = caps or shared_caps(profile.safety)
        self.origins = Origins(
            (profile.target.base_url, profile.webhooks.probe_url, profile.webhooks.race_url),
            profile.safety.allowed_hosts,
        )
        self._count_lock = threading.Lock()
        self._requests_sent = 0

    @property
    def requests_sent(self) -> int:
        return self._requests_sent

    def _count(self) -> None:
        with self._count_lock:
            self._requests_sent += 1

    def _verify(self) -> ssl.SSLContext | bool:
        if not self.profile.target.verify_tls:
            return False
        if self.profile.target.ca_bundle:
            return ssl.create_default_context(cafile=self.profile.target.ca_bundle)
        return True

    def _base_headers(self) -> dict[str, str]:
        return {RUN_ID_HEADER: self.run_id, "User-Agent": USER_AGENT}

    def _timeout(self, timeout: float | None) -> float:
        return self.profile.safety.request_timeout_seconds if timeout is None else timeout

    def _answer_timeout(self, timeout: float | None) -> float:
        return self.profile.safety.answer_seconds if timeout is None else timeout

    def _refused(self, sent: SentRequest) -> Exchange | None:
        """A request for a URL outside the target's origins (`Origins`): not sent, and recorded
        with its reason, which the check relying on that URL reports as its finding."""
        reason = self.origins.refusal(sent.url)
        if reason is None:
            return None
        exchange = Exchange(sent, None, error=redact(reason))
        recording.record(exchange, recording.now())
        return exchange

    def _cut(self, sent: SentRequest, started_at: datetime, exc: AnswerTooLarge) -> Exchange:
        exchange = Exchange(sent, None, error=str(exc))
        recording.record(exchange, started_at)
        return exchange

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | str | None,
        timeout: float,
    ) -> tuple[httpx.Request, SentRequest]:
        merged = httpx.Headers(self._base_headers())
        if json is not UNSET:
            content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            merged["Content-Type"] = "application/json"
        for name, value in (headers or {}).items():
            merged[name] = value
        request = http.build_request(
            method, url, headers=merged, params=params, content=content, timeout=timeout
        )
        if "accept" not in {name.lower() for name in headers or {}}:
            # httpx adds `Accept: */*` on its own; a check of the default format (WH-CT-001)
            # must be able to send a request with no Accept header at all.
            request.headers.pop("Accept", None)
        sent = SentRequest(
            method=request.method,
            url=str(request.url),
            headers=_header_pairs(request.headers),
            body=request.content,
        )
        return request, sent

    def _story_args(self, story_id: int | str, auth: Auth) -> tuple[str, dict[str, str]]:
        headers: dict[str, str] = {"Accept": "application/json"}
        if auth == "bearer":
            headers["Authorization"] = f"Bearer {self.profile.api_key()}"
        elif auth == "token":
            headers["X-User-Token"] = self.profile.api_key()
        elif auth == "wrong":
            headers["Authorization"] = f"Bearer {WRONG_KEY}"
        return story_url(self.profile, story_id), headers

    @staticmethod
    def _accept_headers(accept: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        if accept is not None:
            merged["Accept"] = accept
        return merged

    @staticmethod
    def _failed(
        sent: SentRequest, started_at: datetime, exc: BaseException, seconds: float
    ) -> Exchange:
        """A request that got no HTTP answer, as an exchange with its one-line reason, recorded."""
        exchange = Exchange(sent, None, error=redact(describe_transport_error(exc, seconds)))
        recording.record(exchange, started_at)
        return exchange

    @staticmethod
    def _answered(sent: SentRequest, started_at: datetime, received: ReceivedResponse) -> Exchange:
        exchange = Exchange(sent, received)
        recording.record(exchange, started_at)
        return exchange

    @staticmethod
    def _received(
        response: httpx.Response, elapsed: float, body: bytes | None = None
    ) -> ReceivedResponse:
        return ReceivedResponse(
            status=response.status_code,
            reason=response.reason_phrase,
            headers=_header_pairs(response.headers),
            body=response.content if body is None else body,
            elapsed_seconds=elapsed,
        )


class TargetClient(_ClientCore):
    """The checks' client: blocking calls, each within the shared caps."""

    def __init__(
        self,
        profile: Profile,
        run_id: str,
        *,
        caps: Caps | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(profile, run_id, caps=caps)
        self._sleep = sleep
        if transport is None:
            transport = with_deadlines(httpx.HTTPTransport(verify=self._verify()))
        # Redirects are never followed: a 3xx is the answer judged, and its Location (a URL the
        # target chose) is never fetched on the suite's own initiative.
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
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
    ) -> Exchange:
        seconds = self._timeout(timeout)
        after_first_byte = self._answer_timeout(answer_timeout)
        request, sent = self._build(
            self._http, method, url, headers, params, json, content, seconds
        )
        refused = self._refused(sent)
        if refused is not None:
            return refused
        self.caps.in_flight.acquire()
        try:
            wait = self.caps.rate.reserve()
            if wait > 0:
                self._sleep(wait)
            self._count()
            started_at = recording.now()
            started = time.perf_counter()
            with budget(seconds, after_first_byte) as spent:
                try:
                    response, body = self._read(request)
                except AnswerTooLarge as exc:
                    return self._cut(sent, started_at, exc)
                except (httpx.HTTPError, TimeoutError) as exc:
                    if spent.begun and isinstance(exc, httpx.TimeoutException):
                        exc = spent.unfinished()
                    return self._failed(sent, started_at, exc, seconds)
            elapsed = time.perf_counter() - started
            return self._answered(sent, started_at, self._received(response, elapsed, body))
        finally:
            self.caps.in_flight.release()

    def _read(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """Send and read the whole answer, within the size cap and the request's `budget`.

        httpx's timeouts bound each phase (connect, each read), not the whole: a target that
        trickles its answer a byte at a time would hold a blocking check until the run deadline.
        The connections' `DeadlineBackend` cuts every socket operation to the budget's end.
        """
        response = self._http.send(request, stream=True)
        try:
            body = read_capped(response, self.profile.safety.max_response_bytes)
        finally:
            response.close()
        return response, body

    def get_story(
        self,
        story_id: int | str,
        params: Mapping[str, Any] | None = None,
        auth: Auth = "bearer",
        *,
        timeout: float | None = None,
        answer_timeout: float | None = None,
    ) -> Exchange:
        url, headers = self._story_args(story_id, auth)
        return self.request(
            "GET",
            url,
            headers=headers,
            params=params,
            timeout=timeout,
            answer_timeout=answer_timeout,
        )

    def probe(
        self,
        exit: Any,
        delay_seconds: float = 0.0,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Exchange:
        return self.request(
            "POST",
            self.profile.webhooks.probe_url,
            headers=self._accept_headers(accept, headers),
            json={"exit": exit, "delay_seconds": delay_seconds},
            timeout=timeout,
        )

    def race(
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
        return self.request(
            "POST",
            race_url,
            headers=self._accept_headers(accept, None),
            json={
                "token": token,
                "first_delay_seconds": first_delay_seconds,
                "second_delay_seconds": second_delay_seconds,
            },
            timeout=timeout,
        )

    def poll_response_url(
        self,
        url: str,
        deadline_seconds: float,
        until: Callable[[Exchange], bool] = _default_until,
        *,
        due_in_seconds: float = 0.0,
    ) -> list[Exchange]:
        """GET the URL with backoff until `until` holds or time is up (see POLL_BACKOFF)."""
        seen: list[Exchange] = []
        deadline = time.monotonic() + deadline_seconds
        self._sleep(min(max(due_in_seconds, 0.0), deadline_seconds))
        backoff = POLL_BACKOFF[0]
        while True:
            remaining = deadline - time.monotonic()
            timeout = min(self._timeout(None), max(remaining, 1.0))
            exchange = self.request("GET", url, timeout=timeout)
            seen.append(exchange)
            if until(exchange) or _refused(exchange):
                return seen
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return seen
            self._sleep(min(backoff, remaining))
            backoff = min(backoff * 2, POLL_BACKOFF[1])


class AsyncTargetClient(_ClientCore):
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
    ) -> Exchange:
        seconds = self._timeout(timeout)
        total = seconds + self._answer_timeout(answer_timeout)
        http = self._client()
        request, sent = self._build(http, method, url, headers, params, json, content, seconds)
        refused = self._refused(sent)
        if refused is not None:
            return refused
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
                return self._failed(sent, started_at, _trickled(total), total)
            except httpx.HTTPError as exc:
                return self._failed(sent, started_at, exc, seconds)
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
    ) -> Exchange:
        return await self.request(
            "POST",
            self.profile.webhooks.probe_url,
            headers=self._accept_headers(accept, headers),
            json={"exit": exit, "delay_seconds": delay_seconds},
            timeout=timeout,
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
            json={
                "token": token,
                "first_delay_seconds": first_delay_seconds,
                "second_delay_seconds": second_delay_seconds,
            },
            timeout=timeout,
        )

    async def poll_response_url(
        self,
        url: str,
        deadline_seconds: float,
        until: Callable[[Exchange], bool] = _default_until,
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
            if until(exchange) or _refused(exchange):
                return seen
            remaining = deadline - loop.time()
            if remaining <= 0:
                return seen
            await self._sleep(min(backoff, remaining))
            backoff = min(backoff * 2, POLL_BACKOFF[1])
