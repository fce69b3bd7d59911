"""What the suite's two HTTP clients share: the constants, the request building, the caps.

`ClientCore` is the part of `TargetClient` (`target_client.py`) and `AsyncTargetClient`
(`async_target_client.py`) that does not block or await: the run's shared caps, the headers every
request carries, the request built once, a URL refused outside the target's origins, and each
exchange handed to the run's `recording`. `conformance.http` names all of it for the suite.
"""

from __future__ import annotations

import errno
import json as jsonlib
import socket
import ssl
import threading
from collections.abc import Mapping
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
)
from conformance.caps import Caps, shared_caps
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.profile import Profile
from conformance.redaction import redact
from conformance.request_budget import RequestBudget

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


def trickled(seconds: float) -> Unfinished:
    return Unfinished(f"no complete answer within {seconds:g} s (a trickle counts as silence)")


def was_refused(exchange: Exchange) -> bool:
    return exchange.response is None and (exchange.error or "").startswith(NOT_FETCHED)


def header_pairs(headers: httpx.Headers) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key.decode(headers.encoding), value.decode(headers.encoding)) for key, value in headers.raw
    )


def default_until(exchange: Exchange) -> bool:
    return exchange.response is not None and exchange.response.status == 200


class ClientCore:
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
        # The run's request budget (`conformance.request_budget`): its limit from the start, each
        # check's share once the plugin knows the selection.
        self.budget: RequestBudget | None = None

    @property
    def requests_sent(self) -> int:
        return self._requests_sent

    def _charge(self) -> None:
        """Charge the request about to go out to the check sending it (`OverBudget` if it would
        pass its share or the run's limit)."""
        if self.budget is not None:
            self.budget.charge(recording.current_check.get())

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
            headers=header_pairs(request.headers),
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
            headers=header_pairs(response.headers),
            body=response.content if body is None else body,
            elapsed_seconds=elapsed,
        )
