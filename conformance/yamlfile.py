"""Reading a YAML file the user wrote (a profile, an expectations file), with errors that name
the file and the place: one line, never a traceback."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError

from conformance.errors import FileFieldError

__all__ = ["field_of", "message_of", "read_yaml"]


def read_yaml(
    path: str | os.PathLike[str],
    error: type[FileFieldError],
    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
) -> Any:
    """The parsed file; a missing or unreadable file or invalid YAML raises `error`, with the
    line and column of the problem as its field."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(file, "", exc.strerror or "cannot be read") from None
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader or a subclass of it)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(file, where, f"invalid YAML: {problem}") from None


def field_of(error: ValidationError, separator: str) -> str:
    """Where a schema error is, as the user would name it: the path to the value, and for a
    missing property the property itself (jsonschema reports it at its parent)."""
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = next((r for r in required if r not in error.instance), None)
        if missing is not None:
            parts.append(str(missing))
    return separator.join(parts) or "(top level)"


def message_of(error: ValidationError) -> str:
    """A schema error in the user's words where jsonschema's are a validator's: an unknown field
    with the one it is likely a typo of and the fields allowed there, an empty file as empty."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        unknown = [str(key) for key in error.instance if key not in allowed]
        if unknown and allowed:
            said = []
            for key in unknown:
                close = difflib.get_close_matches(key, allowed, n=1)
                said.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
            noun = "field" if len(unknown) == 1 else "fields"
            return f"unknown {noun} {', '.join(said)}; allowed here: {', '.join(allowed)}"
    if error.validator == "type" and error.instance is None and not error.absolute_path:
        return "the file is empty: it must be a YAML mapping"
    return error.message.splitlines()[0]
