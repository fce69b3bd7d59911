"""A trailing newline must not slip through the schemas' anchored patterns.

Python's `re` (which jsonschema uses for `pattern`) lets `$` match just before a final "\\n",
unlike ECMA-262, the dialect JSON Schema names. So `^[2-5][0-9]{2}$` accepts "200\\n" and
`^[^\\r\\n\\u0000]*$` accepts the header value "abc\\n": a payload header that ends in LF would
pass as safe (WH-SAFE-001). The portable fix is in the schema, not the code: bound the length
(`minLength`/`maxLength` 3 for a status) or say what may not occur anywhere
(`"not": {"pattern": "[\\r\\n\\u0000]"}`) instead of relying on `$`.

The schemas therefore bound lengths and exclude forbidden characters anywhere; these cases keep
them that way.
"""

from __future__ import annotations

import pytest

import tines_spec

EXIT_PAYLOAD = "exit-payload.schema.json"


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/$defs/validStatus", "200\n"),
        ("/$defs/headerName", "X-Custom\n"),
        ("/$defs/headerValue", "value\n"),
    ],
)
def test_a_trailing_newline_is_rejected(pointer: str, value: str) -> None:
    assert not tines_spec.validator(EXIT_PAYLOAD, pointer).is_valid(value)


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/$defs/headerName", "X-Custom\nX-Injected"),
        ("/$defs/headerValue", "value\r\nX-Injected: 1"),
        ("/$defs/headerValue", "value\nX-Injected: 1"),
        ("/$defs/headerValue", "value\r"),
        ("/$defs/headerValue", "nul\u0000byte"),
    ],
)
def test_an_embedded_line_break_is_rejected(pointer: str, value: str) -> None:
    assert not tines_spec.validator(EXIT_PAYLOAD, pointer).is_valid(value)
