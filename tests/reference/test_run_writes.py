"""`run_writes.apply`: a batch's statements grouped into one executemany each, to the same end
as running them one by one in order."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl import run_writes
from reference_impl.run_records import RunStatus, prepare
from reference_impl.store import RunStore


def connection() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    prepare(conn)
    return conn


def runs(conn: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    rows = conn.execute("SELECT id, status, result_event_id FROM runs ORDER BY id").fetchall()
    return [tuple(r) for r in rows]


def test_a_batch_ends_as_its_writes_one_by_one_would() -> None:
    writes = [
        run_writes.insert_run("r1", "s", 1.0),
        run_writes.insert_event("e1", "r1", 1, "1", "{}", 1.0, result=False),
        run_writes.insert_run("r2", "s", 1.0),
        # r2's end comes before r1's result: each update still follows its run's insert.
        run_writes.end_run("r2", "failed", 2.0),
        run_writes.insert_event("e2", "r1", 2, "2", "1", 2.0, result=True, ends_run=True),
        run_writes.insert_event("e3", "r2", 1, "2", "2", 2.0, result=True, ends_run=True),
        run_writes.end_run("r1", "abandoned", 3.0),  # r1 has ended: it keeps completed
    ]
    grouped, one_by_one = connection(), connection()
    assert run_writes.apply(grouped, writes) == [None] * len(writes)
    for write in writes:
        run_writes.apply(one_by_one, [write])
    assert runs(grouped) == runs(one_by_one) == [("r1", "completed", "e2"), ("r2", "failed", "e3")]
    events = "SELECT run_id, seq, id FROM events ORDER BY run_id, seq"
    assert grouped.execute(events).fetchall() == one_by_one.execute(events).fetchall()


def all_rows(conn: sqlite3.Connection) -> tuple[list[tuple[object, ...]], ...]:
    return (
        conn.execute("SELECT * FROM runs ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM events ORDER BY run_id, seq").fetchall(),
    )


_ENDS: dict[str, RunStatus] = {
    "completed": "completed",
    "failed": "failed",
    "abandoned": "abandoned",
}

# One step of a random batch: which of three runs, and what happens to it (its insert comes
# first, wherever the step falls: a run's updates are made after it exists).
_STEPS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["event", "result", "last", "completed", "failed", "abandoned"]),
    ),
    max_size=12,
)


@given(_STEPS)
def test_any_batch_ends_as_its_writes_one_by_one_would(steps: list[tuple[int, str]]) -> None:
    """Grouped, reordered (inserts first) and folded (a fresh run inserted as it ends): every
    column of every row as the writes one by one would leave it."""
    writes: list[run_writes.Write] = []
    seqs: dict[str, int] = {}
    for n, (which, step) in enumerate(steps):
        run_id, now = f"r{which}", float(n)
        if run_id not in seqs:
            seqs[run_id] = 0
            writes.append(run_writes.insert_run(run_id, "s", now))
        if step in _ENDS:
            writes.append(run_writes.end_run(run_id, _ENDS[step], now))
            continue
        seqs[run_id] += 1
        writes.append(
            run_writes.insert_event(
                f"e{n}",
                run_id,
                seqs[run_id],
                "1",
                "{}",
                now,
                result=step != "event",
                ends_run=step == "last",
            )
        )
    grouped, one_by_one = connection(), connection()
    run_writes.apply(grouped, writes)
    for write in writes:
        run_writes.apply(one_by_one, [write])
    assert all_rows(grouped) == all_rows(one_by_one)


def test_a_run_that_starts_and_ends_in_one_batch_is_one_insert() -> None:
    statements: list[str] = []
    conn = connection()
    conn.set_trace_callback(statements.append)
    run_writes.apply(
        conn,
        [
            run_writes.insert_run("r1", "s", 1.0),
            run_writes.insert_event("e1", "r1", 1, "1", "{}", 1.0, result=True, ends_run=True),
        ],
    )
    assert not [s for s in statements if s.startswith("UPDATE")]
    assert conn.execute("SELECT status, result_event_id, finished_at FROM runs").fetchall() == [
        ("completed", "e1", 1.0)
    ]


def test_a_write_that_is_a_function_sees_every_write_before_it_and_none_after() -> None:
    conn = connection()
    writes = [
        run_writes.insert_run("r1", "s", 1.0),
        run_writes.abandon_running(2.0),
        run_writes.insert_run("r2", "s", 3.0),
    ]
    assert run_writes.apply(conn, writes) == [None, 1, None]
    assert runs(conn) == [("r1", "abandoned", None), ("r2", "running", None)]


def test_an_event_nobody_waits_for_is_stored_and_its_failure_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario(store: RunStore) -> None:
        created = store.create_run("r1", "s")
        store.note_event("e1", "r1", 1, "1", {"a": 1})
        store.note_event("e1", "r1", 1, "1", {"b": 2})  # the same place in the run: refused
        store.note_event("e2", "r1", 2, "1", float("nan"))  # no JSON text: never queued
        await asyncio.wrap_future(created)

    store = RunStore(":memory:")
    with caplog.at_level(logging.ERROR, logger="reference_impl.store"):
        asyncio.run(scenario(store))
    assert [e[2] for e in store.events_of("r1")] == [{"a": 1}]
    store.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("UNIQUE" in m for m in messages), messages
    assert any("event e2 cannot be stored" in m for m in messages), messages
