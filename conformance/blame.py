"""Which requirement a JSON Schema error is evidence against, read from the catalogue.

Each requirement's `encoded_by` names the part of a schema that carries it (a JSON pointer). An
error is located at the keyword that failed, in the schema document itself (following `$ref`s,
since jsonschema's own error path does not), and blames the requirements whose part is the
narrowest one containing that keyword: a bad `created_at` blames the timestamp requirement, and
the whole-object requirement only takes what no narrower one carries.

Every error also gets one line for a person: the JSON path, the value and the rule it broke
(`/created_at: "10/05/2021 08:56" is not an RFC 3339 date-time`), never a dump of the object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError

import tines_spec

__all__ = ["Blame", "blame_errors", "carriers", "describe_error", "locate"]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_FORMAT_NAMES = {"date-time": "an RFC 3339 date-time", "uri": "an absolute URI"}
_VALUE_WIDTH = 80
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


@dataclass(frozen=True)
class Blame:
    """One schema error: the requirements it is evidence against and its line for a person."""

    requirement_ids: tuple[str, ...]
    line: str


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 3] + "..."


def _json_path(error: ValidationError) -> str:
    return "/" + "/".join(str(part) for part in error.absolute_path)


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _fragment(reference: str) -> str:
    """The pointer of a same-document `$ref` ("#/$defs/x", "story.schema.json#/$defs/x")."""
    return reference.partition("#")[2]


def _node(document: Any, pointer: str) -> Any:
    node = document
    for raw in pointer.split("/")[1:] if pointer else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def locate(schema_file: str, pointer: str, schema_path: Sequence[object], rule: Any = None) -> str:
    """The JSON pointer, in the schema document, of the keyword an error's path ends at.

    jsonschema's `absolute_schema_path` leaves out the `$ref`s it went through: where the path's
    next step is not in the node (or, for the last step, holds another value than the failing
    rule: a `required` beside a `$ref`), the node's same-document `$ref` is followed first."""
    document = tines_spec.schema(schema_file)
    location = pointer
    node = _node(document, pointer)
    for number, step in enumerate(schema_path):
        last = number == len(schema_path) - 1
        for _ in range(8):  # a chain of references; the spec's are short, a loop must end
            if not isinstance(node, dict) or "$ref" not in node:
                break
            if step in node and not (last and rule is not None and node[step] != rule):
                break
            location = _fragment(node["$ref"])
            node = _node(document, location)
        try:
            node = node[step] if not isinstance(node, list) else node[int(str(step))]
        except (KeyError, IndexError, ValueError, TypeError):
            return location
        location = f"{location}/{_escape(step)}"
    return location


@cache
def carriers(schema_file: str) -> tuple[tuple[str, str], ...]:
    """(pointer, requirement ID) for every requirement encoded by a part of this schema file."""
    found: list[tuple[str, str]] = []
    for requirement in tines_spec.catalogue().requirements:
        for encoded in requirement.encoded_by:
            file_part, _, pointer = encoded.partition("#")
            if file_part.rsplit("/", 1)[-1] == schema_file:
                found.append((pointer, requirement.id))
    return tuple(found)


def _within(location: str, pointer: str) -> bool:
    """`location` is `pointer` or inside it."""
    return pointer == "" or location == pointer or location.startswith(pointer + "/")


def _carriers_of(schema_file: str, scope: str, location: str) -> tuple[str, ...]:
    """The requirements whose part is the narrowest containing `location`. A part wider than the
    scope being validated does not count: validating `$defs/hexGuid` judges the guid rule, not
    the whole object (a keyword reached through a `$ref` out of the scope is judged where it is)."""
    inside = _within(location, scope)
    candidates = [
        (pointer, rid)
        for pointer, rid in carriers(schema_file)
        if _within(location, pointer)
        and not (inside and pointer != scope and _within(scope, pointer))
    ]
    if not candidates:
        return ()
    narrowest = max(len(pointer) for pointer, _ in candidates)
    return tuple(dict.fromkeys(rid for pointer, rid in candidates if len(pointer) == narrowest))


def describe_error(error: ValidationError) -> str:
    """`/path: value is not <rule>`, for one error."""
    path, keyword = _json_path(error), str(error.validator)
    rule: Any = error.validator_value
    value: Any = error.instance
    if keyword == "required":
        named = _REQUIRED.match(error.message)
        missing = named.group(1) if named else next((n for n in rule if n not in value), "")
        return f"{path.rstrip('/')}/{missing}: missing"
    if keyword == "type":
        kinds = [rule] if isinstance(rule, str) else list(rule)
        return f"{path}: {_show(value)} is not {' or '.join(_TYPE_NAMES.get(k, k) for k in kinds)}"
    if keyword == "format":
        return f"{path}: {_show(value)} is not {_FORMAT_NAMES.get(rule, f'a {rule}')}"
    if keyword == "enum":
        return f"{path}: {_show(value)} is not one of {', '.join(_show(v) for v in rule)}"
    if keyword == "const":
        return f"{path}: {_show(value)} is not {_show(rule)}"
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": "below", "exclusiveMinimum": "not above"}
        words |= {"maximum": "above", "exclusiveMaximum": "not below"}
        return f"{path}: {_show(value)} is {words[keyword]} {rule}"
    if keyword == "maxItems" and rule == 0:
        return f"{path}: {_show(value)} is not empty"
    if keyword in ("minItems", "maxItems", "minLength", "maxLength"):
        return f"{path}: {_show(value)} breaks {keyword} {rule}"
    if keyword == "pattern":
        return f"{path}: {_show(value)} does not match {rule}"
    if keyword == "not":
        present = _present_fields(rule, value)
        if present:
            where = path.rstrip("/")
            return "; ".join(f"{where}/{name}: present, and must not be" for name in present)
        if isinstance(rule, dict) and "pattern" in rule:
            return f"{path}: {_show(value)} matches {rule['pattern']}, which it must not"
        return f"{path}: {_show(value)} takes a form it must not take"
    if keyword in ("oneOf", "anyOf"):
        kinds = [_TYPE_NAMES.get(str(s.get("type")), "") for s in rule if isinstance(s, dict)]
        if all(kinds):
            return f"{path}: {_show(value)} is not {' or '.join(kinds)}"
        return f"{path}: {_show(value)} takes none of the allowed forms"
    return f"{path}: {_show(value)} breaks {keyword} {_show(rule)}"


def _present_fields(rule: Any, value: Any) -> list[str]:
    """For `not: {required: [...]}` or `not: {anyOf: [{required: [...]}]}`: the fields present."""
    if not isinstance(rule, dict) or not isinstance(value, dict):
        return []
    groups = [rule, *(rule.get("anyOf") or [])]
    names = [name for group in groups for name in (group.get("required") or [])]
    return [name for name in dict.fromkeys(names) if name in value]


def blame_errors(
    errors: Sequence[ValidationError], schema_file: str, pointer: str, among: Sequence[str]
) -> list[Blame]:
    """Each error, with the requirements of `among` it blames. An error that the catalogue gives
    to a requirement outside `among` is left to that requirement's own check; one that no
    requirement carries blames all of `among`."""
    blames: list[Blame] = []
    for error in errors:
        rule: Any = error.validator_value
        location = locate(schema_file, pointer, list(error.absolute_schema_path), rule)
        owners = _carriers_of(schema_file, pointer, location)
        blamed = tuple(rid for rid in owners if rid in among) if owners else tuple(among)
        if blamed:
            blames.append(Blame(blamed, describe_error(error)))
    return blames
