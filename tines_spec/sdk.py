"""What Tines' own Go SDK decodes of a story, as `spec/sdk-types.yaml` records it.

The schema accepts some shapes that the documents allow but Tines' own client cannot read (an
object in `exit_agents`, say). The table says what the SDK reads, so that the suite can report a
story it cannot decode (STORY-SDK-001) and the reference's fixtures can be held to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from tines_spec import spec_dir

__all__ = ["SDK_TYPES_FILE", "SdkField", "sdk_fields", "sdk_source", "sdk_validator"]

SDK_TYPES_FILE = "sdk-types.yaml"
_ARRAY = "array of "
_SCALARS = ("integer", "string", "boolean")


@dataclass(frozen=True)
class SdkField:
    field: str
    json: str
    go: str

    @property
    def item_type(self) -> str | None:
        """The JSON type of the items when the SDK decodes an array, else None."""
        return self.json.removeprefix(_ARRAY) if self.json.startswith(_ARRAY) else None


@cache
def _table() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (spec_dir() / SDK_TYPES_FILE).read_text(encoding="utf-8")
    )
    return loaded


def sdk_source() -> dict[str, str]:
    """Where the table comes from: repository, file, struct, commit."""
    return dict(_table()["source"])


@cache
def sdk_fields() -> tuple[SdkField, ...]:
    fields = tuple(SdkField(**row) for row in _table()["fields"])
    for row in fields:
        if (row.item_type or row.json) not in _SCALARS:
            raise ValueError(f"{SDK_TYPES_FILE}: {row.field} has unknown JSON type {row.json!r}")
    return fields


def _field_schema(row: SdkField) -> dict[str, Any]:
    # null decodes into any Go field (it leaves the zero value), so it is always allowed.
    if row.item_type is not None:
        return {"type": ["array", "null"], "items": {"type": row.item_type}}
    return {"type": [row.json, "null"]}


@cache
def sdk_validator() -> Draft202012Validator:
    """A validator that a story passes when every field the SDK declares has a type it decodes."""
    schema = {
        "type": "object",
        "properties": {row.field: _field_schema(row) for row in sdk_fields()},
    }
    return Draft202012Validator(schema)
