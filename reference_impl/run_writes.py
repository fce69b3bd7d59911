"""The SQL of each run store write: a function per statement, giving the `Write` the store queues.

`RunStore` (`reference_impl.store`) decides when a write runs (batched, one transaction per batch)
and hands each one the writer's connection; what it does to the tables of `run_records.SCHEMA` is
said here, once. Each function takes its values (the time included) when the write is made, not
when it is committed, so that a batch records what its callers saw.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from reference_impl.run_records import RunStatus

__all__ = ["Write", "abandon_running", "end_run", "insert_event", "insert_run", "put_setting"]

# A write: run inside the writer's transaction, its return value the write's result.
Write = Callable[[sqlite3.Connection], Any]


def insert_run(run_id: str, scope: str, now: float) -> Write:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO runs (id, scope, status, created_at) VALUES (?, ?, 'running', ?)",
            (run_id, scope, now),
        )

    return write


def insert_event(
    event_id: str,
    run_id: str,
    seq: int,
    action_id: str,
    text: str,
    now: float,
    *,
    result: bool,
    ends_run: bool = False,
) -> Write:
    """Store an event's payload text; with `result` it becomes the run's result unless one is.

    With `ends_run` (the last event a run can emit, its result) the same statement completes a
    run that is still running, so the common run costs one write less and its answer and its
    completion are committed together.
    """

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO events (run_id, seq, id, action_id, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, seq, event_id, action_id, text, now),
        )
        if ends_run:
            conn.execute(
                "UPDATE runs SET result_event_id = COALESCE(result_event_id, ?),"
                " finished_at = CASE status WHEN 'running' THEN ? ELSE finished_at END,"
                " status = CASE status WHEN 'running' THEN 'completed' ELSE status END"
                " WHERE id = ?",
                (event_id, now, run_id),
            )
        elif result:
            conn.execute(
                "UPDATE runs SET result_event_id = ? WHERE id = ? AND result_event_id IS NULL",
                (event_id, run_id),
            )

    return write


def end_run(run_id: str, status: RunStatus, now: float) -> Write:
    """End a run that is still running; one that has ended keeps its status."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'",
            (status, now, run_id),
        )

    return write


def abandon_running(now: float) -> Write:
    """Mark every run still `running` as abandoned; the write's result is how many there were."""

    def write(conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "UPDATE runs SET status = 'abandoned', finished_at = ? WHERE status = 'running'",
            (now,),
        )
        return cursor.rowcount

    return write


def put_setting(key: str, value: str) -> Write:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    return write
