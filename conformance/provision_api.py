"""The tenant API calls `conformance provision` makes: each bounded, each a one-line error.

Its own httpx client, not the run's `TargetClient`: that one is built from a profile, and the
profile is what provisioning is about to write. Bounded like every request of the suite: a
timeout per request, no redirects followed, answers read up to a cap; the key is registered with
`conformance.redaction` before anything could print it.
"""

from __future__ import annotations

import json as jsonlib
import os
import time
from typing import Any

import httpx

from conformance import redaction
from conformance.errors import ConformanceError, TargetUnreachable, UsageError
from conformance.http import USER_AGENT, describe_transport_error

__all__ = [
    "MAX_ANSWER_BYTES",
    "REQUEST_TIMEOUT_SECONDS",
    "ProvisionError",
    "TenantApi",
    "api_key",
]

REQUEST_TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 4 * 1024 * 1024


class ProvisionError(ConformanceError):
    """The target answered, but not as provisioning needs: one line saying what and where."""


class TenantApi:
    """The few calls provisioning makes, each bounded, each a one-line error when it fails."""

    def __init__(self, base_url: str, key: str, *, timeout: float, verify_tls: bool) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            verify=verify_tls,
            follow_redirects=False,
            timeout=timeout,
            headers={"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        url = self.base + path
        # httpx bounds each phase; the deadline bounds the whole answer, however it trickles.
        deadline = time.monotonic() + 2 * self.timeout
        try:
            with self._http.stream(method, url, json=json, params=params) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the answer did not finish in time")
                    if len(body) > MAX_ANSWER_BYTES:
                        raise ProvisionError(
                            f"{method} {path}: the answer passed {MAX_ANSWER_BYTES} bytes"
                        )
                status = response.status_code
        except httpx.HTTPError as exc:
            raise TargetUnreachable(
                redaction.redact(self.base),
                redaction.redact(describe_transport_error(exc, self.timeout)),
            ) from None
        if status == 401:
            raise ProvisionError(f"{method} {path}: the target refused the API key (401)")
        try:
            return status, jsonlib.loads(body) if body else None
        except (ValueError, RecursionError):
            return status, None

    def expect(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        status, body = self.call(method, path, **kwargs)
        if status == 403:
            raise ProvisionError(
                f"{method} {path}: forbidden (403){_error_text(body)}; the key lacks the permission"
            )
        if status not in ok:
            raise ProvisionError(f"{method} {path}: answered {status}{_error_text(body)}")
        return body


def _error_text(body: Any) -> str:
    """The first error message of Tines' `{"errors": [{"message": ...}]}`, if that is the body."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict) and isinstance(first.get("message"), str):
            return redaction.redact(f": {first['message'][:200]}")
    return ""


def api_key(env_name: str) -> str:
    """The key from the environment, registered for redaction before anything could print it."""
    key = os.environ.get(env_name, "")
    if not key:
        raise UsageError(f"set {env_name} to the tenant's API key")
    if len(key) < redaction.MIN_SECRET_LENGTH:
        raise UsageError(
            f"{env_name} holds {len(key)} characters: too short for an API key "
            f"(at least {redaction.MIN_SECRET_LENGTH}), and too short to be masked safely"
        )
    # Every form a tenant could echo: raw, in its Authorization header, base64, URL-encoded.
    redaction.register_api_key(key)
    return key
