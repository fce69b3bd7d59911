"""`RunStore`: runs and events in SQLite, committed in batches (group commit).

Storage knows nothing of stories: a run is an opaque `scope` string (the engine puts the story's
webhook path there), an event is an opaque JSON payload with the ID of the action that emitted it.

Durability contract: a write's future resolves only after its transaction is committed, and the
engine hands the exit event to the webhook only in that future's callback. So an answer is sent
only after its exit event is committed, and the response URL, which reads the database, is
read-your-writes by construction. How far "committed" reaches is the `synchronous` setting: with
NORMAL (the default; WAL mode) a committed write survives the server process crashing or being
killed, since it is in the WAL file, which is what restarts and SIGTERM need; with FULL the WAL
is also fsynced at every commit, so it also survives an OS crash or power loss, at about 40% of
the webhook's throughput (benchmarks/reference_throughput.py): every answer waits for an fsync.

The writer never dies of a bad write: a write that raises anything fails its own future and no
other, and the writer goes on to the next. Should the thread end anyway (a BaseException), every
queued and later write fails at once with `StoreClosedError`, so no caller waits forever on a
future nobody will resolve (that would hang every webhook answer and the shutdown after it). A
payload that cannot be stored (a lone surrogate, a non-finite number) is refused before it is
queued (`text_of`), and the HTTP layer asks first so that such input is answered 400.

Group commit on the event loop: a run's writes (create, events, finish, fail, abandon) made on
an event loop wait for the end of the loop's iteration and are committed then, with the loop's
other run writes, as one transaction; their asyncio futures (`written.py`) settle once it is
committed. With NORMAL the commit runs on the loop's thread (a write to the WAL, no fsync: a hop
to the writer thread and back costs more); with FULL the batch goes to the writer thread, whose
fsync the loop must not wait on. The durability contract above holds either way. Every other
write (settings, start-up, shutdown) goes to the writer thread at once, after what the loop
holds, and gives a `concurrent.futures.Future`. Why batches: SQLite serialises writers anyway,
and the commit is a write's expensive part: a burst of N requests costs one commit, not N.

Reads run on a separate connection (WAL lets it read while the writer writes) behind a lock, and
callers run them in a worker thread. For `:memory:` there is only one database per connection, so
reader and writer share the one connection under the same lock.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from reference_impl import run_writes
from reference_impl.payloads import UnstorableError, payload_text
from reference_impl.run_records import (
    RunRecord,
    RunStatus,
    prepare,
    read_events,
    read_run,
    read_setting,
)
from reference_impl.run_writes import Write
from reference_impl.written import Outcome, Written, settle

__all__ = [
    "RunRecord",
    "RunStore",
    "StoreClosedError",
    "UnstorableError",
    "Written",
    "payload_text",
]

log = logging.getLogger(__name__)

# How many queued writes one transaction takes at most: large enough to amortise the fsync over a
# burst, small enough that the first writer of a batch does not wait behind thousands of others.
_MAX_BATCH = 512

# A write and its future; None for a write nobody waits on (an event that is not a result).
_Item = tuple[Write, Written[Any] | None]


# What `_submit` gives back for a batched write nobody waits on, which has no future.
_UNAWAITED: Future[Any] = Future()
_UNAWAITED.set_result(None)


class StoreClosedError(RuntimeError):
    """A write was offered after `close()`, or the writer has stopped; nothing was written."""


_SYNCHRONOUS = ("NORMAL", "FULL")


class RunStore:
    """Runs and events in one SQLite database, WAL mode, writes batched on one thread."""

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        if synchronous not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._memory = path == ":memory:"
        self._synchronous = synchronous
        if not self._memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writer_conn = self._connect(path)
        prepare(self._writer_conn)
        self._read_lock = threading.Lock()
        self._reader_conn = self._writer_conn if self._memory else self._connect(path)
        # With one shared connection the reader lock also guards the writer's transactions.
        self._write_lock = self._read_lock if self._memory else threading.Lock()
        self._queue: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        # Writes made on an event loop wait here for the end of the loop's iteration, and go to
        # the writer together: one wake-up of its thread, and one transaction, for all of them.
        self._pending: list[_Item] = []
        self._pending_lock = threading.Lock()
        # The last payload `text_of` was asked for, and its text.
        self._last_payload: Any = None
        self._last_text = "null"
        self._closed = False
        self._writer_stopped = False
        self._writer = threading.Thread(
            target=self._write_loop, name="runstore-writer", daemon=True
        )
        self._writer.start()

    def _connect(self, path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")  # one of _SYNCHRONOUS
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    # ------------------------------------------------------------------ the writer thread
    def _write_loop(self) -> None:
        try:
            self._drain_queue()
        except BaseException as exc:  # the thread ends either way: say so, fail the waiters
            self._writer_stopped = True
            log.critical(
                "the run store's writer stopped (%s); every write fails from now on",
                type(exc).__name__,
            )
            self._fail_queued()

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            error = StoreClosedError("the run store's writer has stopped")
            settle([(future, None, error) for _, future in item or ()])

    def _drain_queue(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = item
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch += more
            self._apply(batch)
            if stop:
                return

    def _apply(self, batch: list[_Item], loop: asyncio.AbstractEventLoop | None = None) -> None:
        # A waiter may give up (asyncio cancels the future it wrapped); the write still happens,
        # only its result goes nowhere. Marking the futures running first closes that race; an
        # asyncio future is looked at when it is settled, on its loop.
        waiting = [
            (w, f, f.set_running_or_notify_cancel() if isinstance(f, Future) else True)
            for w, f in batch
        ]
        with self._write_lock:
            try:
                results = self._transaction([(w, f) for w, f, _ in waiting])
            except Exception:
                # One bad write must not take the rest of the batch down with it: the batch is
                # replayed one write per transaction, so only the bad one fails. (Savepoints per
                # write would do it too, at two extra statements per write on the hot path.)
                # Any exception, not only sqlite3.Error: a write that raises something else (a
                # value the driver cannot bind) would otherwise end the writer thread.
                results = []
                for write, future, _ in waiting:
                    try:
                        results += self._transaction([(write, future)])
                    except Exception as exc:
                        log.error("a run store write failed: %s: %s", type(exc).__name__, exc)
                        results.append((future, None, exc))
        settle([r for r, (_, _, alive) in zip(results, waiting, strict=True) if alive], loop)

    def _transaction(self, writes: list[_Item]) -> list[Outcome]:
        """Apply writes in one transaction and commit; on an error, roll back and raise it."""
        conn = self._writer_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            values = run_writes.apply(conn, [write for write, _ in writes])
            conn.execute("COMMIT")
        except Exception:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [(future, value, None) for (_, future), value in zip(writes, values, strict=True)]

    def _submit(
        self,
        write: Write,
        *,
        batched: bool = False,
        awaited: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Written[Any]:
        """Queue a write. `batched` (the engine's writes, made on the event loop by the thousand)
        holds it for the end of the loop's iteration; the rest go at once, after what is held, so
        that the writer sees writes in the order they were made. A batched write nobody waits on
        (`awaited=False`) has no future to make and settle: `note_event` drops what it gives.

        `loop` is the running loop when the caller knows it: asking asyncio costs a getpid
        system call (its fork check), several per webhook request otherwise."""
        if self._closed or self._writer_stopped:
            return self._refused(StoreClosedError("the run store is closed"))
        if batched and loop is None:
            loop = asyncio._get_running_loop()
        elif not batched:
            loop = None
        future: Written[Any] | None
        if loop is None:
            future = Future()
            self._hand_over()
            self._queue.put([(write, future)])
        else:
            # An asyncio future, settled on its loop by one callback per batch: no
            # concurrent.futures.Future (and its Condition) and no wake-up of the loop per write.
            future = loop.create_future() if awaited else None
            with self._pending_lock:
                self._pending.append((write, future))
                first = len(self._pending) == 1
            if first:
                loop.call_soon(self._hand_over, loop)
        if self._writer_stopped:  # it stopped while we queued: nobody else will fail the write
            self._fail_queued()
        return _UNAWAITED if future is None else future

    def _hand_over(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Commit the writes the event loop made so far, as one batch.

        With synchronous=NORMAL, here and now, on the loop's own thread: a commit is then a write
        to the WAL, no fsync, and handing the batch to the writer thread would cost a wake-up of
        that thread and a switch of the GIL each way, more than the batch's SQLite work. With
        FULL a commit waits for an fsync, which the loop must not: the writer thread does it."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        if self._synchronous == "NORMAL":
            self._apply(pending, loop)
        else:
            self._queue.put(pending)

    def _refused(self, error: Exception) -> Written[Any]:
        future: Future[Any] = Future()
        future.set_exception(error)
        return future

    # ------------------------------------------------------------------ writes
    # What each write does to the tables is said in `run_writes`; here, when it is committed.
    # `loop`, where a write takes it: the running loop, when the caller knows it (see `_submit`).
    def create_run(
        self, run_id: str, scope: str, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> Written[None]:
        write = run_writes.insert_run(run_id, scope, time.time())
        return self._submit(write, batched=True, loop=loop)

    def record_event(
        self,
        event_id: str,
        run_id: str,
        seq: int,
        action_id: str,
        payload: Any,
        *,
        result: bool = False,
        ends_run: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Written[None]:
        """Store a run's event, `seq` its place in the run (1, 2, ...: the order `events_of` gives
        back); with `result=True` it becomes the run's result unless one exists, and with
        `ends_run=True` (the run's last event) it also completes the run if still running.

        A payload `text_of` refuses gives a failed future at once; nothing is queued.
        """
        try:
            text = self.text_of(payload)
        except UnstorableError as exc:
            return self._refused(exc)
        write = run_writes.insert_event(
            event_id, run_id, seq, action_id, text, time.time(), result=result, ends_run=ends_run
        )
        return self._submit(write, batched=True, loop=loop)

    def note_event(
        self,
        event_id: str,
        run_id: str,
        seq: int,
        action_id: str,
        payload: Any,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Store an event nobody waits for (not a result), as `record_event` would, without the
        future to make and settle; a failure is logged, as every write's is."""
        try:
            text = self.text_of(payload)
        except UnstorableError as exc:
            log.error("run %s: event %s cannot be stored: %s", run_id, event_id, exc)
            return
        write = run_writes.insert_event(
            event_id, run_id, seq, action_id, text, time.time(), result=False
        )
        self._submit(write, batched=True, awaited=False, loop=loop)

    def text_of(self, payload: Any) -> str:
        """The text the payload is stored as (`payload_text`), or UnstorableError.

        The last payload's text is kept: an action that passes its event on (a delay, the
        webhook) emits the very object it received, and the webhook asks for its event's text
        before the run stores it, so a run stores one object several times. Events are never
        changed once emitted, which makes the object's identity enough.
        """
        if payload is self._last_payload:
            return self._last_text
        text = payload_text(payload)
        self._last_payload, self._last_text = payload, text
        return text

    def finish_run(self, run_id: str) -> Written[None]:
        return self._end_run(run_id, "completed")

    def abandon_run(self, run_id: str) -> Written[None]:
        """Mark one run abandoned: the server lost it to a fault, so it must not say pending."""
        return self._end_run(run_id, "abandoned")

    def fail_run(self, run_id: str) -> Written[None]:
        """Mark a running run as failed: it ended without a result and never will have one."""
        return self._end_run(run_id, "failed")

    def _end_run(self, run_id: str, status: RunStatus) -> Written[None]:
        return self._submit(run_writes.end_run(run_id, status, time.time()), batched=True)

    def abandon_unfinished(self) -> Written[int]:
        """Mark every run still `running` as abandoned: the process can no longer finish it."""
        return self._submit(run_writes.abandon_running(time.time()))

    def set_setting(self, key: str, value: str) -> Written[None]:
        return self._submit(run_writes.put_setting(key, value))

    # ------------------------------------------------------------------ reads
    # The SQL is `run_records`'; each read blocks: call it off the event loop.
    def get_run(self, run_id: str) -> RunRecord | None:
        """A run and its result event, as committed."""
        with self._read_lock:
            return read_run(self._reader_conn, run_id)

    def events_of(self, run_id: str) -> list[tuple[str, str, Any]]:
        """Every event of a run as (event_id, action_id, payload), oldest first."""
        with self._read_lock:
            return read_events(self._reader_conn, run_id)

    def get_setting(self, key: str) -> str | None:
        with self._read_lock:
            return read_setting(self._reader_conn, key)

    # ------------------------------------------------------------------ life cycle
    def flush(self, timeout: float | None = None) -> None:
        """Block until every write queued so far is committed (those an event loop holds too)."""
        self._hand_over()
        future: Future[Any] = Future()
        if self._closed or self._writer_stopped:
            raise StoreClosedError("the run store is closed")
        self._queue.put([(lambda conn: None, future)])
        future.result(timeout)

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._hand_over()
        self._queue.put(None)
        self._writer.join()
        if self._reader_conn is not self._writer_conn:
            self._reader_conn.close()
        self._writer_conn.close()
