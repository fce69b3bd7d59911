"""Shared verifiers: each checks one thing about an exchange and raises CheckFailure naming the
requirements it serves. Checks compose these instead of writing their own asserts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from jsonschema.protocols import Validator

import tines_spec
from conformance.blame import blame_errors, describe_error
from conformance.exchange import Exchange, ReceivedResponse
from conformance.result import Blocked, CheckFailure, NoEvidence, covered

Ids = str | Sequence[str]


def _ids(requirement: Ids) -> tuple[str, ...]:
    return (requirement,) if isinstance(requirement, str) else tuple(requirement)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 400 else text[:400] + "..."


def response_of(exchange: Exchange, requirement: Ids) -> ReceivedResponse:
    """The response, or a failure that says the target did not answer."""
    if exchange.response is None:
        raise CheckFailure(
            _ids(requirement), "a response", f"no response ({exchange.error})", exchange
        )
    return exchange.response


def expect_status(exchange: Exchange, expected: int | Sequence[int], requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    allowed = (expected,) if isinstance(expected, int) else tuple(expected)
    if response.status not in allowed:
        want = " or ".join(str(s) for s in allowed)
        raise CheckFailure(
            _ids(requirement), f"status {want}", f"status {response.status}", exchange
        )


def expect_status_not(exchange: Exchange, forbidden: Sequence[int], requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    if response.status in forbidden:
        raise CheckFailure(
            _ids(requirement),
            f"a status other than {', '.join(map(str, forbidden))}",
            f"status {response.status}",
            exchange,
        )


def expect_header(exchange: Exchange, name: str, requirement: Ids) -> str:
    """The header's value; a failure when it is absent or empty."""
    response = response_of(exchange, requirement)
    value = response.header(name)
    if not value:
        raise CheckFailure(
            _ids(requirement), f"a non-empty {name} header", f"{name} absent", exchange
        )
    return value


def expect_header_equals(exchange: Exchange, name: str, expected: str, requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    values = response.header_values(name)
    if values != [expected]:
        actual = f"{name}: {values[0]}" if len(values) == 1 else f"{name} values {values}"
        raise CheckFailure(_ids(requirement), f"{name}: {expected}", actual, exchange)


def expect_header_absent(exchange: Exchange, name: str, requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    values = response.header_values(name)
    if values:
        raise CheckFailure(_ids(requirement), f"no {name} header", f"{name}: {values[0]}", exchange)


def expect_header_not(exchange: Exchange, name: str, forbidden: str, requirement: Ids) -> None:
    """The header may be absent or anything but `forbidden`."""
    response = response_of(exchange, requirement)
    if forbidden in response.header_values(name):
        raise CheckFailure(
            _ids(requirement), f"{name} other than {forbidden}", f"{name}: {forbidden}", exchange
        )


def expect_media_type(exchange: Exchange, expected: str, requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    if response.media_type != expected.lower():
        actual = response.header("content-type") or "no Content-Type"
        raise CheckFailure(_ids(requirement), f"Content-Type {expected}", actual, exchange)


def json_body(exchange: Exchange, requirement: Ids) -> Any:
    """The body as JSON, or a failure that shows what came instead."""
    response = response_of(exchange, requirement)
    try:
        return response.json()
    except ValueError:
        raise CheckFailure(
            _ids(requirement), "a JSON body", f"not JSON: {response.text[:200]!r}", exchange
        ) from None


def expect_json_body(exchange: Exchange, expected: Any, requirement: Ids) -> None:
    """The body is JSON equal to `expected` (1 and 1.0 equal, as in JSON)."""
    actual = json_body(exchange, requirement)
    if actual != expected or _types_differ(actual, expected):
        raise CheckFailure(
            _ids(requirement), f"body {_show(expected)}", f"body {_show(actual)}", exchange
        )


def _types_differ(a: Any, b: Any) -> bool:
    """Python's == says True == 1; JSON does not, so booleans are compared by type too."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is not type(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return any(_types_differ(a[k], b[k]) for k in a if k in b)
    if isinstance(a, list) and isinstance(b, list):
        return any(_types_differ(x, y) for x, y in zip(a, b, strict=False))
    return False


def expect_body_bytes(exchange: Exchange, expected: bytes, requirement: Ids) -> None:
    response = response_of(exchange, requirement)
    if response.body != expected:
        raise CheckFailure(
            _ids(requirement),
            f"{len(expected)} bytes {expected[:60]!r}",
            f"{len(response.body)} bytes {response.body[:60]!r}",
            exchange,
        )


def expect_valid(
    exchange: Exchange, instance: Any, schema_file: str, requirement: Ids, pointer: str = ""
) -> None:
    """The instance is valid against a spec schema (or the `$defs` entry at `pointer`).

    Each error blames the requirements the catalogue says carry the failing part of the schema
    (`conformance.blame`), among `requirement`; an error that belongs to a requirement outside
    them is left to that requirement's own check. The failure names each requirement with its
    own errors: path, value and rule."""
    validator = tines_spec.validator(schema_file, pointer)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    blames = blame_errors(errors, schema_file, pointer, _ids(requirement))
    if not blames:
        return
    lines: dict[str, list[str]] = {}
    for blame in blames:
        for rid in blame.requirement_ids:
            lines.setdefault(rid, []).append(blame.line)
    reasons = {rid: f"{rid}: {'; '.join(found[:4])}" for rid, found in lines.items()}
    raise CheckFailure(
        tuple(lines),
        f"valid against {schema_file}#{pointer}",
        "\n".join(reasons.values()),
        exchange,
        reasons=reasons,
    )


def expect_valid_with(
    exchange: Exchange,
    instance: Any,
    validator: Validator,
    label: str,
    requirement: Ids,
    *,
    unless_invalid_in: str = "",
) -> None:
    """The instance is valid against a validator built from other spec data (`label` names it).

    For a table that carries one requirement as a whole (the SDK's types), so every error
    blames that requirement; a catalogue schema goes through `expect_valid` and its blame.
    With `unless_invalid_in` (a catalogue schema), an error at a top-level field that schema
    already rejects is left to that field's own requirement: one defect, one blame."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if unless_invalid_in and errors:
        wrong = {
            error.absolute_path[0] if error.absolute_path else None
            for error in tines_spec.validator(unless_invalid_in).iter_errors(instance)
        }
        errors = [
            e for e in errors if (e.absolute_path[0] if e.absolute_path else None) not in wrong
        ]
    if errors:
        problems = "; ".join(describe_error(e) for e in errors[:8])
        raise CheckFailure(_ids(requirement), f"valid against {label}", problems, exchange)


def expect_equal(
    exchange: Exchange | None, what: str, actual: Any, expected: Any, requirement: Ids
) -> None:
    """A value read from a response (a field, a header, a count) equals what the request asked."""
    if actual != expected or _types_differ(actual, expected):
        raise CheckFailure(
            _ids(requirement), f"{what} {_show(expected)}", f"{what} {_show(actual)}", exchange
        )


def expect_one_of(
    exchange: Exchange | None, what: str, actual: Any, allowed: Sequence[Any], requirement: Ids
) -> None:
    if actual not in allowed:
        choices = ", ".join(_show(a) for a in allowed)
        raise CheckFailure(
            _ids(requirement), f"{what} one of {choices}", f"{what} {_show(actual)}", exchange
        )


def expect_status_in_range(exchange: Exchange, low: int, high: int, requirement: Ids) -> None:
    """The status is within [low, high], e.g. an error answer is 400 to 599."""
    response = response_of(exchange, requirement)
    if not low <= response.status <= high:
        raise CheckFailure(
            _ids(requirement),
            f"a status from {low} to {high}",
            f"status {response.status}",
            exchange,
        )


def expect_differs(
    what: str, first: Any, second: Any, requirement: Ids, exchanges: Sequence[Exchange]
) -> None:
    """Two observations that must not be the same (two runs' event IDs, two exits' action IDs)."""
    if first == second:
        raise CheckFailure(
            _ids(requirement),
            f"{what} to differ between the two responses",
            f"both {_show(first)}",
            exchanges[0] if exchanges else None,
            extra_exchanges=exchanges[1:],
        )


def expect_no_body(exchange: Exchange, requirement: Ids) -> None:
    """A 204 or 304 answer ends at its header section (RFC 9110)."""
    response = response_of(exchange, requirement)
    if response.body:
        raise CheckFailure(
            _ids(requirement),
            f"no content with status {response.status}",
            f"{len(response.body)} bytes {response.body[:60]!r}",
            exchange,
        )


def expect_text(exchange: Exchange, expected: str, requirement: Ids) -> None:
    """The body is exactly this text in UTF-8."""
    expect_body_bytes(exchange, expected.encode("utf-8"), requirement)


def csv_records(exchange: Exchange, requirement: Ids) -> list[list[str]]:
    """The body read as RFC 4180 CSV by Python's csv module, or a failure showing the text."""
    response = response_of(exchange, requirement)
    try:
        text = response.body.decode("utf-8")
        return list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error) as error:
        raise CheckFailure(
            _ids(requirement),
            "a UTF-8 CSV body",
            f"unreadable ({error}): {response.body[:120]!r}",
            exchange,
        ) from None


def expect_csv_records(exchange: Exchange, expected: list[list[str]], requirement: Ids) -> None:
    actual = csv_records(exchange, requirement)
    if actual != expected:
        raise CheckFailure(
            _ids(requirement),
            f"CSV records {_show(expected)}",
            f"CSV records {_show(actual)}",
            exchange,
        )


def expect_names_parameter(exchange: Exchange, parameter: str, requirement: Ids) -> None:
    """An error answer about a parameter says which one: its name appears in the JSON body."""
    body = json_body(exchange, requirement)
    if parameter not in json.dumps(body, ensure_ascii=False):
        raise CheckFailure(
            _ids(requirement),
            f"an error body that names `{parameter}`",
            f"body {_show(body)}",
            exchange,
        )


def expect_no_findings(exchange: Exchange, findings: Sequence[tuple[Sequence[str], str]]) -> None:
    """Findings of an outside validator (schemathesis), each already tied to the requirements it
    breaks, become one failure that names them all."""
    if findings:
        ids = tuple(
            dict.fromkeys(rid for requirement_ids, _ in findings for rid in requirement_ids)
        )
        raise CheckFailure(
            ids,
            "a response that conforms to spec/openapi.yaml",
            "\n".join(message for _, message in findings),
            exchange,
        )


def expect_response(exchange: Exchange, requirement: Ids) -> ReceivedResponse:
    """The target answered with a message that parses as HTTP (a split or garbled response is
    a transport error, with no response)."""
    return response_of(exchange, requirement)


def expect_string(exchange: Exchange | None, what: str, value: Any, requirement: Ids) -> None:
    """A field that must be a JSON string (not null, not a number)."""
    if not isinstance(value, str):
        raise CheckFailure(
            _ids(requirement), f"{what} a string", f"{what} {_show(value)}", exchange
        )


@contextmanager
def precondition(blocks: Ids | None = None) -> Iterator[None]:
    """What the rest of the check needs: a failure inside blames the requirement it names, and
    the check's other requirements (`blocks`, or all of them) are blocked by it rather than
    judged. When the failure names none of the check's own requirements (a story read refused
    with 401, in a check of the live-activity fields), the check is `Blocked` as a whole."""
    try:
        yield
    except CheckFailure as failure:
        mine = covered.get()
        targets = _ids(blocks) if blocks is not None else mine
        own = set(mine if mine is not None else targets or ())
        if targets and not own & set(failure.requirement_ids):
            raise Blocked(
                targets,
                failure.requirement_ids,
                failure.reason,
                failure.exchange,
                cause=failure,
            ) from None
        failure.precondition = True
        failure.blocks = targets
        raise


def no_response_url(answer: Exchange, requirement: Ids) -> NoReturn:
    """The 504 a check follows named no response URL: `requirement`'s failure (the 504 body's
    rule), as a precondition that blocks the rest of the check."""
    with precondition():
        raise CheckFailure(
            _ids(requirement), "a response URL in the 504", "none in body or headers", answer
        )
    raise AssertionError("precondition() raises what it caught")  # for the type checker


def expect_evidence(seen: int, what: str, requirement: Ids | None = None) -> None:
    """A check whose rule applies only to some answers (those that say `error`, those that are
    CSV) passes only if it saw one: otherwise its requirements are untested, with the reason."""
    if seen <= 0:
        raise NoEvidence(None if requirement is None else _ids(requirement), f"no {what} was seen")


JSON_DEFAULT = "WH-CT-001"


def expect_json_data(exchange: Exchange, expected: Any, requirement: Ids) -> None:
    """The body is the JSON `expected`, in an answer the check reads as JSON data.

    JSON is the default format (WH-CT-001): an answer labelled otherwise is that requirement's
    failure, and the check's own requirements are blocked by it, not failed."""
    with precondition():
        expect_media_type(exchange, "application/json", JSON_DEFAULT)
    expect_json_body(exchange, expected, requirement)


def expect_data_response(
    exchange: Exchange, payload: Any, status_requirement: str, body_requirement: str
) -> None:
    """What a check of a data response's headers needs: a 200 whose body is the payload. Any
    other answer is the failure of the requirement it contradicts, and blocks the check."""
    with precondition():
        expect_status(exchange, 200, status_requirement)
        expect_json_body(exchange, payload, body_requirement)
