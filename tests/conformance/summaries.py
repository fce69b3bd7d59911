"""The stored example summary (tests/data/summaries/failing.json) and ways to reach into it, for
the tests of everything that renders or judges a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "summaries" / "failing.json"


def example() -> dict[str, Any]:
    """A fresh copy each call, so a test may change it."""
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def requirement(document: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in document["requirements"] if r["id"] == rid)
    return found
