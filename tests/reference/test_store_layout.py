"""The run store's layout: events kept by their run and place, and older databases migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reference_impl.cli import main
from reference_impl.run_records import LAYOUT
from reference_impl.store import RunStore

# Layout 0 as the reference created it before layout 1: data for the migration, not code.
LAYOUT_0 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, scope TEXT NOT NULL, status TEXT NOT NULL, result_event_id TEXT,
    created_at REAL NOT NULL, finished_at REAL
);
CREATE TABLE events (
    id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), action_id TEXT NOT NULL,
    payload TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX events_by_run ON events(run_id);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO runs VALUES ('r1', 's', 'completed', 'e-b', 1.0, 2.0);
INSERT INTO runs VALUES ('r2', 's', 'running', NULL, 3.0, NULL);
INSERT INTO events VALUES ('e-c', 'r1', '1', '{"body":{}}', 1.0);
INSERT INTO events VALUES ('e-b', 'r1', '3', '{"x":1}', 1.5);
INSERT INTO events VALUES ('e-a', 'r1', '4', '{"x":2}', 1.6);
INSERT INTO events VALUES ('e-d', 'r2', '1', '{}', 3.0);
INSERT INTO settings VALUES ('k', 'v');
"""


def tables(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return dict(rows)


def test_events_come_back_in_their_place_in_the_run_not_in_id_order() -> None:
    store = RunStore(":memory:")
    store.create_run("r1", "s").result()
    for seq, event_id in enumerate(["e-z", "e-a", "e-m"], start=1):
        store.record_event(event_id, "r1", seq, str(seq), {"n": seq}).result()
    assert [e[0] for e in store.events_of("r1")] == ["e-z", "e-a", "e-m"]
    store.close()


def test_a_new_database_has_one_b_tree_per_table(tmp_path: Path) -> None:
    RunStore(str(tmp_path / "db.sqlite3")).close()
    layout = tables(tmp_path / "db.sqlite3")
    assert {name for name, sql in layout.items() if sql.endswith("WITHOUT ROWID")} == {
        "runs",
        "events",
    }
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (LAYOUT,)
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == [
            ("sqlite_autoindex_settings_1",)
        ]


def test_a_layout_0_database_is_migrated_with_its_runs_events_and_settings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(LAYOUT_0)
    store = RunStore(str(path))
    record = store.get_run("r1")
    assert record is not None
    assert (record.status, record.event_id, record.action_id, record.payload) == (
        "completed",
        "e-b",
        "3",
        {"x": 1},
    )
    # The order layout 0 stored them in, which is not the IDs' order.
    assert [e[0] for e in store.events_of("r1")] == ["e-c", "e-b", "e-a"]
    assert store.get_setting("k") == "v"
    assert store.abandon_unfinished().result() == 1
    store.create_run("r3", "s").result()
    store.record_event("e-e", "r3", 1, "1", {"y": 1}, result=True, ends_run=True).result()
    store.close()
    assert set(tables(path)) == {"runs", "events", "settings"}
    assert tables(path)["events"].endswith("WITHOUT ROWID")
    reopened = RunStore(str(path))  # a second open finds layout 1 and leaves it
    again = reopened.get_run("r3")
    assert again is not None
    assert (again.status, again.payload) == ("completed", {"y": 1})
    reopened.close()


def test_a_database_from_a_later_layout_is_refused_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "newer.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LAYOUT + 1}")
    code = main(["serve", "--db", str(path), "--port", "0"])
    assert code == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"cannot open the database {path}" in line
    assert f"layout is {LAYOUT + 1}" in line
    assert "\n" not in line
