"""Secrets never leave the process: every text the suite writes passes through one Redactor.

The profile's API key and the webhook secrets (the last path segment of each webhook URL) are
registered once, at session start; reports, log lines, curl reproductions and failure messages
are all rendered through `redact`. Headers that carry credentials are masked whatever their value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
CREDENTIAL_HEADERS = frozenset({"authorization", "x-user-token", "cookie", "set-cookie"})

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it would be written."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def register_webhook_url(url: str | None) -> None:
    """A webhook URL is /webhook/{path}/{secret}, and a response URL the target hands out extends
    it (/webhook/{path}/{secret}/{id}): the segment two past `webhook` is the secret either way."""
    if not url:
        return
    segments = [s for s in urlsplit(url).path.split("/") if s]
    for index, segment in enumerate(segments[:-2]):
        if segment == "webhook":
            register_secret(segments[index + 2])


def clear() -> None:
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    """The text with every registered secret masked (longest first, so no tail leaks)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        if name.lower() in CREDENTIAL_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out.append((name, f"{scheme} {MASK}".strip()))
        else:
            out.append((name, redact(value)))
    return out
