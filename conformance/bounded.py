"""The bounds on one answer that a target controls: its size, its total time, and its URLs.

httpx bounds each phase of a request (connect, each read) but not the whole, and buffers a body
of any size: a target that trickles its answer a byte a second, or sends 3 GB, would hold the
suite for as long as it likes or exhaust its memory. `conformance.http` therefore reads every
answer as a stream through `read_capped` (cut at `safety.max_response_bytes`), and its sync
client's connections through `DeadlineBackend`, which shortens each socket operation's timeout
to what is left of the request's budget (the async client's whole request sits in a
`wait_for`). `Origins` is the same-origin rule for URLs the target hands back.

Hand-written because httpx has no total-time or size limit of its own; the network-backend hook
is httpcore's documented extension point, though httpx offers no public way to pass one in.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = [
    "AnswerTooLarge",
    "DeadlineBackend",
    "Origins",
    "Unfinished",
    "budget",
    "read_capped",
    "read_capped_async",
    "with_deadlines",
]

NOT_FETCHED = "not fetched:"


class AnswerTooLarge(Exception):
    """The answer's body went past the cap; what was read of it is dropped."""

    def __init__(self, limit: int, status: int) -> None:
        self.limit = limit
        super().__init__(f"answer larger than {limit} bytes (HTTP {status}); cut there, not read")


class Unfinished(TimeoutError):
    """An answer that did not end in its time (silent or trickling): its message says so."""


@dataclass
class _Budget:
    """One request's time: until `deadline` (perf_counter), shortened once the answer begins."""

    deadline: float
    first_byte: float
    after_first_byte: float
    begun: bool = False

    def unfinished(self) -> Unfinished:
        if self.begun:
            within = f"{self.after_first_byte:g} s of its first byte"
        else:
            within = f"{self.first_byte + self.after_first_byte:g} s"
        return Unfinished(f"no complete answer within {within} (a trickle counts as silence)")

    def check(self) -> None:
        """Raise `unfinished()` once the budget is spent (between reads of a stream)."""
        if time.perf_counter() > self.deadline:
            raise self.unfinished()

    def remaining(self, timeout: float | None) -> float:
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise httpcore.ReadTimeout(f"the answer did not finish within its time ({left:.1f})")
        return left if timeout is None else min(timeout, left)

    def saw_bytes(self) -> None:
        if not self.begun:
            self.begun = True
            self.deadline = min(self.deadline, time.perf_counter() + self.after_first_byte)


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


@contextlib.contextmanager
def budget(first_byte_seconds: float, answer_seconds: float) -> Iterator[_Budget]:
    """Within this block, a request on a `DeadlineBackend` connection ends by the time its
    answer must have begun plus `answer_seconds`, and within `answer_seconds` of its first byte."""
    start = time.perf_counter()
    current = _Budget(
        start + first_byte_seconds + answer_seconds, first_byte_seconds, answer_seconds
    )
    token = _budget.set(current)
    try:
        yield current
    finally:
        _budget.reset(token)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    @staticmethod
    def _clamp(timeout: float | None) -> float | None:
        current = _budget.get()
        return timeout if current is None else current.remaining(timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, self._clamp(timeout))
        current = _budget.get()
        if data and current is not None:
            current.saw_bytes()
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, self._clamp(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, each operation's timeout cut to the request's `budget`."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _DeadlineStream._clamp(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _DeadlineStream._clamp(timeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def with_deadlines(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """The transport, its connections made through a `DeadlineBackend`.

    httpx builds its httpcore pool itself and takes no network backend, so the pool's backend is
    wrapped in place; should a new httpx lay its pool out otherwise, this fails loudly here
    rather than leaving the requests unbounded.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        raise RuntimeError("httpx's transport has no httpcore pool to bound (httpx changed?)")
    if not isinstance(backend, DeadlineBackend):
        pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport


def _declared_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The whole (decoded) body, or `AnswerTooLarge` as soon as it passes `limit` bytes."""
    declared = _declared_length(response)
    if declared is not None and declared > limit and "content-encoding" not in response.headers:
        raise AnswerTooLarge(limit, response.status_code)
    chunks: list[bytes] = []
    size = 0
    current = _budget.get()
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit, response.status_code)
        chunks.append(chunk)
        if current is not None:  # a transport other than DeadlineBackend's is bounded here
            current.check()
    return b"".join(chunks)


async def read_capped_async(response: httpx.Response, limit: int) -> bytes:
    declared = _declared_length(response)
    if declared is not None and declared > limit and "content-encoding" not in response.headers:
        raise AnswerTooLarge(limit, response.status_code)
    chunks: list[bytes] = []
    size = 0
    stream: AsyncIterator[bytes] = response.aiter_bytes()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit, response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


class Origins:
    """Where the suite may send a request: the origins of the URLs the profile gives (base URL,
    webhook URLs) and the hosts of `safety.allowed_hosts`. Everything else a target names (a
    response URL, a redirect's Location) is somewhere the user never pointed the suite at."""

    def __init__(self, profile_urls: Iterable[str | None], allowed_hosts: Iterable[str]) -> None:
        self._origins = {o for o in (_origin(u) for u in profile_urls if u) if o is not None}
        self._hosts = {h.lower() for h in allowed_hosts}

    def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        if origin in self._origins:
            return True
        _, host, port = origin
        return host in self._hosts or f"{host}:{port}" in self._hosts

    def refusal(self, url: str) -> str | None:
        """None when the URL may be fetched, else the one-line reason it is not."""
        if self.allows(url):
            return None
        return (
            f"{NOT_FETCHED} {url} is outside the target's origin and the profile's "
            "safety.allowed_hosts (a URL the target handed back)"
        )
