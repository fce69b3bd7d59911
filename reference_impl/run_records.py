"""The run store's tables (`SCHEMA`), and `RunRecord`, a run as the response URL reads it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["SCHEMA", "RunRecord", "RunStatus"]

RunStatus = Literal["running", "completed", "failed", "abandoned"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    result_event_id TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id),
    action_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class RunRecord:
    """A run as the response URL sees it: its state and, once there is one, its result event."""

    run_id: str
    scope: str
    status: RunStatus
    event_id: str | None
    action_id: str | None
    payload: Any
