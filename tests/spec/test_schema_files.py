"""Every file of spec/schemas/ is a sound JSON Schema 2020-12 that resolves without a network."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

import tines_spec

from .spec_files import iter_key, iter_refs, schema_file_names, spec_registry


def test_schema_files_exist() -> None:
    assert "story.schema.json" in schema_file_names()


@pytest.mark.parametrize("name", schema_file_names())
def test_schema_passes_check_schema(name: str) -> None:
    schema = tines_spec.schema(name)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_id_is_unique() -> None:
    ids: list[Any] = [
        schema_id
        for name in schema_file_names()
        for schema_id in iter_key(tines_spec.schema(name), "$id")
    ]
    duplicates = [schema_id for schema_id, count in Counter(ids).items() if count > 1]
    assert not duplicates, f"$id used by more than one schema: {duplicates}"


@pytest.mark.parametrize("name", schema_file_names())
def test_id_ends_with_the_file_name(name: str) -> None:
    """So that a reference by file name, relative to any `$id`, lands on this very file."""
    assert str(tines_spec.schema(name)["$id"]).rsplit("/", 1)[-1] == name


def _all_schema_refs() -> list[tuple[str, str, str]]:
    return [
        (name, pointer, ref)
        for name in schema_file_names()
        for pointer, ref in iter_refs(tines_spec.schema(name))
    ]


@pytest.mark.parametrize(("name", "pointer", "ref"), _all_schema_refs(), ids=str)
def test_every_schema_ref_resolves_locally(name: str, pointer: str, ref: str) -> None:
    resolver = spec_registry().resolver(base_uri=tines_spec.schema(name)["$id"])
    try:
        resolver.lookup(ref)
    except Unresolvable as error:
        pytest.fail(f"{name}#{pointer}: $ref {ref!r} does not resolve inside spec/: {error}")


def test_schema_refs_were_found() -> None:
    assert any(ref.startswith("#/$defs/") for _, _, ref in _all_schema_refs())
