"""A webhook request read into its event: the body parsed by its content type, and the headers.

The body is read under the `--max-body-bytes` cap (`BodyTooLargeError` past it); JSON is parsed
by orjson where it gives what the json module's rules give, else by those rules (no NaN,
infinity or overflowing numbers); forms and query strings become objects, a name given twice a
list of its values.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive

__all__ = ["BodyTooLargeError", "event_body", "event_headers", "finite_float"]

# orjson reads an integer past 64 bits as a float; the json module keeps it exact.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyTooLargeError(Exception):
    """The request body passed `--max-body-bytes` while it was being read."""


def _capped(request: Request, limit: int) -> Request:
    """The request with a receive that stops reading once the body passes the cap."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError
        return message

    capped_receive: Receive = receive
    return Request(request.scope, capped_receive)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    """A JSON number as a float; 1e999 overflows to infinity, which has no JSON text to answer."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text[:40]} is out of range")
    return value


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, as `Request.body()` reads it, without its stream machinery (the
    webhook's hot path); BodyTooLargeError once it passes the cap."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect


async def event_body(request: Request, headers: dict[str, str], limit: int) -> Any:
    """The request's data as the webhook event's `body`; raises HTTPException on bad input."""
    if request.method == "GET":
        return _multi_dict(request.query_params.multi_items())
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media in _FORM_TYPES:
        form = await _capped(request, limit).form()
        return _multi_dict(
            (k, v.filename if isinstance(v, UploadFile) else v) for k, v in form.multi_items()
        )
    raw = await _read_body(request.receive, limit)
    if not raw.strip():
        return {}
    is_json = media == "application/json" or media.endswith("+json")
    if is_json or not media:
        if not _LONG_NUMBER.search(raw):
            # orjson refuses what the rules below refuse (NaN, infinity, 1e999) but also what they
            # take (lone surrogates, UTF-16): on any error the json module decides.
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
        try:
            return json.loads(raw, parse_constant=_reject_constant, parse_float=finite_float)
        except (ValueError, RecursionError):
            if is_json:
                raise HTTPException(400, "the request body is not valid JSON") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(
            415, "the request body is neither JSON, a form nor UTF-8 text"
        ) from None


def _multi_dict(items: Any) -> dict[str, Any]:
    """Fields as an object; a name given more than once keeps all its values, in a list."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def event_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers as the event's object: lower-case names, the first value of a name
    given twice (as `dict(request.headers)` gives them, without its scan per name)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers
