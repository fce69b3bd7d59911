"""The broken variants: one mutation per way of breaking a requirement, at least one for each.

Each mutation is a small coroutine that takes a `Call` (the suite's request, a way to forward it
to the reference, the variant's memory) and returns what the broken target answers. Its docstring
names the requirement and says how it breaks it; `@breaks(ID)` registers it. A variant breaks one
thing only: a run against a target with two defects could not tell which check caught which.

Mutations act on what the reference actually sends (its `X-Tines-Status`, its answers) rather
than on a restatement of the rules, so that they stay true when the spec changes; where one needs
a value from the spec (a field list, an enum) it reads it through `tines_spec`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tines_spec

from .proxy import Call, Incoming, Mutation, Outgoing, is_json

_HEADERS = tines_spec.metadata_headers()
_STATUS = _HEADERS.status
_EVENT_ID = _HEADERS.event_id
_EXIT_ACTION_ID = _HEADERS.exit_action_id
_LIMIT = _HEADERS.limit_reached
_LOCATION = _HEADERS.response_location
_WEBHOOK_ROUTES = ("probe", "race", "response_url")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass(frozen=True)
class Variant:
    """A broken target: the requirement it breaks and the mutation that breaks it."""

    name: str
    requirement: str
    mutation: Mutation
    slow: bool
    limit_test: bool

    @property
    def how(self) -> str:
        """The mutation's docstring in one line, for test IDs and findings."""
        return " ".join((self.mutation.__doc__ or "").split())


VARIANTS: dict[str, Variant] = {}


def breaks(
    requirement: str, *, slow: bool = False, limit_test: bool = False
) -> Callable[[Mutation], Mutation]:
    """Register a mutation as a variant that the suite must fail on `requirement`.

    `slow` marks variants whose checks wait on the exit timeout (run in one batch, apart from
    the fast ones); `limit_test` asks for `--include-limit-test`.
    """

    def register(mutation: Mutation) -> Mutation:
        name = f"{requirement}:{mutation.__name__}"
        VARIANTS[name] = Variant(name, requirement, mutation, slow or limit_test, limit_test)
        return mutation

    return register


Rewrite = Callable[[Call, Outgoing], bool]


def rewrites(
    *, status: int | None = None, headers: dict[str, str | None] | None = None
) -> Callable[[Rewrite], Mutation]:
    """Make a mutation of a condition: the reference's answer, given `status` and `headers` (None
    drops one) wherever the condition holds of the request and that answer.

    Most variants break their rule that way alone; the decorated function keeps its name and
    docstring, which name the variant and say how it breaks the rule."""

    def mutation_of(holds: Rewrite) -> Mutation:
        @functools.wraps(holds)
        async def mutation(call: Call) -> Outgoing:
            response = await call.forward()
            if holds(call, response):
                if status is not None:
                    response.status = status
                for name, value in (headers or {}).items():
                    response.set_header(name, value)
            return response

        return mutation

    return mutation_of


# ----------------------------------------------------------------------------- small readers


def exit_payload(request: Incoming) -> Any:
    """The `exit` value of a probe request, or None when the request is no probe."""
    body = request.json()
    if request.route != "probe" or not isinstance(body, dict):
        return None
    return body.get("exit")


def convention_payload(request: Incoming) -> dict[str, Any] | None:
    """The exit payload when it is an object with a `status` key (the convention's shape)."""
    payload = exit_payload(request)
    return payload if isinstance(payload, dict) and "status" in payload else None


def payload_headers(request: Incoming) -> dict[str, Any]:
    payload = exit_payload(request)
    headers = payload.get("headers") if isinstance(payload, dict) else None
    return headers if isinstance(headers, dict) else {}


def payload_header(request: Incoming, name: str) -> Any:
    return next((v for k, v in payload_headers(request).items() if k.lower() == name.lower()), None)


def carries_data(call: Call, response: Outgoing) -> bool:
    """A probe or race answer that the reference marked as holding the story's data."""
    return call.request.route in ("probe", "race") and response.header(_STATUS) == "data_received"


def convention_applied(call: Call, response: Outgoing) -> bool:
    """The reference answered a convention payload with its `body` alone (JSON)."""
    payload = convention_payload(call.request)
    if payload is None or "body" not in payload or not carries_data(call, response):
        return False
    body = response.json()
    return is_json(body) and body == payload["body"] and body != payload


def returned_whole(call: Call, response: Outgoing) -> bool:
    """The reference answered a `status`-carrying payload with the whole payload."""
    payload = convention_payload(call.request)
    return payload is not None and carries_data(call, response) and response.json() == payload


def story_of(call: Call, response: Outgoing) -> dict[str, Any] | None:
    """A successful Stories API answer's object, or None."""
    if call.request.route != "stories" or response.status != 200:
        return None
    story = response.json()
    return story if isinstance(story, dict) else None


def _pending(url: str) -> dict[str, str]:
    return {"status": "pending", "response_url": url}


# ------------------------------------------------------------------------- webhook: the body


@breaks("WH-ENTRY-001")
async def probe_not_found(call: Call) -> Outgoing:
    """WH-ENTRY-001: the webhook starts no run and answers 404, as for an unknown webhook."""
    if call.request.route != "probe":
        return await call.forward()
    error = json.dumps({"error": "webhook not found"}).encode()
    return Outgoing(404, [("content-type", "application/json"), (_STATUS, "error")], error)


@breaks("WH-BODY-001")
async def body_wrapped_in_data(call: Call) -> Outgoing:
    """WH-BODY-001: the exit payload comes wrapped as {"data": payload} instead of as itself."""
    response = await call.forward()
    body = response.json()
    if carries_data(call, response) and response.media_type == "application/json" and is_json(body):
        response.set_json({"data": body})
    return response


@breaks("WH-BODY-002")
@rewrites(status=202)
def data_with_202(call: Call, response: Outgoing) -> bool:
    """WH-BODY-002: a run that emitted in time is answered 202 Accepted instead of 200 OK."""
    return carries_data(call, response) and response.status == 200


@breaks("WH-BODY-003")
async def race_last_exit_wins(call: Call) -> Outgoing:
    """WH-BODY-003: the race answers the exit action that executes last (the delays are swapped)."""
    race = call.request.json()
    if call.request.route != "race" or not isinstance(race, dict):
        return await call.forward()
    swapped = dict(race)
    swapped["first_delay_seconds"] = race.get("second_delay_seconds", 0)
    swapped["second_delay_seconds"] = race.get("first_delay_seconds", 0)
    return await call.forward(call.request.with_json(swapped))


# ---------------------------------------------------------------- webhook: the convention


@breaks("WH-CONV-001")
@rewrites(status=200)
def convention_status_ignored(call: Call, response: Outgoing) -> bool:
    """WH-CONV-001: the convention's `status` is ignored; the status line is always 200."""
    return convention_payload(call.request) is not None and carries_data(call, response)


@breaks("WH-CONV-002")
async def convention_body_not_unwrapped(call: Call) -> Outgoing:
    """WH-CONV-002: under the convention the whole payload is sent instead of its `body`."""
    response = await call.forward()
    if convention_applied(call, response):
        response.set_json(convention_payload(call.request))
    return response


@breaks("WH-CONV-003")
async def string_status_not_valid(call: Call) -> Outgoing:
    """WH-CONV-003: a numeric string `status` is taken as invalid: 200 and the whole payload."""
    response = await call.forward()
    payload = convention_payload(call.request)
    if payload is not None and isinstance(payload["status"], str) and carries_data(call, response):
        response.status = 200
        response.set_json(payload)
    return response


@breaks("WH-CONV-004")
async def convention_applied_anyway(call: Call) -> Outgoing:
    """WH-CONV-004: the convention is applied to a payload that does not meet it (no `body`, or
    an invalid `status`): its `body` (null when absent) is sent, with `status` when usable."""
    response = await call.forward()
    payload = convention_payload(call.request)
    if payload is None or not returned_whole(call, response):
        return response
    try:
        status = int(payload["status"])
    except (TypeError, ValueError):
        status = response.status
    if 200 <= status <= 599 and status not in (204, 205, 304):
        response.status = status
    response.set_json(payload.get("body"))
    return response


@breaks("WH-CONV-005")
async def custom_headers_dropped(call: Call) -> Outgoing:
    """WH-CONV-005: the payload's custom `headers` (all but Content-Type) are not sent."""
    response = await call.forward()
    if carries_data(call, response):
        for name in payload_headers(call.request):
            if name.lower() != "content-type":
                response.set_header(name, None)
    return response


@breaks("WH-CONV-006")
async def scalar_headers_as_python_text(call: Call) -> Outgoing:
    """WH-CONV-006: a boolean header value is sent as `True`/`False` and a number in exponent
    form (`3.000000e+00`), not as their JSON text."""
    response = await call.forward()
    if not carries_data(call, response):
        return response
    for name, value in payload_headers(call.request).items():
        if isinstance(value, bool):
            response.set_header(name, str(value))
        elif isinstance(value, int | float):
            response.set_header(name, f"{value:e}")
    return response


@breaks("WH-CONV-007")
async def extra_keys_leak_into_body(call: Call) -> Outgoing:
    """WH-CONV-007: the convention payload's other keys are merged into the response body."""
    response = await call.forward()
    payload = convention_payload(call.request)
    if payload is None or not convention_applied(call, response):
        return response
    extras = {k: v for k, v in payload.items() if k not in ("status", "body", "headers")}
    if extras:
        body = payload["body"]
        response.set_json(
            {**body, **extras} if isinstance(body, dict) else {"body": body, **extras}
        )
    return response


@breaks("WH-SAFE-001")
async def header_injection_split(call: Call) -> Outgoing:
    """WH-SAFE-001: a payload header carrying CR/LF splits: each injected `Name: value` line is
    sent as a header of its own (what a target that wrote the raw text would emit)."""
    response = await call.forward()
    if not carries_data(call, response):
        return response
    for name, value in payload_headers(call.request).items():
        text = f"{name}: {value if isinstance(value, str) else json.dumps(value)}"
        lines = re.split(r"\r\n|\r|\n", text)
        if len(lines) < 2:
            continue
        for line in lines:
            key, sep, rest = line.partition(":")
            if sep and _TOKEN.match(key.strip()):
                response.headers.append((key.strip(), rest.strip().replace("\x00", "")))
    return response


# --------------------------------------------------------------------- webhook: negotiation


@breaks("WH-CT-001")
@rewrites(headers={"content-type": "text/plain; charset=utf-8"})
def no_accept_gives_text(call: Call, response: Outgoing) -> bool:
    """WH-CT-001: without an Accept header the data is labelled text/plain, not JSON."""
    return call.request.header("accept") is None and carries_data(call, response)


@breaks("WH-CT-002")
async def csv_ignored(call: Call) -> Outgoing:
    """WH-CT-002: `Accept: text/csv` is ignored; the data comes back as JSON."""
    accept = call.request.header("accept") or ""
    if call.request.route == "probe" and "text/csv" in accept.lower():
        return await call.forward(call.request.with_header("accept", "application/json"))
    return await call.forward()


@breaks("WH-CT-002")
async def csv_joined_naively(call: Call) -> Outgoing:
    """WH-CT-002: CSV written by joining cells with commas and rows with LF: nothing is quoted,
    so a cell holding a comma, a quote or a line break corrupts the records."""
    response = await call.forward()
    payload = exit_payload(call.request)
    rows = isinstance(payload, list) and all(isinstance(row, list) for row in payload)
    if rows and response.media_type == "text/csv" and carries_data(call, response):
        text = "\n".join(",".join(str(cell) for cell in row) for row in payload)
        response.body = (text + "\n").encode("utf-8")
    return response


@breaks("WH-CT-003")
async def csv_header_record_dropped(call: Call) -> Outgoing:
    """WH-CT-003: an array of objects as CSV loses its header record (the keys)."""
    response = await call.forward()
    payload = exit_payload(call.request)
    objects = isinstance(payload, list) and payload and all(isinstance(x, dict) for x in payload)
    if objects and response.media_type == "text/csv" and carries_data(call, response):
        rows = list(csv.reader(io.StringIO(response.body.decode("utf-8"), newline="")))
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(rows[1:])
        response.body = out.getvalue().encode("utf-8")
    return response


@breaks("WH-CT-004")
async def plain_text_keeps_quotes(call: Call) -> Outgoing:
    """WH-CT-004: a JSON string as text/plain keeps its JSON quotes and escapes."""
    response = await call.forward()
    payload = exit_payload(call.request)
    if isinstance(payload, str) and response.media_type == "text/plain":
        response.body = json.dumps(payload).encode("utf-8")
    return response


@breaks("WH-CT-004")
async def plain_text_in_latin1(call: Call) -> Outgoing:
    """WH-CT-004: plain text is encoded as Latin-1 (`?` for what it cannot hold), not UTF-8."""
    response = await call.forward()
    if response.media_type == "text/plain" and carries_data(call, response):
        text = response.body.decode("utf-8", errors="replace")
        response.body = text.encode("latin-1", errors="replace")
    return response


@breaks("WH-CT-005")
async def wildcard_gives_text(call: Call) -> Outgoing:
    """WH-CT-005: an Accept of wildcards only (`*/*`, `application/*`) gets text/plain."""
    accept = call.request.header("accept")
    ranges = [part.split(";", 1)[0].strip() for part in (accept or "").split(",")]
    if call.request.route == "probe" and accept and all(r.endswith("/*") for r in ranges):
        return await call.forward(call.request.with_header("accept", "text/plain"))
    return await call.forward()


@breaks("WH-CT-006")
async def lowest_q_wins(call: Call) -> Outgoing:
    """WH-CT-006: q-values are read backwards: the lowest-ranked (non-zero) type is chosen."""
    accept = call.request.header("accept") or ""
    ranked: list[tuple[float, str]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
        try:
            weight = float(q)
        except ValueError:
            weight = 1.0
        if media and weight > 0:
            ranked.append((weight, media))
    if call.request.route == "probe" and len({w for w, _ in ranked}) > 1:
        lowest = min(ranked)[1]
        return await call.forward(call.request.with_header("accept", lowest))
    return await call.forward()


@breaks("WH-CT-007")
async def payload_content_type_overridden(call: Call) -> Outgoing:
    """WH-CT-007: the payload's Content-Type is replaced by a negotiated one."""
    response = await call.forward()
    wanted = payload_header(call.request, "content-type")
    if isinstance(wanted, str) and carries_data(call, response):
        other = (
            "text/plain" if wanted.lower().startswith("application/json") else "application/json"
        )
        response.set_header("content-type", other)
    return response


@breaks("WH-CT-008")
async def base64_not_decoded(call: Call) -> Outgoing:
    """WH-CT-008: a Base64 body with a binary Content-Type is sent as the Base64 text."""
    response = await call.forward()
    payload = convention_payload(call.request)
    body = payload.get("body") if payload else None
    if not isinstance(body, str) or not carries_data(call, response):
        return response
    try:
        decoded = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return response
    if response.body == decoded and decoded != body.encode():
        response.body = body.encode()
    return response


@breaks("WH-CT-008")
async def binary_sent_as_text(call: Call) -> Outgoing:
    """WH-CT-008: the decoded bytes pass through a text decoding: bytes that are not UTF-8
    become U+FFFD, so the file is corrupted."""
    response = await call.forward()
    if payload_header(call.request, "content-type") is not None and carries_data(call, response):
        response.body = response.body.decode("utf-8", errors="replace").encode("utf-8")
    return response


@breaks("WH-CT-009")
@rewrites(headers={"content-disposition": "inline"})
def content_disposition_replaced(call: Call, response: Outgoing) -> bool:
    """WH-CT-009: the payload's Content-Disposition is replaced by `inline`."""
    return payload_header(call.request, "content-disposition") is not None


# ------------------------------------------------------------------------ webhook: metadata


@breaks("WH-META-001")
@rewrites(headers={_STATUS: None})
def status_header_dropped(call: Call, response: Outgoing) -> bool:
    """WH-META-001: webhook answers carry no X-Tines-Status."""
    return call.request.route in _WEBHOOK_ROUTES


@breaks("WH-META-002")
@rewrites(headers={_STATUS: "ok"})
def data_marked_ok(call: Call, response: Outgoing) -> bool:
    """WH-META-002: answers with the data say `X-Tines-Status: ok`."""
    return carries_data(call, response)


@breaks("WH-META-003", slow=True)
@rewrites(headers={_STATUS: "data_received"})
def pending_marked_data_received(call: Call, response: Outgoing) -> bool:
    """WH-META-003: answers sent while the story still runs (504) say `data_received`."""
    return call.request.route in ("probe", "race") and response.header(_STATUS) == "ok"


@breaks("WH-META-004")
@rewrites(headers={_STATUS: "error"})
def error_below_400(call: Call, response: Outgoing) -> bool:
    """WH-META-004: webhook answers below 400 say `X-Tines-Status: error`."""
    return call.request.route in ("probe", "race") and response.status < 400


@breaks("WH-META-004")
@rewrites(status=200)
def unknown_webhook_error_answered_200(call: Call, response: Outgoing) -> bool:
    """WH-META-004: a request to a webhook that does not exist (a wrong secret) is answered 200
    while it still says `X-Tines-Status: error`; the probe's own answers are untouched."""
    return call.request.route == "other" and response.header(_STATUS) == "error"


@breaks("WH-META-005")
@rewrites(headers={_STATUS: "received"})
def undocumented_status_value(call: Call, response: Outgoing) -> bool:
    """WH-META-005: X-Tines-Status takes an undocumented value, `received`."""
    return response.header(_STATUS) is not None


@breaks("WH-META-006")
async def event_id_repeated(call: Call) -> Outgoing:
    """WH-META-006: every run answers with the first run's X-Tines-Event-ID."""
    response = await call.forward()
    event_id = response.header(_EVENT_ID)
    if event_id:
        response.set_header(_EVENT_ID, call.memory.setdefault("event_id", event_id))
    return response


@breaks("WH-META-007")
@rewrites(headers={_EXIT_ACTION_ID: "exit-action"})
def exit_action_id_constant(call: Call, response: Outgoing) -> bool:
    """WH-META-007: every exit action reports the same X-Tines-Exit-Action-ID."""
    return bool(response.header(_EXIT_ACTION_ID))


@breaks("WH-META-008", slow=True)
@rewrites(headers={_LIMIT: None})
def limit_header_dropped(call: Call, response: Outgoing) -> bool:
    """WH-META-008: answers to requests that reached a limit carry no X-Tines-Limit-Reached."""
    return True


@breaks("WH-META-009")
@rewrites(headers={_LIMIT: "time"})
def limit_header_on_data(call: Call, response: Outgoing) -> bool:
    """WH-META-009: answers with the data carry `X-Tines-Limit-Reached: time`."""
    return carries_data(call, response)


@breaks("WH-META-010", slow=True)
@rewrites(headers={_LOCATION: None})
def response_location_dropped(call: Call, response: Outgoing) -> bool:
    """WH-META-010: answers without the data carry no X-Tines-Response-Location."""
    return True


# ---------------------------------------------------------------------- webhook: time limit


@breaks("WH-TIME-001", slow=True)
async def limit_shorter_than_stated(call: Call) -> Outgoing:
    """WH-TIME-001: the real limit is shorter than the profile says: any run that waits at all
    times out (its delay is lengthened by the exit timeout before it reaches the target)."""
    probe = call.request.json()
    if call.request.route != "probe" or not isinstance(probe, dict):
        return await call.forward()
    delay = probe.get("delay_seconds") or 0
    if isinstance(delay, int | float) and delay > 0:
        longer = {**probe, "delay_seconds": delay + call.exit_timeout_seconds}
        return await call.forward(call.request.with_json(longer))
    return await call.forward()


@breaks("WH-TIME-002", slow=True)
@rewrites(status=200)
def timeout_answered_200(call: Call, response: Outgoing) -> bool:
    """WH-TIME-002: a run that outlives the exit timeout is answered 200, not 504."""
    return response.status == 504


@breaks("WH-TIME-003", slow=True)
async def timeout_body_wrong_limit(call: Call) -> Outgoing:
    """WH-TIME-003: the 504 body says `limit_reached: "timeout"` instead of `"time"`."""
    response = await call.forward()
    body = response.json()
    if response.status == 504 and isinstance(body, dict):
        response.set_json({**body, "limit_reached": "timeout"})
    return response


@breaks("WH-TIME-003", slow=True)
async def timeout_body_relative_url(call: Call) -> Outgoing:
    """WH-TIME-003: the 504 body's `response_url` is a relative path, not an absolute URL."""
    response = await call.forward()
    body = response.json()
    if (
        response.status == 504
        and isinstance(body, dict)
        and isinstance(body.get("response_url"), str)
    ):
        path = re.sub(r"^https?://[^/]+", "", body["response_url"])
        response.set_json({**body, "response_url": path})
    return response


@breaks("WH-TIME-003", slow=True)
async def timeout_body_without_response_url(call: Call) -> Outgoing:
    """WH-TIME-003: the 504 body has no `response_url` (the header still names it)."""
    response = await call.forward()
    body = response.json()
    if response.status == 504 and isinstance(body, dict):
        response.set_json({k: v for k, v in body.items() if k != "response_url"})
    return response


@breaks("WH-TIME-004", slow=True)
async def run_abandoned_at_timeout(call: Call) -> Outgoing:
    """WH-TIME-004: the run stops at the 504: its response URL reports it abandoned (410)."""
    response = await call.forward()
    if call.request.route == "response_url" and response.status in (200, 202):
        pending = response.json()
        url = pending.get("response_url") if isinstance(pending, dict) else None
        response.status = 410
        response.set_header(_STATUS, "error")
        response.set_json({"status": "abandoned", "response_url": url or call.request.path})
    return response


@breaks("WH-TIME-005", slow=True)
@rewrites(headers={_LIMIT: "timeout"})
def timeout_limit_header_differs(call: Call, response: Outgoing) -> bool:
    """WH-TIME-005: the 504's X-Tines-Limit-Reached says `timeout` while its body says `time`."""
    return response.status == 504


# -------------------------------------------------------------------- webhook: response URL


@breaks("WH-RURL-001", slow=True)
async def response_url_never_delivers(call: Call) -> Outgoing:
    """WH-RURL-001: the response URL answers `pending` for ever, even once the run has emitted."""
    response = await call.forward()
    if call.request.route == "response_url" and response.status == 200:
        response.status = 202
        response.set_header(_STATUS, "ok")
        response.set_header("retry-after", "1")
        response.set_json(_pending(call.request.path))
    return response


@breaks("WH-RURL-001", slow=True)
async def response_url_other_runs_data(call: Call) -> Outgoing:
    """WH-RURL-001: once the run has emitted, the response URL returns another run's payload
    (the proxy starts that other run itself, through the same probe webhook)."""
    response = await call.forward()
    if call.request.route != "response_url" or response.status != 200:
        return response
    other_run = {"exit": {"another_run": str(uuid.uuid4())}}
    webhook = call.request.path.rsplit("/", 1)[0]
    request = Incoming("POST", webhook, "", [("content-type", "application/json")], b"", "probe")
    other = await call.forward(request.with_json(other_run))
    response.body = other.body
    return response


@breaks("WH-RURL-002", slow=True)
async def response_location_mismatched(call: Call) -> Outgoing:
    """WH-RURL-002: the 504's X-Tines-Response-Location differs from the body's `response_url`."""
    response = await call.forward()
    location = response.header(_LOCATION)
    if response.status == 504 and location:
        response.set_header(_LOCATION, location + "-other")
    return response


@breaks("WH-RURL-002", slow=True)
@rewrites(headers={_LOCATION: None})
def response_location_missing_on_timeout(call: Call, response: Outgoing) -> bool:
    """WH-RURL-002: the 504 has no X-Tines-Response-Location (the body still has its URL)."""
    return response.status == 504


@breaks("WH-RURL-003", slow=True)
@rewrites(status=200, headers={_STATUS: "data_received"})
def pending_answered_200(call: Call, response: Outgoing) -> bool:
    """WH-RURL-003: before the data exists the response URL answers 200 `data_received`."""
    return call.request.route == "response_url" and response.status == 202


@breaks("WH-RURL-003", slow=True)
@rewrites(headers={_STATUS: "data_received"})
def pending_says_data_received(call: Call, response: Outgoing) -> bool:
    """WH-RURL-003: before the data exists the response URL answers 202 but says
    `X-Tines-Status: data_received`."""
    return call.request.route == "response_url" and response.status == 202


@breaks("WH-RURL-004")
async def unknown_response_id_pending(call: Call) -> Outgoing:
    """WH-RURL-004: a response URL whose ID names no run answers `pending` (202), not 404."""
    response = await call.forward()
    if call.request.route == "response_url" and response.status == 404:
        response.status = 202
        response.set_header(_STATUS, "ok")
        response.set_json(_pending(call.request.path))
    return response


# --------------------------------------------------------------- webhook: concurrency limit


@breaks("WH-CONC-001", limit_test=True)
@rewrites(status=200)
def over_limit_answered_200(call: Call, response: Outgoing) -> bool:
    """WH-CONC-001: a request beyond the concurrency limit is answered 200, not 201."""
    return response.status == 201


@breaks("WH-CONC-001", limit_test=True)
@rewrites(status=503)
def over_limit_answered_503(call: Call, response: Outgoing) -> bool:
    """WH-CONC-001: a request beyond the concurrency limit is answered 503, not 201."""
    return response.status == 201


@breaks("WH-CONC-002", limit_test=True)
async def over_limit_run_dropped(call: Call) -> Outgoing:
    """WH-CONC-002: a run answered 201 is dropped: its response URL answers 404 for ever."""
    dropped: set[str] = call.memory.setdefault("dropped", set())
    if call.request.route == "response_url" and call.request.path in dropped:
        error = json.dumps({"error": "no such run"}).encode()
        return Outgoing(404, [("content-type", "application/json"), (_STATUS, "error")], error)
    response = await call.forward()
    location = response.header(_LOCATION)
    if response.status == 201 and location:
        dropped.add(re.sub(r"^https?://[^/]+", "", location))
    return response


@breaks("WH-CONC-002", limit_test=True)
async def over_limit_runs_share_data(call: Call) -> Outgoing:
    """WH-CONC-002: every run answered 201 delivers, at its response URL, the data of the first
    such run: one payload duplicated, the others lost."""
    response = await call.forward()
    if call.request.route == "response_url" and response.status == 200:
        first = call.memory.setdefault("first_delivery", response.body)
        response.body = first
    return response


@breaks("WH-CONC-003", limit_test=True)
@rewrites(headers={_LIMIT: None})
def over_limit_without_limit_header(call: Call, response: Outgoing) -> bool:
    """WH-CONC-003: the 201 carries no X-Tines-Limit-Reached."""
    return response.status == 201


@breaks("WH-CONC-003", limit_test=True)
@rewrites(headers={_STATUS: None})
def over_limit_without_status_header(call: Call, response: Outgoing) -> bool:
    """WH-CONC-003: the 201 carries no X-Tines-Status."""
    return response.status == 201


@breaks("WH-CONC-004", limit_test=True)
@rewrites(headers={_LOCATION: None})
def over_limit_without_location(call: Call, response: Outgoing) -> bool:
    """WH-CONC-004: the 201 carries no X-Tines-Response-Location."""
    return response.status == 201


# ---------------------------------------------------------------- Stories API: the request


@breaks("STORY-GET-001")
async def another_story_returned(call: Call) -> Outgoing:
    """STORY-GET-001: the answer is another story than the one asked for (its id differs)."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and isinstance(story.get("id"), int):
        response.set_json({**story, "id": story["id"] + 1000})
    return response


@breaks("STORY-GET-002")
@rewrites(status=403)
def missing_story_forbidden(call: Call, response: Outgoing) -> bool:
    """STORY-GET-002: a story ID that does not exist is answered 403, not 404."""
    return call.request.route == "stories" and response.status == 404


def _unauthorised() -> Outgoing:
    body = json.dumps({"error": "unauthorised"}).encode()
    return Outgoing(401, [("content-type", "application/json")], body)


@breaks("STORY-AUTH-001")
async def bearer_rejected(call: Call) -> Outgoing:
    """STORY-AUTH-001: a key sent as `Authorization: Bearer` is refused with 401."""
    authorization = call.request.header("authorization") or ""
    if call.request.route == "stories" and authorization.lower().startswith("bearer "):
        return _unauthorised()
    return await call.forward()


@breaks("STORY-AUTH-002")
async def user_token_rejected(call: Call) -> Outgoing:
    """STORY-AUTH-002: a key sent as `X-User-Token` (without Bearer) is refused with 401."""
    token_only = call.request.header("x-user-token") and not call.request.header("authorization")
    if call.request.route == "stories" and token_only:
        return _unauthorised()
    return await call.forward()


@breaks("STORY-AUTH-003")
async def auth_not_enforced(call: Call) -> Outgoing:
    """STORY-AUTH-003: a missing or wrong key is not refused: the story is answered 200."""
    response = await call.forward()
    if call.request.route == "stories" and response.status == 401:
        keyed = call.request.with_header("x-user-token", None)
        response = await call.forward(keyed.with_header("authorization", f"Bearer {call.api_key}"))
    return response


@breaks("STORY-AUTH-003")
async def any_bearer_accepted(call: Call) -> Outgoing:
    """STORY-AUTH-003: any Bearer value is accepted (a missing key is still refused)."""
    response = await call.forward()
    authorization = call.request.header("authorization") or ""
    if response.status == 401 and authorization.lower().startswith("bearer "):
        response = await call.forward(
            call.request.with_header("authorization", f"Bearer {call.api_key}")
        )
    return response


@breaks("STORY-AUTH-003")
async def auth_error_not_json(call: Call) -> Outgoing:
    """STORY-AUTH-003: the 401 for a missing or wrong key has a plain-text body, not JSON."""
    response = await call.forward()
    if call.request.route == "stories" and response.status == 401:
        response.set_header("content-type", "text/plain; charset=utf-8")
        response.body = b"Unauthorized"
    return response


@breaks("STORY-PARAM-001")
@rewrites(status=500)
def invalid_parameter_crashes(call: Call, response: Outgoing) -> bool:
    """STORY-PARAM-001: an invalid parameter is answered 500 instead of 400/422."""
    return call.request.route == "stories" and response.status in (400, 422)


@breaks("STORY-PARAM-001")
async def invalid_parameter_not_named(call: Call) -> Outgoing:
    """STORY-PARAM-001: an invalid parameter gets a 4xx whose body does not say which one."""
    response = await call.forward()
    if call.request.route == "stories" and response.status in (400, 422):
        response.set_json({"errors": [{"message": "invalid request"}]})
    return response


@breaks("STORY-PARAM-002")
async def empty_parameter_refused(call: Call) -> Outgoing:
    """STORY-PARAM-002: an empty parameter (`story_mode=`, tapi's default) is answered 400
    naming it, as if the empty string were a value outside its type."""
    if call.request.route == "stories":
        empty = next((k for k, v in call.request.params() if v == ""), None)
        if empty is not None:
            response = await call.forward()
            response.status = 400
            response.set_json({"errors": [{"message": f"{empty} is invalid", "parameter": empty}]})
            return response
    return await call.forward()


@breaks("STORY-MODE-001")
async def story_mode_ignored(call: Call) -> Outgoing:
    """STORY-MODE-001: `story_mode` is ignored; every answer is the story's default version."""
    if call.request.route == "stories":
        return await call.forward(call.request.with_param("story_mode", None))
    return await call.forward()


@breaks("STORY-DRAFT-001")
async def draft_id_ignored(call: Call) -> Outgoing:
    """STORY-DRAFT-001: `draft_id` is ignored; the published story is answered."""
    if call.request.route == "stories":
        return await call.forward(call.request.with_param("draft_id", None))
    return await call.forward()


@breaks("STORY-DRAFT-001")
async def draft_name_null(call: Call) -> Outgoing:
    """STORY-DRAFT-001: the draft is selected but its `draft_name` is null."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and call.request.param("draft_id") is not None:
        response.set_json({**story, "draft_name": None})
    return response


@breaks("STORY-LIVE-001")
async def live_activity_ignored(call: Call) -> Outgoing:
    """STORY-LIVE-001: include_live_activity=true is ignored; the metrics are absent."""
    if call.request.route == "stories" and call.request.param("include_live_activity") == "true":
        return await call.forward(call.request.with_param("include_live_activity", None))
    return await call.forward()


@breaks("STORY-LIVE-001")
async def one_live_metric_missing(call: Call) -> Outgoing:
    """STORY-LIVE-001: with include_live_activity=true one metric (the schema's last required
    one) is left out; the others are there."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and call.request.param("include_live_activity") == "true":
        required = _story_schema()["$defs"]["withLiveActivity"]["required"]
        response.set_json({k: v for k, v in story.items() if k != required[-1]})
    return response


@breaks("STORY-LIVE-002")
async def live_activity_by_default(call: Call) -> Outgoing:
    """STORY-LIVE-002: without include_live_activity the live fields are included anyway."""
    request = call.request
    if request.route == "stories" and request.param("include_live_activity") is None:
        return await call.forward(request.with_param("include_live_activity", "true"))
    return await call.forward()


@breaks("STORY-LIVE-003")
async def live_activity_false_ignored(call: Call) -> Outgoing:
    """STORY-LIVE-003: include_live_activity=false still includes the live fields."""
    request = call.request
    if request.route == "stories" and request.param("include_live_activity") == "false":
        return await call.forward(request.with_param("include_live_activity", "true"))
    return await call.forward()


# ------------------------------------------------------------- Stories API: the story object


def _story_schema() -> dict[str, Any]:
    return tines_spec.schema("story.schema.json")


@breaks("STORY-FIELD-001")
async def documented_field_missing(call: Call) -> Outgoing:
    """STORY-FIELD-001: a documented field (the schema's last required one) is left out."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None:
        missing = _story_schema()["required"][-1]
        response.set_json({k: v for k, v in story.items() if k != missing})
    return response


@breaks("STORY-FIELD-001")
async def boolean_field_as_string(call: Call) -> Outgoing:
    """STORY-FIELD-001: the schema's boolean fields are sent as the strings "true"/"false"."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None:
        properties = _story_schema()["properties"]
        booleans = {k for k, v in properties.items() if v.get("type") == "boolean"}
        response.set_json(
            {
                k: (json.dumps(v) if k in booleans and isinstance(v, bool) else v)
                for k, v in story.items()
            }
        )
    return response


@breaks("STORY-FIELD-002")
async def timestamps_not_iso(call: Call) -> Outgoing:
    """STORY-FIELD-002: the timestamp fields are sent as `05/10/2021 08:56:50`, not ISO 8601."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None:
        properties = _story_schema()["properties"]
        stamps = [k for k, v in properties.items() if v.get("$ref", "").endswith("/timestamp")]
        for name in stamps:
            value = story.get(name)
            if isinstance(value, str) and len(value) >= 19:
                story[name] = f"{value[5:7]}/{value[8:10]}/{value[0:4]} {value[11:19]}"
        response.set_json(story)
    return response


@breaks("STORY-SDK-001")
async def exit_agents_as_objects(call: Call) -> Outgoing:
    """STORY-SDK-001: `exit_agents` is sent as objects (`[{"id": 80013}]`), which the schema
    accepts (the document says "an Array of objects") but Tines' Go SDK cannot decode."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and isinstance(story.get("exit_agents"), list):
        ids = story["exit_agents"] or [story.get("entry_agent_id") or story.get("id")]
        response.set_json({**story, "exit_agents": [{"id": i} for i in ids]})
    return response


async def _lowercase_field(call: Call, name: str) -> Outgoing:
    """Forward, then send the story's enum field `name` lowercased (`none` when not a string)."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and name in story:
        value = story[name]
        response.set_json({**story, name: value.lower() if isinstance(value, str) else "none"})
    return response


@breaks("STORY-FIELD-003")
async def mode_lowercase(call: Call) -> Outgoing:
    """STORY-FIELD-003: `mode` is lowercase (`live`), outside its enum."""
    return await _lowercase_field(call, "mode")


@breaks("STORY-FIELD-004")
async def access_source_lowercase(call: Call) -> Outgoing:
    """STORY-FIELD-004: `send_to_story_access_source` is lowercase, outside its enum."""
    return await _lowercase_field(call, "send_to_story_access_source")


@breaks("STORY-FIELD-005")
async def access_lowercase(call: Call) -> Outgoing:
    """STORY-FIELD-005: `send_to_story_access` is lowercase (`none` for null), outside its enum."""
    return await _lowercase_field(call, "send_to_story_access")


@breaks("STORY-FIELD-006")
async def referrers_without_send_to_story(call: Call) -> Outgoing:
    """STORY-FIELD-006: send_to_story_referring_story_ids is sent when Send to Story is off."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and story.get("send_to_story_enabled") is False:
        response.set_json({**story, "send_to_story_referring_story_ids": []})
    return response


@breaks("STORY-FIELD-007")
async def team_slugs_without_specific_teams(call: Call) -> Outgoing:
    """STORY-FIELD-007: shared_team_slugs is non-empty when access is not SPECIFIC_TEAMS."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and story.get("send_to_story_access") != "SPECIFIC_TEAMS":
        response.set_json({**story, "shared_team_slugs": ["security"]})
    return response


@breaks("STORY-FIELD-008")
async def live_counts_negative(call: Call) -> Outgoing:
    """STORY-FIELD-008: the live-activity counts and percentage are negative."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None:
        live = _story_schema()["$defs"]["liveActivityFields"]["enum"]
        response.set_json(
            {
                k: (-abs(v) - 1 if k in live and isinstance(v, int | float) else v)
                for k, v in story.items()
            }
        )
    return response


@breaks("STORY-FIELD-009")
async def referrers_missing_when_enabled(call: Call) -> Outgoing:
    """STORY-FIELD-009: a Send to Story enabled story omits send_to_story_referring_story_ids."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and story.get("send_to_story_enabled") is True:
        story.pop("send_to_story_referring_story_ids", None)
        response.set_json(story)
    return response


@breaks("STORY-FIELD-010")
async def retention_unknown(call: Call) -> Outgoing:
    """STORY-FIELD-010: keep_events_for is a period Tines does not offer (one second more than
    the longest it does)."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None:
        known = _story_schema()["$defs"]["knownRetention"]["properties"]["keep_events_for"]["enum"]
        response.set_json({**story, "keep_events_for": max(known) + 1})
    return response


@breaks("STORY-FIELD-011")
async def guid_as_uuid(call: Call) -> Outgoing:
    """STORY-FIELD-011: guid is sent in UUID form with dashes and capitals, not 32 lowercase hex."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and isinstance(story.get("guid"), str):
        guid = story["guid"]
        try:
            dashed = str(uuid.UUID(hex=guid)).upper()
        except ValueError:
            dashed = guid.upper() + "-0"
        response.set_json({**story, "guid": dashed})
    return response


@breaks("STORY-FIELD-012")
async def slug_is_title(call: Call) -> Outgoing:
    """STORY-FIELD-012: slug is a title-cased, spaced form of the name (`Simple Story`)."""
    response = await call.forward()
    story = story_of(call, response)
    if story is not None and isinstance(story.get("slug"), str):
        titled = story["slug"].replace("_", " ").title()
        response.set_json(
            {**story, "slug": titled if titled != story["slug"] else titled + " Story"}
        )
    return response
