"""engine.py and store.py directly: runs, branches, the first exit, slots, durability."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reference_impl.engine import Engine
from reference_impl.fixtures import builtin_fixtures
from reference_impl.runs import ExitEvent, FailedRun, RunHandle
from reference_impl.store import RunStore, StoreClosedError
from reference_impl.story_graph import StoryGraph

from .conftest import wait_until_async


def graph(role: str) -> StoryGraph:
    story = next(s for s in builtin_fixtures() if s.role == role)
    assert story.graph is not None
    return story.graph


PROBE = graph("probe")
RACE = graph("race")


async def exit_of(handle: RunHandle, timeout: float = 5) -> ExitEvent:
    """The run's exit event; a run that failed instead fails the test."""
    outcome = await asyncio.wait_for(handle.result, timeout)
    assert isinstance(outcome, ExitEvent), outcome
    return outcome


def probe_event(exit: Any, delay: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"exit": exit}
    if delay is not None:
        body["delay_seconds"] = delay
    return {"body": body, "headers": {}}


def test_store_round_trip_and_first_result_wins(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "sub" / "db.sqlite3"))
    store.create_run("r1", "scope").result()
    store.record_event("e0", "r1", 1, "1", {"body": {}}).result()
    store.record_event("e1", "r1", 2, "2", {"x": 1}, result=True).result()
    store.record_event("e2", "r1", 3, "3", {"x": 2}, result=True).result()
    record = store.get_run("r1")
    assert record is not None
    assert (record.status, record.event_id, record.action_id, record.payload) == (
        "running",
        "e1",
        "2",
        {"x": 1},
    )
    assert [e[0] for e in store.events_of("r1")] == ["e0", "e1", "e2"]
    store.finish_run("r1").result()
    store.create_run("r2", "scope").result()
    assert store.abandon_unfinished().result() == 1
    store.close()
    reopened = RunStore(str(tmp_path / "sub" / "db.sqlite3"))
    first, second = reopened.get_run("r1"), reopened.get_run("r2")
    assert first is not None
    assert first.status == "completed"
    assert second is not None
    assert (second.status, second.event_id) == ("abandoned", None)
    assert reopened.get_run("nope") is None
    reopened.close()
    with pytest.raises(StoreClosedError):
        reopened.create_run("r3", "s").result()


def test_an_event_that_ends_its_run_completes_it_in_the_same_write() -> None:
    store = RunStore(":memory:")
    store.create_run("r1", "s").result()
    store.record_event("e1", "r1", 2, "2", {"x": 1}, result=True, ends_run=True).result()
    record = store.get_run("r1")
    assert record is not None
    assert (record.status, record.event_id, record.payload) == ("completed", "e1", {"x": 1})
    # A run that already has a result and an end keeps both.
    store.create_run("r2", "s").result()
    store.record_event("e2", "r2", 2, "2", {"x": 2}, result=True).result()
    store.fail_run("r2").result()
    store.record_event("e3", "r2", 3, "3", {"x": 3}, result=True, ends_run=True).result()
    kept = store.get_run("r2")
    assert kept is not None
    assert (kept.status, kept.event_id) == ("failed", "e2")
    store.close()


def test_store_journal_is_wal(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "db.sqlite3"))
    mode = store._writer_conn.execute("PRAGMA journal_mode").fetchone()[0]
    store.close()
    assert mode == "wal"


def test_a_failed_write_does_not_fail_its_batch() -> None:
    store = RunStore(":memory:")
    store.create_run("r1", "s").result()
    duplicate = store.create_run("r1", "s")
    other = store.create_run("r2", "s")
    with pytest.raises(Exception, match="UNIQUE"):
        duplicate.result()
    assert other.result() is None
    assert store.get_run("r2") is not None
    store.close()


def run_engine(graphs: list[StoryGraph], slots: int, scenario: Any) -> Any:
    async def main() -> Any:
        store = RunStore(":memory:")
        engine = Engine(store, graphs, slots)
        try:
            return await scenario(engine, store)
        finally:
            await engine.stop()
            store.close()

    return asyncio.run(main())


def test_probe_emits_its_exit_value_and_stores_every_event() -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        handle = engine.submit(PROBE.story_id, probe_event({"status": 202, "body": [1]}))
        result = await exit_of(handle)
        assert result.payload == {"status": 202, "body": [1]}
        assert result.action_id == str(PROBE.exits[0].id)
        record = await asyncio.to_thread(store.get_run, handle.run_id)
        assert record is not None
        # One path to one exit: the write that stored the answer completed the run.
        assert (record.event_id, record.status, handle.ended) == (
            result.event_id,
            "completed",
            True,
        )
        events = await asyncio.to_thread(store.events_of, handle.run_id)
        assert [e[1] for e in events] == [str(a.id) for a in PROBE.actions]

    run_engine([PROBE], 2, scenario)


def test_race_first_exit_wins_and_the_other_branch_completes() -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        body = {"token": "t1", "first_delay_seconds": 0.2, "second_delay_seconds": 0}
        handle = engine.submit(RACE.story_id, {"body": body, "headers": {}})
        result = await exit_of(handle)
        assert result.payload == {"exit": "second", "token": "t1"}

        def both_exits_stored() -> bool:
            record = store.get_run(handle.run_id)
            return record is not None and record.status == "completed"

        async def stored() -> bool:
            return await asyncio.to_thread(both_exits_stored)

        await wait_until_async(stored, deadline=5, interval=0.02)
        events = await asyncio.to_thread(store.events_of, handle.run_id)
        exit_ids = {str(a.id) for a in RACE.exits}
        assert sorted(e[2]["exit"] for e in events if e[1] in exit_ids) == ["first", "second"]
        record = await asyncio.to_thread(store.get_run, handle.run_id)
        assert record is not None
        assert record.payload == {"exit": "second", "token": "t1"}

    run_engine([RACE], 2, scenario)


def test_runs_beyond_the_slots_queue_and_all_finish() -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        handles = [engine.submit(PROBE.story_id, probe_event(i, 0.1)) for i in range(5)]
        assert [h.queued for h in handles] == [False, False, True, True, True]
        activity = engine.live_activity(PROBE.story_id)
        assert activity.concurrent_runs_count == 2
        # The queued runs, and the delays of the two that run: a run starts on submit.
        assert activity.pending_action_runs_count == 5
        results = await asyncio.gather(*(exit_of(h) for h in handles))
        assert [r.payload for r in results] == list(range(5))
        assert len({r.event_id for r in results}) == 5

    run_engine([PROBE], 2, scenario)


def test_a_bad_delay_marks_the_action_not_working_until_it_emits() -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        bad = engine.submit(PROBE.story_id, probe_event(1, "soon"))
        outcome = await asyncio.wait_for(bad.result, 5)
        assert isinstance(outcome, FailedRun)
        assert engine.live_activity(PROBE.story_id).not_working_actions_count == 1
        good = engine.submit(PROBE.story_id, probe_event(2))
        await asyncio.wait_for(good.result, 5)
        assert engine.live_activity(PROBE.story_id).not_working_actions_count == 0

    run_engine([PROBE], 2, scenario)


@pytest.mark.parametrize("delay", [-5, "x", float("inf")])
def test_a_run_that_ends_without_data_fails_at_once_and_is_stored_failed(delay: Any) -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        handle = engine.submit(PROBE.story_id, probe_event(1, delay))
        # Well under any exit timeout: the failure ends the run, it does not wait for one.
        outcome = await asyncio.wait_for(handle.result, 2)
        assert isinstance(outcome, FailedRun)
        assert "delay" in outcome.reason
        record = await asyncio.to_thread(store.get_run, handle.run_id)
        assert record is not None
        assert record.status == "failed"
        assert record.event_id is None

    run_engine([PROBE], 2, scenario)


def test_stop_leaves_unfinished_runs_running_for_the_caller_to_abandon() -> None:
    async def scenario(engine: Engine, store: RunStore) -> None:
        handle = engine.submit(PROBE.story_id, probe_event(1, 30))
        await handle.stored()
        await engine.stop()
        assert await asyncio.wrap_future(store.abandon_unfinished()) == 1
        record = await asyncio.to_thread(store.get_run, handle.run_id)
        assert record is not None
        assert record.status == "abandoned"

    run_engine([PROBE], 2, scenario)


@pytest.mark.parametrize(("setting", "pragma_value"), [("NORMAL", 1), ("FULL", 2)])
def test_the_synchronous_setting_reaches_both_connections(
    tmp_path: Path, setting: str, pragma_value: int
) -> None:
    """How far a commit reaches (process crash, or power loss too) is the operator's choice."""
    store = RunStore(str(tmp_path / "db.sqlite3"), setting)
    try:
        for conn in (store._writer_conn, store._reader_conn):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == pragma_value
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_an_unknown_synchronous_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of NORMAL, FULL"):
        RunStore(str(tmp_path / "db.sqlite3"), "OFF")
