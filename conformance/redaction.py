"""Secrets never leave the process: every text the suite writes passes through one Redactor.

The profile's API key and the webhook secrets (the last path segment of each webhook URL) are
registered once, at session start; reports, log lines, curl reproductions and failure messages
are all rendered through `redact`. Headers that carry credentials are masked whatever their value.

A target may echo what it was sent in any encoding, so each secret is masked in every form a
target could plausibly hand back (`forms_of`): as is, percent-encoded (`quote`, `quote_plus`,
either case of hex), JSON- and HTML-escaped, hex, and base64 (standard and URL-safe, padded or
not). Base64 of a longer text that contains the secret (`Bearer <key>`, a whole header block)
depends on where the secret fell in it, so for each of the three alignments the part of the
encoding that only the secret decides is masked too: no run of base64 that spells the secret
survives, whatever surrounds it.

A secret shorter than `MIN_SECRET_LENGTH` could be a word ("wrong" in "a wrong API key"), so it
is never replaced inside prose: it is masked only where it stands as a secret, as the secret
segment of a webhook URL (/webhook/{path}/{secret}) or as a whole header value. An API key that
short is refused outright (`conformance.profile.Profile.api_key`): it can be echoed anywhere.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit

MASK = "***"
CREDENTIAL_HEADERS = frozenset({"authorization", "x-user-token", "cookie", "set-cookie"})
# Shorter than this, a secret may be an ordinary word: masked only as a URL segment or a header.
MIN_SECRET_LENGTH = 12
# The header values a key is sent in (conformance.http): their encodings are masked as a whole.
_KEY_CARRIERS = ("Bearer {}", "bearer {}")

_lock = threading.Lock()
_secrets: set[str] = set()
_short: set[str] = set()
_pattern: re.Pattern[str] | None = None
_short_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None, *, carriers: Iterable[str] = ()) -> None:
    """Remember a secret so that it is masked wherever it would be written; `carriers` are the
    texts it is sent inside (a header value such as `Bearer <key>`), masked in every form too."""
    global _pattern, _short_pattern
    if not value:
        return
    with _lock:
        if len(value) < MIN_SECRET_LENGTH:
            _short.add(value)
            _short_pattern = None
            return
        _secrets.add(value)
        _secrets.update(template.format(value) for template in carriers)
        _pattern = None


def register_api_key(value: str | None) -> None:
    """An API key, with the header values it travels in (`Authorization: Bearer <key>`)."""
    register_secret(value, carriers=_KEY_CARRIERS)


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
    global _pattern, _short_pattern
    with _lock:
        _secrets.clear()
        _short.clear()
        _pattern = None
        _short_pattern = None


def _base64_cores(raw: bytes) -> set[str]:
    """For each alignment of `raw` inside a longer text, the base64 characters it alone decides.

    A character of base64 encodes 6 bits; the ones that straddle the secret's first or last byte
    depend on its neighbours and are left out. What is left is at least 4 characters shorter than
    the secret's own encoding, which for a secret of MIN_SECRET_LENGTH is still 12 characters.
    """
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = 0 if offset == 0 else (offset * 8 + 5) // 6
        end = ((offset + len(raw)) * 8) // 6
        core = encoded[start:end]
        if len(core) >= 8:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def forms_of(secret: str) -> set[str]:
    """Every form of the secret a target could echo, each of which is masked."""
    raw = secret.encode()
    forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
    forms |= {f.lower() for f in list(forms) if "%" in f}  # %2F as well as %2f
    forms |= {quote(secret, safe="").replace("%", "%25")}  # encoded twice
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {json.dumps(secret)[1:-1].replace("/", "\\/"), html.escape(secret)}
    hexed = binascii.hexlify(raw).decode()
    forms |= {hexed, hexed.upper()}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms |= {encoded.decode(), encoded.decode().rstrip("=")}
    forms |= _base64_cores(raw)
    return {f for f in forms if f}


def _compiled() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The patterns for the registered secrets, built once after each change (longest first, so
    that no tail of a longer form survives a shorter one's match)."""
    global _pattern, _short_pattern
    with _lock:
        if _pattern is None and _secrets:
            forms = {form for secret in _secrets for form in forms_of(secret)}
            ordered = sorted(forms, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(f) for f in ordered))
        if _short_pattern is None and _short:
            ordered = sorted(
                {f for s in _short for f in (s, quote(s, safe=""))}, key=len, reverse=True
            )
            alternatives = "|".join(re.escape(f) for f in ordered)
            # Where a webhook secret stands: the whole segment after /webhook/{path}/, before a
            # slash, query, fragment, quote, space or the end. "/webhook/probe/wrong" is masked;
            # "a wrong API key" and "/api/v1/stories/wrong" are not.
            _short_pattern = re.compile(
                rf"(/webhook/[^/?#\s\"'<>]+/)(?:{alternatives})(?=[/?#\"'\s<>]|$)"
            )
        return (_pattern if _secrets else None), (_short_pattern if _short else None)


def redact(text: str) -> str:
    """The text with every registered secret masked, in every form (`forms_of`)."""
    pattern, short_pattern = _compiled()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if short_pattern is not None:
        text = short_pattern.sub(rf"\g<1>{MASK}", text)
    return text


def _is_short_secret(value: str) -> bool:
    with _lock:
        return value.strip() in _short


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        if name.lower() in CREDENTIAL_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out.append((name, f"{scheme} {MASK}".strip()))
        elif _is_short_secret(value):
            out.append((name, MASK))
        else:
            out.append((name, redact(value)))
    return out
