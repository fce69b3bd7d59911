"""Every HTTP exchange of a run, kept for exchanges.har and for each check's Allure evidence.

The clients of `conformance.http` hand each exchange to the active `ExchangeLog` (one per run,
installed by the plugin). The log turns it at once into a redacted HAR 1.2 entry and appends that
to a spool file, so a long run's traffic costs disk, not memory, and nothing unredacted is ever
held past the request: at the end the spool is wrapped into one HAR document.

Which check sent a request is read from a context variable that the plugin sets around each
test; the background probes run on a thread of their own, where it is unset, and are labelled as
such.

No HAR library is used: the ones on PyPI read HAR files (haralyzer) or capture a browser's or a
proxy's traffic; writing the dozen fields of HAR 1.2 for exchanges the suite already holds is
less code than adapting either, and the format is checked in the tests against the HAR 1.2
field list.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance import __version__
from conformance.exchange import Exchange
from conformance.redaction import redact, redact_headers, register_webhook_url

__all__ = [
    "BACKGROUND",
    "ExchangeLog",
    "current_check",
    "har_entry",
    "install",
    "now",
    "record",
]

BACKGROUND = "background probes"
# A body past this many bytes is cut in the HAR file (with a note): a vendor's bug report needs
# the start of an answer, not megabytes of it.
MAX_BODY_BYTES = 1_000_000

current_check: ContextVar[str | None] = ContextVar("current_check", default=None)

_active: ExchangeLog | None = None
# What was recorded while `hold()` was in force and no log was installed yet.
_held: list[tuple[Exchange, datetime, str | None]] | None = None
_held_lock = threading.Lock()


def hold() -> None:
    """Keep what is recorded from now until a log is installed, for that log: the long waits
    `conformance run` starts before pytest does must be in the run's HAR too."""
    global _held
    with _held_lock:
        if _active is None and _held is None:
            _held = []


def install(log: ExchangeLog | None) -> None:
    """Make `log` the run's log (None: stop recording), with what was held for it."""
    global _active, _held
    with _held_lock:
        _active = log
        held, _held = _held or [], None
    if log is not None:
        for exchange, started_at, check in held:
            log.add(exchange, started_at, check)


def record(exchange: Exchange, started_at: datetime) -> None:
    """Hand an exchange to the run's log, if one is installed (or held for one)."""
    # A response URL carries a secret the target chose: mask it before anything is written.
    for url in exchange.response_urls():
        register_webhook_url(url)
    check = current_check.get()
    with _held_lock:
        log = _active
        if log is None and _held is not None:
            _held.append((exchange, started_at, check))
    if log is not None:
        log.add(exchange, started_at, check)


def _text(body: bytes) -> tuple[str, str | None]:
    """The body as redacted text, and a note when it had to be cut or was not UTF-8.

    Bytes that are not UTF-8 are replaced rather than base64-encoded: a secret inside base64
    could not be redacted."""
    note: str | None = None
    if len(body) > MAX_BODY_BYTES:
        note = f"body cut at {MAX_BODY_BYTES} of {len(body)} bytes"
        body = body[:MAX_BODY_BYTES]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
        note = (note + "; " if note else "") + "bytes that are not UTF-8 were replaced"
    return redact(text), note


def _headers(pairs: Any) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in redact_headers(pairs)]


def _media_type(pairs: Any) -> str:
    for name, value in pairs:
        if name.lower() == "content-type":
            return str(value)
    return ""


def har_entry(exchange: Exchange, started_at: datetime, check: str | None) -> dict[str, Any]:
    """One exchange as a HAR 1.2 entry, every text redacted."""
    sent = exchange.request
    url = redact(sent.url)
    request: dict[str, Any] = {
        "method": sent.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(sent.headers),
        "queryString": [
            {"name": redact(k), "value": redact(v)}
            for k, v in parse_qsl(urlsplit(sent.url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(sent.body),
    }
    comments: list[str] = []
    if sent.body:
        text, note = _text(sent.body)
        request["postData"] = {"mimeType": _media_type(sent.headers), "text": text}
        if note:
            comments.append(f"request {note}")
    received = exchange.response
    if received is None:
        response: dict[str, Any] = {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": redact(exchange.error or "no response"),
        }
        elapsed_ms = -1.0
    else:
        text, note = _text(received.body)
        if note:
            comments.append(f"response {note}")
        response = {
            "status": received.status,
            "statusText": received.reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(received.headers),
            "content": {
                "size": len(received.body),
                "mimeType": received.header("content-type") or "",
                "text": text,
            },
            "redirectURL": redact(received.header("location") or ""),
            "headersSize": -1,
            "bodySize": len(received.body),
        }
        elapsed_ms = round(received.elapsed_seconds * 1000, 3)
    entry: dict[str, Any] = {
        "startedDateTime": started_at.isoformat(timespec="milliseconds"),
        "time": max(elapsed_ms, 0.0),
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": max(elapsed_ms, 0.0), "receive": 0},
        "_check": check or BACKGROUND,
    }
    if comments:
        entry["comment"] = "; ".join(comments)
    return entry


class ExchangeLog:
    """The run's exchanges: a spool of HAR entries on disk, and the current check's in memory."""

    def __init__(self, spool: Path) -> None:
        spool.parent.mkdir(parents=True, exist_ok=True)
        self._spool_path = spool
        self._spool = spool.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._count = 0
        self._by_check: dict[str, list[dict[str, Any]]] = {}

    @property
    def count(self) -> int:
        return self._count

    def add(self, exchange: Exchange, started_at: datetime, check: str | None) -> None:
        entry = har_entry(exchange, started_at, check)
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            if self._spool.closed:
                return
            self._spool.write(line + "\n")
            self._count += 1
            if check is not None:
                self._by_check.setdefault(check, []).append(entry)

    def take(self, check: str) -> list[dict[str, Any]]:
        """The entries a check has sent since the last call (for its Allure evidence)."""
        with self._lock:
            return self._by_check.pop(check, [])

    def entries(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            self._spool.flush()
        with self._spool_path.open(encoding="utf-8") as spool:
            for line in spool:
                yield json.loads(line)

    def write_har(self, path: Path, *, run_id: str) -> int:
        """Wrap the spool into one HAR 1.2 document at `path`, entry by entry; returns how many."""
        with self._lock:
            self._spool.flush()
        path.parent.mkdir(parents=True, exist_ok=True)
        head = {
            "version": "1.2",
            "creator": {"name": "tines-conformance", "version": __version__},
            "comment": f"conformance run {run_id}; every secret is masked as ***",
        }
        written = 0
        with (
            path.open("w", encoding="utf-8") as out,
            self._spool_path.open(encoding="utf-8") as spool,
        ):
            out.write('{"log": ' + json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": [\n')
            for line in spool:
                out.write((",\n" if written else "") + line.rstrip("\n"))
                written += 1
            out.write("\n]}}\n")
        return written

    def close(self, *, remove_spool: bool = True) -> None:
        with self._lock:
            if not self._spool.closed:
                self._spool.close()
        if remove_spool:
            with contextlib.suppress(OSError):
                self._spool_path.unlink()


def now() -> datetime:
    return datetime.now(UTC)
