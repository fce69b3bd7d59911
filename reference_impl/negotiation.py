"""From an exit payload and an Accept header to (status, headers, body bytes): pure functions.

The rules are the spec's (`exit-payload.schema.json`, `openapi.yaml` ExitData and Accept); the
predicates come from the spec's schemas through `tines_spec.validator`, so a change to the spec's
idea of a valid status, header name or header value changes what this module does.

- Convention: a payload is read under status/body/headers exactly when it is an object with
  `status` and `body` and its status is valid (`$defs/validStatus`); otherwise the whole payload
  is the body, with 200.
- Headers of a convention payload are sent when the name is a token (`$defs/headerName`) and the
  value a string without CR/LF/NUL, a number or a boolean (`$defs/headerValue`); anything else is
  dropped and logged by name only (WH-SAFE-001). A header that frames the message is never taken
  from a payload.
- Representation: a payload Content-Type wins over Accept; otherwise Accept picks among JSON, CSV
  and plain text, with JSON the default and the winner of every tie.
"""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import io
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import mimeparse
import orjson

import tines_spec

__all__ = [
    "JSON_TYPE",
    "Rendered",
    "choose_media_type",
    "convention_parts",
    "csv_rows",
    "negotiate_response",
    "render_csv",
    "render_json",
    "render_plain",
    "sanitise_headers",
]

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
PLAIN_TYPE = "text/plain; charset=utf-8"

# Order matters: mimeparse's best_match lets the *last* supported type win a tie (equal quality
# and fitness), and JSON must win ties and wildcards (WH-CT-005).
_OFFERED = ("text/csv", "text/plain", JSON_TYPE)

# The server frames its own response (exit-payload.schema.json, conventionPayload): these names
# are never taken from a payload, whatever their value.
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)
# Stricter than `$defs/headerValue` on one point: RFC 9110 field values admit no control
# character but HTAB, and the HTTP layer (h11) refuses the whole response if one gets through.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class Rendered:
    """A data response before the server adds its metadata headers."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def _valid_status(value: Any) -> bool:
    return tines_spec.validator("exit-payload.schema.json", "/$defs/validStatus").is_valid(value)


def convention_parts(payload: Any) -> tuple[int, Any, Any] | None:
    """(status, body, headers) when the payload follows the convention, else None."""
    if not isinstance(payload, dict) or "status" not in payload or "body" not in payload:
        return None
    status = payload["status"]
    if not _valid_status(status):
        return None
    return int(status), payload["body"], payload.get("headers")


def _header_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def sanitise_headers(headers: Any) -> list[tuple[str, str]]:
    """The payload headers that may be sent, as (name, text); the rest are dropped and logged."""
    if not isinstance(headers, dict):
        return []
    names = tines_spec.validator("exit-payload.schema.json", "/$defs/headerName")
    values = tines_spec.validator("exit-payload.schema.json", "/$defs/headerValue")
    kept: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not names.is_valid(name):
            log.warning("payload header dropped: its name %.60r is not a token", name)
        elif name.lower() in _FRAMING:
            log.warning("payload header dropped: %s frames the message", name)
        elif not values.is_valid(value) or _CONTROL.search(_header_text(value)):
            log.warning("payload header dropped: the value of %s is not a valid field value", name)
        else:
            kept.append((name, _header_text(value).strip(" \t")))
    return kept


def choose_media_type(accept: str | None) -> str:
    """The offered type the Accept header ranks highest; JSON for none, ties, wildcards, junk."""
    if not accept or not accept.strip():
        return JSON_TYPE
    return _ranked_first(accept)


# A client sends the same Accept on every request, and mimeparse parses it afresh each time, a tenth
# of a webhook answer's CPU. Bounded: an Accept is at most a request head's size, 256 of them.
@functools.lru_cache(maxsize=256)
def _ranked_first(accept: str) -> str:
    try:
        chosen: str = mimeparse.best_match(list(_OFFERED), accept)
    except (ValueError, IndexError):
        return JSON_TYPE
    return chosen or JSON_TYPE


def render_json(data: Any) -> bytes:
    """Compact JSON in UTF-8. orjson where it gives the same JSON as the json module: not for what
    it refuses (integers past 64 bits, keys that are not strings) nor for output with a null in it
    (orjson writes NaN and infinity as null, json as NaN and Infinity)."""
    try:
        fast = orjson.dumps(data)
    except TypeError:
        pass
    else:
        if fast.find(b"null") < 0:  # not `in`: see payloads.payload_text
            return fast
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def render_plain(data: Any) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else render_json(data)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def csv_rows(data: Any) -> list[list[str]] | None:
    """The CSV records of array data, or None when the data is not an array of arrays/objects."""
    if not isinstance(data, list):
        return None
    if all(isinstance(item, list) for item in data):
        return [[_cell(v) for v in item] for item in data]
    if all(isinstance(item, dict) for item in data):
        keys: dict[str, None] = {}
        for item in data:
            keys.update(dict.fromkeys(item))
        header = list(keys)
        return [header] + [[_cell(item.get(k)) for k in header] for item in data]
    return None


def render_csv(rows: list[list[str]]) -> bytes:
    """RFC 4180 text: the csv module's default dialect quotes minimally and ends records in CRLF."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _by_accept(data: Any, accept: str | None) -> tuple[bytes, str]:
    chosen = choose_media_type(accept)
    if chosen == "text/csv":
        rows = csv_rows(data)
        if rows is not None:
            return render_csv(rows), CSV_TYPE
    elif chosen == "text/plain":
        return render_plain(data), PLAIN_TYPE
    return render_json(data), JSON_TYPE


def _by_content_type(data: Any, content_type: str) -> bytes:
    """The body for a Content-Type the payload fixed (WH-CT-007, WH-CT-008)."""
    try:
        kind, subtype, _ = mimeparse.parse_mime_type(content_type)
    except (ValueError, IndexError):
        kind, subtype = "", ""
    kind, subtype = kind.lower(), subtype.lower()
    if (kind, subtype) == ("application", "json") or subtype.endswith("+json"):
        return render_json(data)
    if kind == "text":
        rows = csv_rows(data) if subtype == "csv" else None
        return render_csv(rows) if rows is not None else render_plain(data)
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            return data.encode("utf-8")
    return render_json(data)


def negotiate_response(payload: Any, accept: str | None) -> Rendered:
    """The live answer to a webhook request whose run emitted `payload`."""
    parts = convention_parts(payload)
    if parts is None:
        body, media_type = _by_accept(payload, accept)
        return Rendered(200, body, [("Content-Type", media_type)])
    status, data, raw_headers = parts
    headers = sanitise_headers(raw_headers)
    if status in _NO_BODY:
        return Rendered(status, b"", headers)
    fixed = next((value for name, value in headers if name.lower() == "content-type"), None)
    if fixed is not None:
        return Rendered(status, _by_content_type(data, fixed), headers)
    body, media_type = _by_accept(data, accept)
    return Rendered(status, body, [*headers, ("Content-Type", media_type)])
