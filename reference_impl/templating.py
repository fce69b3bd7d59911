"""Payload templates with Tines-style pills: `<<path.to.value>>` and `<<META.story.*>>`.

A pill names a value in the run's context: the events of upstream actions under their names
(`<<webhook.body.exit>>`), and `META` (`<<META.story.name>>`, `<<META.story.is_test>>`). A path
segment is a key of an object or an index of an array (`<<webhook.body.items.0>>` or
`<<webhook.body.items[0]>>`). A path that leads nowhere yields null, as an unset field does in
Tines.

A string that is exactly one pill yields the raw JSON value (an object stays an object, `true`
stays a boolean): the probe story depends on it to emit any JSON value unchanged. A pill inside
longer text is replaced by the value's text: a string as it is, null as nothing, anything else as
compact JSON.

Hand-written rather than a template library: Jinja and friends render to text only, and the
single-pill rule needs the raw value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Compiled", "compile_template", "render", "resolve"]

_PILL = re.compile(r"<<\s*([^<>]+?)\s*>>")
_SEGMENT = re.compile(r"[^.\[\]]+|\[(\d+)\]")


def _keys(expression: str) -> tuple[str, ...]:
    return tuple(
        match.group(1) if match.group(1) is not None else match.group(0)
        for match in _SEGMENT.finditer(expression.strip())
    )


def resolve(expression: str, context: Mapping[str, Any]) -> Any:
    """The value a pill's path names in `context`, or None when the path leads nowhere."""
    return _walk(_keys(expression), context)


def _walk(keys: tuple[str, ...], context: Mapping[str, Any]) -> Any:
    value: Any = context
    for key in keys:
        # A dict first: isinstance against the Mapping ABC costs a registry look-up per step.
        if type(value) is dict or isinstance(value, Mapping):
            if key not in value:
                return None
            value = value[key]
        elif isinstance(value, list) and key.isdigit():
            index = int(key)
            if index >= len(value):
                return None
            value = value[index]
        else:
            return None
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """Evaluate every pill in a JSON template (objects, arrays and strings, recursively)."""
    if isinstance(template, str):
        whole = _PILL.fullmatch(template)
        if whole is not None:
            return resolve(whole.group(1), context)
        return _PILL.sub(lambda m: _as_text(resolve(m.group(1), context)), template)
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, context) for item in template]
    return template


Compiled = Callable[[Mapping[str, Any]], Any]


def compile_template(template: Any) -> Compiled:
    """`render` with the template parsed once: a function of the context that gives the same
    value as `render(template, context)`. The engine compiles each action's templates at load,
    so that a run does no pattern matching on them."""
    if isinstance(template, str):
        whole = _PILL.fullmatch(template)
        if whole is not None:
            keys = _keys(whole.group(1))
            return lambda context: _walk(keys, context)
        if _PILL.search(template) is None:
            return lambda context: template
        # Text between pills, and the pills' paths: [text, keys, text, keys, ..., text].
        parts = _PILL.split(template)
        texts = parts[0::2]
        paths = [_keys(expression) for expression in parts[1::2]]

        def text(context: Mapping[str, Any]) -> str:
            out = [texts[0]]
            for keys, after in zip(paths, texts[1:], strict=True):
                out.append(_as_text(_walk(keys, context)))
                out.append(after)
            return "".join(out)

        return text
    if isinstance(template, dict):
        items = [(key, compile_template(value)) for key, value in template.items()]
        return lambda context: {key: value(context) for key, value in items}
    if isinstance(template, list):
        elements = [compile_template(item) for item in template]
        return lambda context: [element(context) for element in elements]
    return lambda context: template
