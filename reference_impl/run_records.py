"""The run store's tables (`SCHEMA`, and `prepare`, which brings any database to it), and how
they are read back: `read_run` gives a `RunRecord`, a run as the response URL sees it.

Layout 1: each table is one b-tree (`WITHOUT ROWID`), and a run's events are stored together,
keyed by the run and their place in it. Layout 0 (before) kept a rowid table, a primary-key index
and a by-run index for the events, three b-trees written per event: a third of the store's time
on the webhook's path. Nothing looks an event up by its ID alone; the result's join names its run.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "LAYOUT",
    "SCHEMA",
    "NewerLayoutError",
    "RunRecord",
    "RunStatus",
    "prepare",
    "read_events",
    "read_run",
    "read_setting",
]

RunStatus = Literal["running", "completed", "failed", "abandoned"]

# `PRAGMA user_version` names the layout; 0 is also what SQLite says of a new, empty database.
LAYOUT = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    result_event_id TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_SET_LAYOUT = f"PRAGMA user_version = {LAYOUT};COMMIT;"
SCHEMA = "".join(("BEGIN IMMEDIATE;", _TABLES, _SET_LAYOUT))

# Layout 0 to 1, in one transaction: a crash leaves layout 0 whole. An event's place in its run
# is the order layout 0 stored them in.
_FROM_LAYOUT_0 = "".join(
    (
        "BEGIN IMMEDIATE;",
        "DROP INDEX IF EXISTS events_by_run;",
        "ALTER TABLE events RENAME TO events_0;",
        "ALTER TABLE runs RENAME TO runs_0;",
        _TABLES,
        "INSERT INTO runs SELECT id, scope, status, result_event_id, created_at, finished_at"
        " FROM runs_0;",
        "INSERT INTO events (run_id, seq, id, action_id, payload, created_at)"
        " SELECT run_id, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY rowid), id, action_id,"
        " payload, created_at FROM events_0;",
        "DROP TABLE events_0;",
        "DROP TABLE runs_0;",
        _SET_LAYOUT,
    )
)


class NewerLayoutError(sqlite3.DatabaseError):
    """The database was written by a later version of the reference, in a layout this one lacks."""


def prepare(conn: sqlite3.Connection) -> None:
    """Bring the database to `LAYOUT`: create it when new, migrate it when older, refuse newer."""
    (layout,) = conn.execute("PRAGMA user_version").fetchone()
    if layout > LAYOUT:
        raise NewerLayoutError(
            f"the database's layout is {layout}, and this version knows only up to {LAYOUT}:"
            " it was written by a later version"
        )
    runs = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
    if layout == 0 and runs.fetchone() is not None:
        conn.executescript(_FROM_LAYOUT_0)
    else:
        conn.executescript(SCHEMA)


@dataclass(frozen=True)
class RunRecord:
    """A run as the response URL sees it: its state and, once there is one, its result event."""

    run_id: str
    scope: str
    status: RunStatus
    event_id: str | None
    action_id: str | None
    payload: Any


def read_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    row = conn.execute(
        "SELECT r.id, r.scope, r.status, e.id, e.action_id, e.payload"
        " FROM runs r LEFT JOIN events e ON e.run_id = r.id AND e.id = r.result_event_id"
        " WHERE r.id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    return RunRecord(
        run_id=row[0],
        scope=row[1],
        status=row[2],
        event_id=row[3],
        action_id=row[4],
        payload=json.loads(row[5]) if row[5] is not None else None,
    )


def read_events(conn: sqlite3.Connection, run_id: str) -> list[tuple[str, str, Any]]:
    rows = conn.execute(
        "SELECT id, action_id, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
    ).fetchall()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def read_setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])
