"""`TargetClient`: the checks' client, whose every call blocks, within the run's shared caps.

Its calls and their bounds are described in `conformance.http`; what it shares with the
background probes' client is `client_core.ClientCore`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

import tines_spec
from conformance import recording
from conformance.bounded import (
    AnswerTooLarge,
    budget,
    read_capped,
    with_deadlines,
)
from conformance.caps import Caps
from conformance.client_core import (
    POLL_BACKOFF,
    UNSET,
    Auth,
    ClientCore,
    default_until,
    was_refused,
)
from conformance.exchange import Exchange
from conformance.profile import Profile


class TargetClient(ClientCore):
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
        self._charge()
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
            json=tines_spec.probe_request(exit, delay_seconds),
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
            json=tines_spec.race_request(token, first_delay_seconds, second_delay_seconds),
            timeout=timeout,
        )

    def poll_response_url(
        self,
        url: str,
        deadline_seconds: float,
        until: Callable[[Exchange], bool] = default_until,
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
            if until(exchange) or was_refused(exchange):
                return seen
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return seen
            self._sleep(min(backoff, remaining))
            backoff = min(backoff * 2, POLL_BACKOFF[1])
