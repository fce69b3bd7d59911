"""Instructions per probe webhook POST, the reference's and a bare ASGI app's, under cachegrind.

Wall-clock figures on a 2-core VM move by 15-25% between identical runs, so a change of a few
per cent to the webhook's path is lost in reference_throughput.py's noise; instructions counted
by valgrind's cachegrind are not. This script drives each side in one process with no sockets:
uvicorn's protocol class (the reference's limited one) on fake transports, 32 connections that
each send the probe POST again as soon as their previous answer is complete (a closed loop, like
wrk -c32), on uvloop. Each side runs twice as a child under cachegrind, with N1 and N2 measured
requests after the same warm-up, and (Ir(N2) - Ir(N1)) / (N2 - N1) is one request's cost: the
start-up (imports, the database, the lifespan) is in both runs and cancels.

Counts do not repeat exactly: importing jsonschema varies by some 0.2M instructions from one
process to the next (rpds hashes with a random key), the requests by a little each, and code
that reads the clock (a timer per slot of time) costs more the longer a run takes, as it does
on a busy machine. Hence 10,000 requests between N1 and N2 by default: two runs on a quiet
machine agree to about 0.1%, where 2,000 (N2 = 2500) differ by up to 0.4%.

    python benchmarks/webhook_cost.py [--side reference|raw] [--warmup 500] [--requests 500 10500]
    python benchmarks/webhook_cost.py --no-valgrind       # CPU us a request instead (noisy)

The raw side is servers.raw_asgi_app replaying the bytes of one reference answer on the same
protocol class and settings: the least an ASGI app can do for the same exchange. The code
measured is the reference_impl/ beside this script, so a copy in a worktree of another commit
measures that commit. Exit code 2 when it cannot run (no valgrind, a reference that does not
start, an answer other than 200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loadgen import BenchmarkError
from benchmarks.servers import (
    PROBE_BODY,
    SERVER_ADDED_HEADERS,
    RecordedResponse,
    describe_uvicorn,
    raw_asgi_app,
)

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 32
SIDES = ("reference", "raw")
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:[ \t]*(\d+)")
RESULT_PREFIX = "webhook-cost-result "
# A phase that has not ended by then has hung (under valgrind 10,000 requests take about 40 s,
# and a few minutes on a machine that is busy).
PHASE_TIMEOUT_SECONDS = 1800.0
DEADLINE_SECONDS = 3600
# One hash seed in every child: set and dict orders repeat, and so do more of the counts.
CHILD_ENV = {"PYTHONHASHSEED": "0"}


# ---------------------------------------------------------------------- the driver (a child)
class Connection(asyncio.Transport):
    """One client, as the transport its protocol instance (the server's side) writes to.

    Answers are cut out of the bytes by their Content-Length, however many writes each takes:
    the reference writes one an answer (reference_impl/one_write.py), stock uvicorn two."""

    def __init__(self, driver: ClosedLoop, protocol: Any) -> None:
        super().__init__({"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)})
        self._driver = driver
        self._buffer = bytearray()
        self._closing = False
        self.protocol = protocol
        protocol.connection_made(self)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = CONTENT_LENGTH.search(self._buffer, 0, end)
            if length is None:
                self._driver.fail(f"an answer with no Content-Length: {self._buffer[:40]!r}")
                return
            size = end + 4 + int(length.group(1))
            if len(self._buffer) < size:
                return
            answer = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._driver.answered(self, answer)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self._driver.fail("the server closed a connection")

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class ClosedLoop:
    """Sends a number of requests over the connections, each as soon as one is answered."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.first_answer: bytes | None = None
        self._to_send = self._unanswered = 0
        self._done: asyncio.Future[None] | None = None

    async def run(self, connections: list[Connection], requests: int) -> None:
        self._done = asyncio.get_running_loop().create_future()
        self._to_send = self._unanswered = requests
        for connection in connections[:requests]:
            self._to_send -= 1
            connection.protocol.data_received(self.request)
        await asyncio.wait_for(self._done, PHASE_TIMEOUT_SECONDS)
        self._done = None

    def answered(self, connection: Connection, answer: bytes) -> None:
        if self._done is None or self._done.done():
            return  # the phase failed: no more requests
        if not answer.startswith(b"HTTP/1.1 200 "):
            status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
            self.fail(f"answered {status_line!r}, not 200")
            return
        if self.first_answer is None:
            self.first_answer = answer
        self._unanswered -= 1
        if self._to_send > 0:
            self._to_send -= 1
            # Not from inside this write: the protocol is still in the middle of its send.
            asyncio.get_running_loop().call_soon(connection.protocol.data_received, self.request)
        elif self._unanswered == 0 and self._done is not None:
            self._done.set_result(None)

    def fail(self, message: str) -> None:
        """Ends the phase with an error; outside a phase (connections closing at the end), no-op."""
        if self._done is not None and not self._done.done():
            self._done.set_exception(BenchmarkError(message))


def recorded_answer(answer: bytes, path: str) -> RecordedResponse:
    """The reference's answer as the raw app replays it: less `date` and `server`, which
    uvicorn adds itself (the recording child writes the answer's bytes, path beside them)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = [(k, v.strip()) for k, _, v in (line.partition(b":") for line in lines)]
    kept = [(k, v) for k, v in headers if k.lower() not in SERVER_ADDED_HEADERS]
    return RecordedResponse("POST", path, int(status_line.split()[1]), kept, body)


def tune_collector() -> bool:
    """serve's collector settings, where this tree has them; a tree from before
    reference_impl/collector.py served with the defaults."""
    try:
        from reference_impl.collector import tune_for_serving
    except ModuleNotFoundError as error:
        if error.name != "reference_impl.collector":
            raise
        return False
    tune_for_serving()
    return True


def drive(side: str, warmup: int, measured: int, record: Path | None, recorded: Path | None) -> str:
    """One side's process: made as `reference-impl serve` makes it, then loaded; a JSON result."""
    try:
        import uvloop
    except ImportError:
        raise BenchmarkError("uvloop is not installed, and the server runs on it") from None
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    import reference_impl

    if not Path(reference_impl.__file__ or "").resolve().is_relative_to(ROOT):
        raise BenchmarkError(f"reference_impl came from {reference_impl.__file__}, not {ROOT}")
    try:
        from reference_impl.app import build_app, build_runtime
        from reference_impl.cli import profile_for
        from reference_impl.config import API_KEY_ENV, parse_config
        from reference_impl.fixtures import builtin_fixtures
        from reference_impl.http_limits import limited_protocol
    except ImportError as error:
        raise BenchmarkError(f"this tree's reference_impl cannot be driven: {error}") from None

    with tempfile.TemporaryDirectory(prefix="webhook-cost-") as tmp:
        # Far more run slots than connections, so that every POST takes the 200 path, as in
        # reference_throughput.py: a run keeps its slot a while after its answer.
        argv = ["serve", "--db", str(Path(tmp) / "bench.sqlite3")]
        argv += ["--max-concurrent-runs", str(CONNECTIONS * 32)]
        # No deadline may pass: under valgrind an answer takes fifty times as long, and a busy
        # machine stalls the process for seconds (a 504, a keep-alive connection closed). A
        # timer costs the same whatever its length.
        for deadline in ("--exit-timeout", "--header-timeout", "--body-timeout"):
            argv += [deadline, str(DEADLINE_SECONDS)]
        argv += ["--keep-alive-timeout", str(DEADLINE_SECONDS)]
        try:
            config = parse_config(argv, {API_KEY_ENV: "webhook-cost-key"})
            if side == "reference":
                runtime = build_runtime(config, builtin_fixtures())
                webhooks = profile_for(runtime, "http://127.0.0.1:8000")["webhooks"]
                path = urlsplit(webhooks["probe_url"]).path
                app: Any = build_app(runtime)
        except (ValueError, sqlite3.Error, OSError) as error:  # ConfigError, FixtureError too
            raise BenchmarkError(f"the reference did not start: {error}") from None
        if side == "raw":
            assert recorded is not None
            first = json.loads(recorded.read_text(encoding="utf-8"))
            answer = recorded_answer(bytes.fromhex(first["answer"]), first["path"])
            path, app = answer.path, raw_asgi_app([answer])
        protocol = limited_protocol(
            config.header_timeout, config.body_timeout, config.max_header_bytes
        )
        # serve's uvicorn settings (a copy: serve makes its Config inline), less the ones only a
        # listening server reads.
        uv_config = uvicorn.Config(
            app,
            http=protocol,
            h11_max_incomplete_event_size=config.max_header_bytes,
            timeout_keep_alive=config.keep_alive_timeout,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            lifespan="on",
        )
        tuned = tune_collector()  # where serve tunes: the app made, uvicorn not yet loaded
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json"
        head += f"\r\nAccept: application/json\r\nContent-Length: {len(PROBE_BODY)}\r\n\r\n"
        driver = ClosedLoop(head.encode("ascii") + PROBE_BODY)
        cpu_seconds = uvloop.run(serve(uv_config, side, driver, warmup, measured))
    if record is not None and driver.first_answer is not None:
        record.write_text(json.dumps({"path": path, "answer": driver.first_answer.hex()}))
    parser = "httptools" if issubclass(protocol, HttpToolsProtocol) else "h11"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    stack = f"{describe_uvicorn('uvloop', parser)}, {python}"
    return json.dumps({"cpu_seconds": cpu_seconds, "tuned": tuned, "stack": stack})


async def serve(uv_config: Any, side: str, driver: ClosedLoop, warmup: int, measured: int) -> float:
    """What uvicorn's server does around its protocol, then the load; the measured CPU seconds.

    The lifespan runs in uvicorn's LifespanOn so that its state (the reference's loop) reaches
    each request's scope; the date and server headers are set as uvicorn's server sets them."""
    from uvicorn.lifespan.on import LifespanOn
    from uvicorn.server import ServerState

    uv_config.load()
    lifespan = LifespanOn(uv_config)
    await lifespan.startup()
    if lifespan.should_exit:
        raise BenchmarkError(f"the {side} side's lifespan startup failed")
    state = ServerState()
    date = formatdate(time.time(), usegmt=True).encode("ascii")
    state.default_headers = [(b"date", date), *uv_config.encoded_headers]
    loop = asyncio.get_running_loop()
    protocol = uv_config.http_protocol_class
    connections = [
        Connection(driver, protocol(uv_config, state, lifespan.state, _loop=loop))
        for _ in range(CONNECTIONS)
    ]
    try:
        if warmup:
            await driver.run(connections, warmup)
        started = time.process_time()
        await driver.run(connections, measured)
        return time.process_time() - started
    finally:  # the reference's shutdown stops its engine and closes the store's thread
        for connection in connections:
            connection.protocol.connection_lost(None)
        await lifespan.shutdown()


# ------------------------------------------------------------------------ the parent process
@dataclass(frozen=True)
class ChildResult:
    cpu_seconds: float  # over the measured requests
    tuned: bool
    stack: str
    instructions: int | None  # cachegrind's I refs for the whole child, under valgrind
    seconds: float


def run_child(
    side: str, warmup: int, measured: int, tmp: Path, *, valgrind: bool, record: bool = False
) -> ChildResult:
    command = [sys.executable, str(Path(__file__).resolve()), "--drive", side]
    command += ["--warmup", str(warmup), "--measured", str(measured)]
    command += ["--record" if record else "--recorded", str(tmp / "recorded.json")]
    if valgrind:
        command = [*VALGRIND, *command]
    started = time.monotonic()
    env = {**os.environ, **CHILD_ENV}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        # valgrind's lines start with ==PID==; the driver's error is the last of the others.
        said = [line for line in done.stderr.splitlines() if line and not line.startswith("==")]
        last = said[-1].removeprefix("webhook_cost: error: ") if said else "no message"
        raise BenchmarkError(f"the {side} side failed (exit code {done.returncode}): {last}")
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise BenchmarkError(f"the {side} side printed no result")
    result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    instructions = None
    if valgrind:
        found = I_REFS.search(done.stderr)
        if found is None:
            raise BenchmarkError(f"valgrind printed no 'I refs' for the {side} side")
        instructions = int(found.group(1).replace(",", ""))
    return ChildResult(
        result["cpu_seconds"], result["tuned"], result["stack"], instructions, seconds
    )


def tree_revision() -> str:
    """This tree's commit, and "dirty" when tracked files differ from it: what was measured."""
    answers = []
    for args in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "-uno"]):
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        if done.returncode != 0:
            return "not a git checkout"
        answers.append(done.stdout.strip())
    return f"commit {answers[0]} ({'dirty' if answers[1] else 'clean'})"


def measure(args: argparse.Namespace) -> None:
    valgrind = not args.no_valgrind
    if valgrind and shutil.which("valgrind") is None:
        raise BenchmarkError("valgrind not found (Debian: apt-get install valgrind)")
    # Code that reads the clock (a timer per slot of time, say) costs more the longer a run
    # takes, and a busy machine makes runs longer: the load is part of the figure.
    load_average = os.getloadavg()[0]
    print(f"tree: {ROOT}, {tree_revision()}; load average {load_average:.2f}", flush=True)
    n1, n2 = args.requests
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="webhook-cost-") as tmp_name:
        tmp = Path(tmp_name)
        # Also a quick check that the reference starts, before minutes under valgrind.
        print("recording the reference's answer (one request, no valgrind) ...", flush=True)
        first = run_child("reference", 0, 1, tmp, valgrind=False, record=True)
        for side in [args.side] if args.side else SIDES:
            if not valgrind:
                print(f"{side}: {args.warmup} warm-up + {n2} measured requests ...", flush=True)
                result = run_child(side, args.warmup, n2, tmp, valgrind=False)
                per_request[side] = result.cpu_seconds / n2 * 1e6
                continue
            counts = []
            for measured in (n1, n2):
                what = f"{args.warmup} warm-up + {measured} measured requests"
                print(f"{side}: {what}, under cachegrind ...", end=" ", flush=True)
                result = run_child(side, args.warmup, measured, tmp, valgrind=True)
                assert result.instructions is not None
                counts.append(result.instructions)
                print(f"{result.seconds:.0f} s, {result.instructions:,} instructions", flush=True)
            per_request[side] = (counts[1] - counts[0]) / (n2 - n1)
    report(args, first, per_request)


def report(args: argparse.Namespace, first: ChildResult, per_request: dict[str, float]) -> None:
    n1, n2 = args.requests
    print(f"\nstack: {first.stack}")
    tuned = "tuned as serve tunes it (reference_impl.collector.tune_for_serving)"
    untuned = "defaults (this tree has no reference_impl/collector.py: not tuned)"
    print(f"collector: {tuned if first.tuned else untuned}")
    load = f"{CONNECTIONS} connections, closed loop, probe webhook POST, {args.warmup} warm-up"
    if args.no_valgrind:
        print(f"load: {load}, {n2} measured\nmeasured: CPU time (noisy: +-15-25% between runs)")
        unit, form = "CPU us/request", ".1f"
    else:
        version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
        how = f"{version.stdout.strip()} cachegrind, (Ir({n2}) - Ir({n1})) / {n2 - n1}"
        print(f"load: {load}\nmeasured: {how}")
        unit, form = "instructions/request", ",.0f"
    print(f"\n{'side':<14} {unit:>20}")
    for side, figure in per_request.items():
        print(f"{side:<14} {figure:>20{form}}")
    if len(per_request) == 2:
        print(f"{'reference/raw':<14} {per_request['reference'] / per_request['raw']:>20.3f}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=SIDES, help="one side only (default: both)")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests (500)")
    parser.add_argument(
        "--requests",
        type=int,
        nargs=2,
        default=[500, 10500],
        metavar=("N1", "N2"),
        help="measured requests of a side's two runs (500 10500)",
    )
    parser.add_argument("--no-valgrind", action="store_true", help="CPU us a request (noisy)")
    # The child's own flags: the parent runs this script again as the driver.
    parser.add_argument("--drive", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--measured", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--recorded", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n1, n2 = args.requests
    if args.warmup < 0 or n1 < 1 or n2 <= n1:
        parser.error("--warmup must be >= 0, and --requests N1 N2 needs 1 <= N1 < N2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.drive is None:
            measure(args)
        else:
            result = drive(args.drive, args.warmup, args.measured, args.record, args.recorded)
            print(RESULT_PREFIX + result, flush=True)
    except BenchmarkError as error:
        print(f"webhook_cost: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
