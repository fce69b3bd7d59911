"""One request and what came back: the evidence every check result carries."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

import tines_spec
from conformance.redaction import redact, redact_headers

Headers = tuple[tuple[str, str], ...]
_BODY_PREVIEW = 600
RESPONSE_LOCATION = tines_spec.metadata_headers().response_location
_NOT_REPEATED = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent"})


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    headers: Headers = ()
    body: bytes = b""


@dataclass(frozen=True)
class ReceivedResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes
    elapsed_seconds: float = 0.0

    def header(self, name: str) -> str | None:
        """The first value of a header (names compare case-insensitively), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lowercased ('' when absent)."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Exchange:
    request: SentRequest
    response: ReceivedResponse | None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    def response_urls(self) -> tuple[str | None, str | None]:
        """Where the run's data will be, as the answer gives it: the response location header
        and the JSON body's `response_url` (each None when absent)."""
        if self.response is None:
            return None, None
        from_header = self.response.header(RESPONSE_LOCATION) or None
        from_body: str | None = None
        if self.response.media_type.endswith("json") or self.response.body[:1] == b"{":
            try:
                body = self.response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("response_url"), str):
                from_body = body["response_url"] or None
        return from_header, from_body

    def curl(self) -> str:
        """A curl command that repeats the request, with every secret masked."""
        parts = ["curl", "-i", "-X", self.request.method]
        for name, value in redact_headers(self.request.headers):
            if name.lower() in _NOT_REPEATED:  # curl sets these itself
                continue
            parts += ["-H", f"{name}: {value}"]
        if self.request.body:
            parts += ["--data-binary", redact(self.request.body.decode("utf-8", errors="replace"))]
        parts.append(redact(self.request.url))
        return " ".join(shlex.quote(p) for p in parts)

    def describe_response(self) -> str:
        """The status line, the headers and the start of the body, redacted, for a report."""
        if self.response is None:
            return f"no response: {self.error}"
        r = self.response
        lines = [f"HTTP {r.status} {r.reason}".rstrip()]
        lines += [f"{k}: {v}" for k, v in redact_headers(r.headers)]
        body = redact(r.text)
        if len(body) > _BODY_PREVIEW:
            body = body[:_BODY_PREVIEW] + f"... ({len(r.body)} bytes in all)"
        lines += ["", body]
        return "\n".join(lines)

    def describe_request(self) -> str:
        body = redact(self.request.body.decode("utf-8", errors="replace"))
        if len(body) > _BODY_PREVIEW:
            body = body[:_BODY_PREVIEW] + "..."
        return f"{self.request.method} {redact(self.request.url)}" + (f"\n{body}" if body else "")
