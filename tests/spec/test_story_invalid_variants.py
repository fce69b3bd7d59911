"""Generated variants of the document's sample that break one rule each are rejected, for that rule.

Which fields exist, which are required, which are enums and which are timestamps is read from
story.schema.json itself, so these tests follow the schema as it changes. Every variant is checked
against both answers (`$defs/plain` and `$defs/withLiveActivity`), and a rejection only counts
when one of its errors is about the field that was broken.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import ValidationError

import tines_spec

from .seed_examples import load_data
from .spec_files import spec_registry

STORY = "story.schema.json"
SCHEMA = tines_spec.schema(STORY)
PROPERTIES: dict[str, Any] = SCHEMA["properties"]
LIVE_FIELDS: list[str] = SCHEMA["$defs"]["liveActivityFields"]["enum"]
PLAIN = "/$defs/plain"
LIVE = "/$defs/withLiveActivity"


def resolved(subschema: dict[str, Any]) -> dict[str, Any]:
    """The subschema with `$ref`s followed, as the validator would see it."""
    resolver = spec_registry().resolver(base_uri=SCHEMA["$id"])
    while "$ref" in subschema:
        subschema = resolver.lookup(subschema["$ref"]).contents
    return subschema


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def allowed_types(name: str) -> set[str]:
    subschema = resolved(PROPERTIES[name])
    if "type" in subschema:
        declared = subschema["type"]
        types = {declared} if isinstance(declared, str) else set(declared)
    elif "enum" in subschema:
        types = {json_type(value) for value in subschema["enum"]}
    else:
        raise AssertionError(f"story property {name!r} has neither a type nor an enum")
    if "number" in types:
        types.add("integer")
    return types


def required_in(pointer: str) -> list[str]:
    required: list[str] = SCHEMA["required"] + resolved({"$ref": f"#{pointer}"}).get("required", [])
    return required


def base_answer(pointer: str) -> dict[str, Any]:
    """The sample as the answer `pointer` describes: with its live fields, or without them."""
    sample: dict[str, Any] = load_data("sample_story.json")
    if pointer == LIVE:
        return sample
    return {key: value for key, value in sample.items() if key not in LIVE_FIELDS}


ENUM_FIELDS = sorted(name for name in PROPERTIES if "enum" in resolved(PROPERTIES[name]))
TIMESTAMP_FIELDS = sorted(
    name for name in PROPERTIES if resolved(PROPERTIES[name]).get("format") == "date-time"
)

JSON_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda number: not number.is_integer()
    ),
    "string": st.text(max_size=12),
    "array": st.lists(st.integers() | st.text(max_size=4), max_size=3),
    "object": st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
}

answers = st.sampled_from([PLAIN, LIVE])


def _all_errors(errors: list[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from _all_errors(list(error.context or ()))


def assert_rejected_for(pointer: str, instance: dict[str, Any], field: str) -> None:
    errors = list(tines_spec.validator(STORY, pointer).iter_errors(instance))
    assert errors, f"{pointer} accepted a variant that breaks {field!r}"
    about_field = [
        error
        for error in _all_errors(errors)
        if (error.absolute_path and error.absolute_path[0] == field) or repr(field) in error.message
    ]
    assert about_field, f"rejected, but not for {field!r}: {[e.message for e in errors]}"


def test_the_schema_yields_fields_to_break() -> None:
    """Premises of the tests below, so that an empty derivation cannot make them vacuous."""
    assert ENUM_FIELDS
    assert TIMESTAMP_FIELDS
    assert LIVE_FIELDS
    assert set(SCHEMA["required"]) <= set(PROPERTIES)


@given(pointer=answers, data=st.data())
def test_a_field_of_the_wrong_type_is_rejected(pointer: str, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(PROPERTIES)), label="field")
    wrong = [JSON_VALUES[name] for name in sorted(JSON_VALUES) if name not in allowed_types(field)]
    value = data.draw(st.one_of(wrong), label="value")
    assert_rejected_for(pointer, {**base_answer(pointer), field: value}, field)


@given(pointer=answers, data=st.data())
def test_a_missing_required_field_is_rejected(pointer: str, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(required_in(pointer)), label="field")
    variant = {key: value for key, value in base_answer(pointer).items() if key != field}
    assert_rejected_for(pointer, variant, field)


def _outside(enum: list[Any]) -> st.SearchStrategy[Any]:
    near_misses = [
        variant
        for value in enum
        if isinstance(value, str)
        for variant in (value.lower(), value.title(), f" {value}", f"{value} ", value + value)
    ]
    return st.one_of(
        st.sampled_from(near_misses), st.text(max_size=12), st.integers(), st.booleans()
    ).filter(lambda candidate: candidate not in enum)


@given(pointer=answers, data=st.data())
def test_a_value_outside_an_enum_is_rejected(pointer: str, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(ENUM_FIELDS), label="field")
    value = data.draw(_outside(resolved(PROPERTIES[field])["enum"]), label="value")
    assert_rejected_for(pointer, {**base_answer(pointer), field: value}, field)


@st.composite
def malformed_timestamps(draw: st.DrawFn) -> str:
    """A timestamp with one thing wrong; each kind is malformed whatever the digits."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
    valid = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    date, time = valid[:10], valid[11:19]
    kinds = ["no-offset", "date-only", "no-seconds", "slashes", "month", "day", "hour", "minute"]
    kind = draw(st.sampled_from([*kinds, "words"]))
    match kind:
        case "no-offset":
            return valid[:-1]
        case "date-only":
            return date
        case "no-seconds":
            return f"{date}T{time[:5]}Z"
        case "slashes":
            return valid.replace("-", "/")
        case "month":
            return f"{date[:5]}{draw(st.integers(13, 99)):02d}{date[7:]}T{time}Z"
        case "day":
            return f"{date[:8]}{draw(st.integers(32, 99)):02d}T{time}Z"
        case "hour":
            return f"{date}T{draw(st.integers(24, 99)):02d}{time[2:]}Z"
        case "minute":
            return f"{date}T{time[:3]}{draw(st.integers(60, 99)):02d}{time[5:]}Z"
        case _:
            return draw(st.text(st.characters(categories=["L"]), min_size=1, max_size=20))


@given(pointer=answers, field=st.sampled_from(TIMESTAMP_FIELDS), value=malformed_timestamps())
def test_a_malformed_timestamp_is_rejected(pointer: str, field: str, value: str) -> None:
    assert_rejected_for(pointer, {**base_answer(pointer), field: value}, field)


def _negative(field: str) -> st.SearchStrategy[int | float]:
    negative_integers = st.integers(max_value=-1)
    if "number" not in allowed_types(field):
        return negative_integers
    return negative_integers | st.floats(
        max_value=0, exclude_max=True, allow_nan=False, allow_infinity=False
    )


@given(data=st.data())
def test_a_negative_live_activity_field_is_rejected(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(LIVE_FIELDS), label="field")
    value = data.draw(_negative(field), label="value")
    assert_rejected_for(LIVE, {**base_answer(LIVE), field: value}, field)


def test_the_sample_has_send_to_story_off() -> None:
    """Premise of the two conditional-rule tests: the sample is not a Send to Story story."""
    sample = load_data("sample_story.json")
    assert sample["send_to_story_enabled"] is False
    assert sample["send_to_story_access"] != "SPECIFIC_TEAMS"


referring_ids = st.lists(st.integers(min_value=1), max_size=4)


@given(pointer=answers, ids=referring_ids)
def test_referring_story_ids_without_send_to_story_are_rejected(
    pointer: str, ids: list[int]
) -> None:
    variant = {**base_answer(pointer), "send_to_story_referring_story_ids": ids}
    assert_rejected_for(pointer, variant, "send_to_story_referring_story_ids")


@given(pointer=answers, ids=referring_ids)
def test_referring_story_ids_with_send_to_story_are_accepted(pointer: str, ids: list[int]) -> None:
    """The control: the same field is fine once send_to_story_enabled is true."""
    variant = {
        **base_answer(pointer),
        "send_to_story_enabled": True,
        "send_to_story_referring_story_ids": ids,
    }
    assert tines_spec.validator(STORY, pointer).is_valid(variant)


slugs = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4)


@given(pointer=answers, slugs=slugs, data=st.data())
def test_team_slugs_without_specific_teams_are_rejected(
    pointer: str, slugs: list[str], data: st.DataObject
) -> None:
    others = [v for v in PROPERTIES["send_to_story_access"]["enum"] if v != "SPECIFIC_TEAMS"]
    access = data.draw(st.sampled_from(others), label="send_to_story_access")
    variant = {**base_answer(pointer), "send_to_story_access": access, "shared_team_slugs": slugs}
    assert_rejected_for(pointer, variant, "shared_team_slugs")


@given(pointer=answers, slugs=slugs)
def test_team_slugs_with_specific_teams_are_accepted(pointer: str, slugs: list[str]) -> None:
    variant = {
        **base_answer(pointer),
        "send_to_story_access": "SPECIFIC_TEAMS",
        "shared_team_slugs": slugs,
    }
    assert tines_spec.validator(STORY, pointer).is_valid(variant)


@pytest.mark.parametrize("pointer", [PLAIN, LIVE])
def test_the_unbroken_answer_is_accepted(pointer: str) -> None:
    """Every rejection above is the broken field's doing, not the base answer's."""
    assert tines_spec.validator(STORY, pointer).is_valid(base_answer(pointer))
