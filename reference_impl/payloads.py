"""What an event's payload is stored as: its JSON text, or `UnstorableError` when it has none."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["UnstorableError", "payload_text"]


class UnstorableError(ValueError):
    """A payload that has no JSON text in UTF-8 (a lone surrogate, a non-finite number)."""


def payload_text(payload: Any) -> str:
    """The JSON text a payload is stored as; raises UnstorableError when it has none.

    SQLite stores text as UTF-8, and a Python string can hold what UTF-8 cannot encode (a lone
    surrogate, which JSON's `\\ud800` escape produces); JSON has no text for NaN or infinity.
    """
    try:
        fast = orjson.dumps(payload)
    except TypeError:  # orjson's JSONEncodeError too: the exact rules below decide
        pass
    else:
        # orjson writes NaN and infinity as null: only text with no null in it is taken as is.
        # `find`, not `in`: `bytes.__contains__` first tries its operand as an integer, and
        # raises and clears a TypeError for every bytes operand (CPython 3.11), twice the cost.
        if fast.find(b"null") < 0:
            return fast.decode("utf-8")
    try:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnstorableError(
            "the data holds text that is not Unicode (a lone surrogate)"
        ) from None
    except ValueError:
        raise UnstorableError(
            "the data holds a number JSON cannot carry (NaN or infinity)"
        ) from None
    except RecursionError:
        raise UnstorableError("the data is nested too deeply") from None
    except TypeError:
        raise UnstorableError("the data is not JSON data") from None
    return text
