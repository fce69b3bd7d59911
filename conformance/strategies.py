"""Hypothesis strategies for what the webhook checks send: exit payloads, statuses, header maps,
CSV matrices and binary bodies.

What counts as valid comes from the spec's schemas (`exit-payload.schema.json`), never from a
range restated here: a candidate is drawn broadly and kept or dropped by the spec's validator, so
a change to the rule in `spec/` changes what is generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import tines_spec

# How every hypothesis-driven check runs (max_examples comes from the plugin's settings profile):
# no per-example deadline, since a target's latency is not the check's subject, and fixtures
# such as `target` are session-wide clients, safe to share across examples.
CHECK_SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


_EXIT_SCHEMA = "exit-payload.schema.json"

# Inputs, not rules: the binary types the document names, and the generic one.
BINARY_MEDIA_TYPES = ("image/png", "application/pdf", "audio/aac", "application/octet-stream")

# RFC 9110 sections 15.3.5 and 15.4.5: these responses end at the header section, so a check
# cannot expect the convention's `body` on the wire. HTTP's rule, not this spec's.
NO_CONTENT_STATUSES = frozenset({204, 304})

# JSON numbers every JSON implementation round-trips exactly (IEEE doubles hold 2**53).
_SAFE_INT = 2**53


def _is_valid(pointer: str) -> Callable[[Any], bool]:
    validator = tines_spec.validator(_EXIT_SCHEMA, pointer)
    return validator.is_valid


def is_valid_status(value: Any) -> bool:
    """Whether the spec counts `value` as a valid HTTP response code of the convention."""
    return _is_valid("/$defs/validStatus")(value)


def is_convention_payload(value: Any) -> bool:
    """Whether the spec reads `value` under the status/body/headers convention."""
    return _is_valid("/$defs/conventionPayload")(value)


def status_code(status: int | float | str) -> int:
    """The status line a valid convention status asks for ("202" and 202.0 both mean 202)."""
    return int(status)


def _three_digit_candidates() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=999)


# Where status candidates are drawn from (inclusive); the spec's validator decides validity.
STATUS_CANDIDATES = (100, 699)


def _likely_status_candidates() -> st.SearchStrategy[int]:
    """Codes around the valid range, so that the spec's validator, which decides, keeps most.

    Hypothesis gives up on a strategy that filters out most of what it draws (its
    `filter_too_much` health check); drawn from 0-999 and then narrowed to strings, only one
    draw in eight survived, and some seeds failed the check before a request was sent.
    """
    return st.integers(min_value=STATUS_CANDIDATES[0], max_value=STATUS_CANDIDATES[1])


def valid_statuses() -> st.SearchStrategy[int | float | str]:
    """Convention statuses the spec accepts: integers, numeric strings and zero-fraction numbers."""
    as_int: st.SearchStrategy[int | float | str] = _likely_status_candidates()
    as_float = _likely_status_candidates().map(float)
    candidates = st.one_of(as_int, valid_numeric_strings(), as_float)
    return candidates.filter(is_valid_status)


def valid_numeric_strings() -> st.SearchStrategy[str]:
    """Statuses written as strings ("202", the document's own example) that the spec accepts."""
    return _likely_status_candidates().map(str).filter(is_valid_status)


def invalid_statuses() -> st.SearchStrategy[Any]:
    """Values the spec does not accept as a status: out-of-range codes, malformed strings, 1xx,
    booleans, null, fractions. A payload with one of these is returned whole."""
    digits = _three_digit_candidates()
    malformed_text = st.one_of(
        digits.map(lambda n: f"{n}0"),
        digits.map(lambda n: f" {n}"),
        digits.map(lambda n: f"{n} "),
        digits.map(lambda n: f"+{n}"),
        digits.map(lambda n: f"0{n}"),
        digits.map(lambda n: f"{n}.0"),
        digits.map(lambda n: f"{n // 10}a"),
        st.text(max_size=4),
    )
    candidates = st.one_of(
        st.integers(min_value=-1000, max_value=2000),
        digits.map(str),
        malformed_text,
        st.booleans(),
        st.none(),
        st.floats(min_value=100, max_value=700, allow_nan=False).filter(lambda f: f != int(f)),
        st.lists(digits, max_size=1),
    )
    return candidates.filter(lambda value: not is_valid_status(value))


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-_SAFE_INT, max_value=_SAFE_INT),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        json_text(),
    )


def json_text(max_size: int = 20) -> st.SearchStrategy[str]:
    """Unicode text that JSON carries: no lone surrogates (UTF-8 cannot encode them)."""
    return st.text(st.characters(exclude_categories=["Cs"]), max_size=max_size)


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, small enough to keep one request cheap."""
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(json_text(10), children, max_size=4),
        ),
        max_leaves=12,
    )


def default_payloads() -> st.SearchStrategy[Any]:
    """Exit payloads the convention does not apply to: the whole payload is the body."""
    return json_values().filter(lambda value: not is_convention_payload(value))


def header_names() -> st.SearchStrategy[str]:
    """Custom header names (RFC 9110 tokens) under a prefix of the suite's own, so that a
    generated name never collides with a header that frames the message or a metadata header."""
    token = st.from_regex(r"\A[A-Za-z0-9-]{1,16}\Z")
    validator = tines_spec.validator(_EXIT_SCHEMA, "/$defs/headerName")
    return token.map(lambda t: f"X-Probe-{t}").filter(validator.is_valid)


def header_text_values() -> st.SearchStrategy[str]:
    """String header values sent as they are: visible ASCII with inner spaces. Leading and trailing
    white space is left out because RFC 9110 section 5.5 lets any hop strip it."""
    visible = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8)
    value = st.lists(visible, min_size=1, max_size=3).map(" ".join)
    validator = tines_spec.validator(_EXIT_SCHEMA, "/$defs/headerValue")
    return value.filter(validator.is_valid)


def header_scalar_values() -> st.SearchStrategy[int | float | bool]:
    """Number and boolean header values, whose JSON text has one spelling in every language
    (integers, quarters and booleans; no exponents)."""
    quarters = st.integers(min_value=-4000, max_value=4000).map(lambda n: n / 4)
    return st.one_of(
        st.booleans(),
        st.integers(min_value=-(10**9), max_value=10**9),
        quarters.filter(lambda f: f != int(f)),
    )


def header_value_text(value: str | int | float | bool) -> str:
    """What a header value is sent as: a string as is, a number or boolean as its JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def header_maps(
    values: st.SearchStrategy[Any] | None = None, *, min_size: int = 1
) -> st.SearchStrategy[dict[str, Any]]:
    """A convention `headers` object; names differ case-insensitively (HTTP does not tell
    `X-A` from `x-a`, so two such keys could not both be checked)."""
    chosen = (
        values if values is not None else st.one_of(header_text_values(), header_scalar_values())
    )
    return st.dictionaries(
        header_names(), chosen, min_size=min_size, max_size=4, dict_class=dict
    ).filter(lambda m: len({k.lower() for k in m}) == len(m))


def extra_keys() -> st.SearchStrategy[dict[str, Any]]:
    """Keys of a convention payload other than status, body and headers, with values to match."""
    reserved = {"status", "body", "headers"}
    return st.dictionaries(
        json_text(10).filter(lambda k: k not in reserved), json_values(), min_size=1, max_size=3
    )


def csv_cells() -> st.SearchStrategy[str]:
    """Cell text with what CSV must quote (comma, double quote, CR, LF) and non-ASCII. NUL is left
    out: Python's csv module, the reader the check uses, refuses it."""
    tricky = st.sampled_from([",", '"', "\r", "\n", "\r\n", "é", "日本", "😀", " "])
    plain = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)
    return st.lists(st.one_of(plain, tricky), max_size=4).map("".join)


def csv_matrices() -> st.SearchStrategy[list[list[str]]]:
    """Arrays of arrays of strings. A record holding one empty field is left out: RFC 4180 cannot
    tell it from an empty line, so no reading of it is wrong."""
    row = st.lists(csv_cells(), min_size=1, max_size=4).filter(lambda r: r != [""])
    return st.lists(row, min_size=1, max_size=5)


def object_records() -> st.SearchStrategy[list[dict[str, str]]]:
    """Arrays of objects with string values, keys shared in part (header-and-records CSV)."""
    keys = st.sampled_from(["id", "name", "note, with comma", "ünï", 'q"uote'])
    record = st.dictionaries(keys, csv_cells(), min_size=1, max_size=4)
    return st.lists(record, min_size=1, max_size=4)


def binary_bodies() -> st.SearchStrategy[tuple[str, bytes]]:
    """A binary media type and random bytes to send Base64-encoded under it."""
    return st.tuples(st.sampled_from(BINARY_MEDIA_TYPES), st.binary(max_size=256))


def plain_texts() -> st.SearchStrategy[str]:
    """A JSON string's text for `text/plain`: any Unicode, line breaks included."""
    return json_text(40)
