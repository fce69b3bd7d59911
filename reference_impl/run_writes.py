"""The SQL of each run store write, and `apply`, which runs a batch of them in a transaction.

`RunStore` (`reference_impl.store`) decides when a write runs (batched, one transaction per batch)
and hands the batch to `apply` with the writer's connection; what each write does to the tables
of `run_records.SCHEMA` is said here, once. Each function takes its values (the time included)
when the write is made, not when it is committed, so that a batch records what its callers saw.

A write is data, the statements it runs, so that `apply` can run a batch's statements as one
`executemany` per statement rather than one `execute` each: a batch of the webhook's runs is a
few hundred statements of four kinds. Only a write that gives a result (how many runs it
abandoned) is a function of the connection.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from reference_impl.run_records import RunStatus

__all__ = [
    "Write",
    "abandon_running",
    "apply",
    "end_run",
    "insert_event",
    "insert_run",
    "put_setting",
]

Statement = tuple[str, tuple[Any, ...]]
# A write: its statements, run in order inside the writer's transaction (its result None); or a
# function run there, its return value the write's result.
Write = tuple[Statement, ...] | Callable[[sqlite3.Connection], Any]

_INSERT_RUN = (
    "INSERT INTO runs (id, scope, status, result_event_id, created_at, finished_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (run_id, seq, id, action_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_END_WITH_RESULT = (
    "UPDATE runs SET result_event_id = COALESCE(result_event_id, ?),"
    " finished_at = CASE status WHEN 'running' THEN ? ELSE finished_at END,"
    " status = CASE status WHEN 'running' THEN 'completed' ELSE status END"
    " WHERE id = ?"
)
_SET_RESULT = "UPDATE runs SET result_event_id = ? WHERE id = ? AND result_event_id IS NULL"
_END_RUN = "UPDATE runs SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'"
_PUT_SETTING = (
    "INSERT INTO settings (key, value) VALUES (?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


def insert_run(run_id: str, scope: str, now: float) -> Write:
    return ((_INSERT_RUN, (run_id, scope, "running", None, now, None)),)


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
    insert = (_INSERT_EVENT, (run_id, seq, event_id, action_id, text, now))
    if ends_run:
        return (insert, (_END_WITH_RESULT, (event_id, now, run_id)))
    if result:
        return (insert, (_SET_RESULT, (event_id, run_id)))
    return (insert,)


def end_run(run_id: str, status: RunStatus, now: float) -> Write:
    """End a run that is still running; one that has ended keeps its status."""
    return ((_END_RUN, (status, now, run_id)),)


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
    return ((_PUT_SETTING, (key, value)),)


def apply(conn: sqlite3.Connection, writes: Sequence[Write]) -> list[Any]:
    """Run the writes on the connection (inside the caller's transaction); their results.

    A run created and ended with its result in the same batch, with no other update of it in
    between (the webhook's usual run), is inserted as it ends: the update is folded into the
    insert, and the row is the one the insert and the update would have left."""
    results: list[Any] = []
    # Inserts of new rows, which read no row: a batch runs them before its other statements.
    # Each run's row is still inserted before its updates, which are made after it and keep
    # their order.
    first: dict[str, list[tuple[Any, ...]]] = {_INSERT_RUN: [], _INSERT_EVENT: []}
    rest: list[Statement] = []
    # The runs this batch inserts and nothing has updated yet: where their insert's row is.
    fresh: dict[str, int] = {}
    runs = first[_INSERT_RUN]
    for write in writes:
        if callable(write):
            _run(conn, first, rest)  # a function sees every write before it
            fresh.clear()
            results.append(write(conn))
            continue
        for sql, params in write:
            if sql == _INSERT_EVENT:
                first[sql].append(params)
            elif sql == _INSERT_RUN:
                fresh[params[0]] = len(runs)
                runs.append(params)
            elif sql == _END_WITH_RESULT and params[2] in fresh:
                event_id, now, run_id = params
                at = fresh.pop(run_id)
                runs[at] = (run_id, runs[at][1], "completed", event_id, runs[at][4], now)
            else:
                # Every update names its run last; it leaves the run's row to the update.
                fresh.pop(params[-1], None)
                rest.append((sql, params))
        results.append(None)
    _run(conn, first, rest)
    return results


def _run(
    conn: sqlite3.Connection, first: dict[str, list[tuple[Any, ...]]], rest: list[Statement]
) -> None:
    for sql, rows in first.items():
        if rows:
            conn.executemany(sql, rows)
            rows.clear()
    for sql, group in itertools.groupby(rest, key=itemgetter(0)):
        conn.executemany(sql, [params for _, params in group])
    rest.clear()
