"""How close the reference server comes to a bare ASGI app on the same uvicorn: issue 3's figure.

The reference is started as `python -m reference_impl serve`; its answers to the two measured
requests (the story GET and the probe webhook POST) are recorded, and a raw ASGI app that replays
exactly those bytes is then started under the same uvicorn settings. wrk loads each in turn on
loopback, with the server and wrk pinned to different cores, and the script prints requests per
second and p50/p99 latency for both, their ratio, and whether the targets are met.

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run (wrk missing,
a server that does not start, an answer that is not 200). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

# Issue 3's targets: the reference's throughput as a share of the raw app's, per endpoint.
TARGETS = {"story GET": 0.45, "probe webhook POST": 0.2}

STORY_ID = 7981
PROBE_BODY = b'{"exit": {"n": 1}, "delay_seconds": 0}'
READY_LINE = re.compile(r"listening on (http://\S+)")
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
# uvicorn adds these to every response itself; a replayed copy would send them twice.
SERVER_ADDED_HEADERS = frozenset({b"date", b"server"})


class BenchmarkError(Exception):
    """The benchmark cannot run or its measurement is not valid; the message is one line."""


@dataclass(frozen=True)
class Endpoint:
    """One measured request: what wrk sends, and the answer the reference gave to it."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class RecordedResponse:
    method: str
    path: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds


# ----------------------------------------------------------------------------- the raw ASGI app


def raw_asgi_app(
    responses: list[RecordedResponse],
) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    """A plain ASGI app that answers each recorded request with the recorded bytes, and no more.

    It reads the whole request body, as the reference must, and sends the response in one
    message: the least work an ASGI app can do for the same exchange.
    """
    by_route = {(r.method, r.path): r for r in responses}
    not_found = RecordedResponse("", "", 404, [(b"content-length", b"0")], b"")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more_body = True
        while more_body:
            message = await receive()
            more_body = message.get("more_body", False)
        answer = by_route.get((scope["method"], scope["path"]), not_found)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    return app


def serve_raw(recorded_file: Path) -> int:
    """The raw server's process: uvicorn with the reference's settings, announcing readiness."""
    import socket

    import uvicorn

    responses = [
        RecordedResponse(
            method=item["method"],
            path=item["path"],
            status=item["status"],
            headers=[(bytes.fromhex(k), bytes.fromhex(v)) for k, v in item["headers"]],
            body=bytes.fromhex(item["body"]),
        )
        for item in json.loads(recorded_file.read_text(encoding="utf-8"))
    ]
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    # TCP, and accepted sockets inherit it from this one. uvicorn's own bind (loop.create_server
    # with host and port) gets it right; a socket made with proto 0 leaves Nagle on, and a
    # response written as headers then body then waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    ready_line = f"raw-asgi listening on http://127.0.0.1:{sock.getsockname()[1]}"

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(ready_line, flush=True)

    # The settings reference_impl/cli.py gives uvicorn.Config: one worker, uvicorn's default loop
    # and HTTP implementation, no access log, lifespan on.
    config = uvicorn.Config(
        raw_asgi_app(responses), log_config=None, access_log=False, lifespan="on"
    )
    AnnouncingServer(config).run(sockets=[sock])
    return 0


# ------------------------------------------------------------------------------ server processes


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    base_url: str


def pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


def wait_for_ready_line(process: subprocess.Popen[bytes], what: str) -> str:
    """The base URL the server prints once it accepts connections, within a deadline."""
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            line = process.stdout.readline().decode("utf-8", "replace")
            if not line:
                raise BenchmarkError(
                    f"{what} exited with code {process.wait()} before it was ready"
                )
            found = READY_LINE.search(line)
            if found:
                return found.group(1)
    raise BenchmarkError(f"{what} printed no ready line within {READY_TIMEOUT_SECONDS:.0f} s")


@contextmanager
def server(
    command: list[str], env: dict[str, str], log_path: Path, what: str
) -> Iterator[RunningServer]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        try:
            try:
                base_url = wait_for_ready_line(process, what)
            except BenchmarkError as error:
                last = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                raise BenchmarkError(
                    f"{error}; its last words: {last[-1] if last else '(none)'}"
                ) from None
            yield RunningServer(process, base_url)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ----------------------------------------------------------------------------------------- wrk


def lua_string(text: str) -> str:
    """A Lua string literal for any text: every byte outside [A-Za-z0-9] as a decimal escape."""
    return (
        '"'
        + "".join(
            chr(b) if chr(b).isascii() and chr(b).isalnum() else f"\\{b:03d}"
            for b in text.encode("utf-8")
        )
        + '"'
    )


def wrk_script(endpoint: Endpoint, expected_status: int) -> str:
    """Sets the request (path and headers stay off wrk's command line: they hold secrets), counts
    answers with another status, and prints the result as one JSON line in `done`."""
    header_lines = "\n".join(
        f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
        for name, value in endpoint.headers.items()
    )
    return f"""
wrk.method = {lua_string(endpoint.method)}
wrk.path = {lua_string(endpoint.path)}
wrk.body = {lua_string(endpoint.body.decode("utf-8"))}
{header_lines}

local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0; unexpected_example = 0 end
function response(status, headers, body)
  if status ~= {expected_status} then
    unexpected = unexpected + 1
    unexpected_example = status
  end
end
function done(summary, latency, requests)
  local unexpected, example = 0, 0
  for _, thread in ipairs(threads) do
    unexpected = unexpected + thread:get("unexpected")
    if thread:get("unexpected_example") ~= 0 then example = thread:get("unexpected_example") end
  end
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "status": %d, "unexpected_status": %d, ' ..
    '"unexpected_example": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status, unexpected, example))
end
"""


@dataclass(frozen=True)
class LoadSettings:
    wrk: str
    threads: int
    connections: int
    duration: int
    warmup: int
    wrk_cpus: str | None


def parse_wrk_done_line(output: str) -> dict[str, int]:
    """The JSON line the script's `done` prints: wrk's own text report is not parsed."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            parsed: dict[str, int] = json.loads(line)
            return parsed
    raise BenchmarkError("wrk printed no result line; is the Lua script's done() running?")


def run_wrk(settings: LoadSettings, base_url: str, script: Path, seconds: int) -> WrkResult:
    command = pinned(
        [
            settings.wrk,
            f"-t{settings.threads}",
            f"-c{settings.connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base_url,
        ],
        settings.wrk_cpus,
    )
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BenchmarkError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    result = parse_wrk_done_line(completed.stdout)
    failures = {
        k: result[k] for k in ("connect", "read", "write", "timeout", "status") if result[k]
    }
    if result["unexpected_status"]:
        failures[f"answers with status {result['unexpected_example']} (or another not 200)"] = (
            result["unexpected_status"]
        )
    if failures:
        raise BenchmarkError(f"wrk saw errors against {base_url}: {failures}")
    if result["requests"] == 0:
        raise BenchmarkError(f"wrk completed no request against {base_url}")
    return WrkResult(
        requests=result["requests"],
        duration_seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1e3,
        p99_ms=result["p99_us"] / 1e3,
    )


def measure(settings: LoadSettings, base_url: str, script: Path) -> WrkResult:
    if settings.warmup:
        run_wrk(settings, base_url, script, settings.warmup)
    return run_wrk(settings, base_url, script, settings.duration)


@dataclass(frozen=True)
class Comparison:
    """One endpoint over every round: both servers' results and the ratio of each round."""

    reference: list[WrkResult]
    raw: list[WrkResult]

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios: each pair was measured back to back, so a load
        spike from elsewhere on the machine moves one round, not the figure."""
        return statistics.median(
            ref.requests_per_second / raw.requests_per_second
            for ref, raw in zip(self.reference, self.raw, strict=True)
        )


def median_of(results: list[WrkResult], metric: Callable[[WrkResult], float]) -> float:
    return statistics.median(metric(result) for result in results)


# ------------------------------------------------------------------------------------ recording


def record(base_url: str, endpoint: Endpoint) -> RecordedResponse:
    """The reference's answer to one request, with the headers uvicorn adds itself removed."""
    response = httpx.request(
        endpoint.method,
        base_url + endpoint.path,
        headers=endpoint.headers,
        content=endpoint.body or None,
        timeout=30.0,
    )
    if response.status_code != 200:
        raise BenchmarkError(f"the reference answered {endpoint.name} with {response.status_code}")
    return RecordedResponse(
        method=endpoint.method,
        path=endpoint.path,
        status=response.status_code,
        headers=[(k, v) for k, v in response.headers.raw if k.lower() not in SERVER_ADDED_HEADERS],
        body=response.content,
    )


def endpoints_from_profile(profile_path: Path, api_key: str, story_id: int) -> list[Endpoint]:
    profile = yaml.safe_load(profile_path.read_text(encoding="utf-8"))
    if story_id not in profile["stories"]["ids"]:
        raise BenchmarkError(f"the reference does not serve story {story_id}")
    probe = urlsplit(profile["webhooks"]["probe_url"])
    return [
        Endpoint(
            name="story GET",
            method="GET",
            path=f"/api/v1/stories/{story_id}",
            headers={"Authorization": f"Bearer {api_key}"},
            body=b"",
        ),
        Endpoint(
            name="probe webhook POST",
            method="POST",
            path=probe.path,
            headers={"Content-Type": "application/json"},
            body=PROBE_BODY,
        ),
    ]


# ------------------------------------------------------------------------------------- the report


def report(comparisons: dict[str, Comparison]) -> bool:
    """Prints the table (medians over the rounds) and the targets; True when every target is met."""
    header = (
        f"{'endpoint':<20} {'ref req/s':>10} {'raw req/s':>10} {'ratio':>6} "
        f"{'ref p50':>8} {'ref p99':>8} {'raw p50':>8} {'raw p99':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, comparison in comparisons.items():
        ref, raw = comparison.reference, comparison.raw
        cells = [
            f"{median_of(ref, lambda r: r.requests_per_second):>10.0f}",
            f"{median_of(raw, lambda r: r.requests_per_second):>10.0f}",
            f"{comparison.ratio:>6.2f}",
            *(
                f"{median_of(results, metric):>6.2f}ms"
                for results in (ref, raw)
                for metric in (lambda r: r.p50_ms, lambda r: r.p99_ms)
            ),
        ]
        print(f"{name:<20} " + " ".join(cells))
    print()
    all_met = True
    for name, target in TARGETS.items():
        ratio = comparisons[name].ratio
        met = ratio >= target
        all_met = all_met and met
        print(f"target {name}: ratio >= {target:.2f}: {ratio:.2f} {'met' if met else 'NOT met'}")
    return all_met


# ------------------------------------------------------------------------------------------ main


def cpu_plan(server_cpus: str | None, wrk_cpus: str | None) -> tuple[str | None, str | None]:
    """Server and wrk on different cores when taskset and two cores are there; else unpinned."""
    if server_cpus is not None and wrk_cpus is not None:
        if shutil.which("taskset") is None:
            raise BenchmarkError("--server-cpus/--wrk-cpus need taskset, which is not installed")
        return server_cpus, wrk_cpus
    cores = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cores) < 2:
        print("note: not pinning (needs taskset and two cores); wrk may share the server's core")
        return None, None
    return str(cores[0]), ",".join(str(c) for c in cores[1:])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are shown (3)")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--story-id", type=int, default=STORY_ID)
    parser.add_argument("--server-cpus", help="taskset CPU list for the servers (default: core 0)")
    parser.add_argument("--wrk-cpus", help="taskset CPU list for wrk (default: the other cores)")
    parser.add_argument("--serve-raw", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.threads, args.connections, args.duration, args.rounds) < 1 or args.warmup < 0:
        parser.error("--threads, --connections, --duration, --rounds must be >= 1, --warmup >= 0")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk's rule)")
    if (args.server_cpus is None) != (args.wrk_cpus is None):
        parser.error("give both --server-cpus and --wrk-cpus, or neither")
    return args


def write_recorded(path: Path, recorded: list[RecordedResponse]) -> None:
    """Bytes as hex, so that any header or body survives the trip to the raw server's process."""
    path.write_text(
        json.dumps(
            [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "headers": [(k.hex(), v.hex()) for k, v in r.headers],
                    "body": r.body.hex(),
                }
                for r in recorded
            ]
        ),
        encoding="utf-8",
    )


def benchmark(args: argparse.Namespace) -> bool:
    wrk = shutil.which(args.wrk)
    if wrk is None:
        raise BenchmarkError(f"{args.wrk} not found; install wrk (Debian: apt-get install wrk)")
    server_cpus, wrk_cpus = cpu_plan(args.server_cpus, args.wrk_cpus)
    settings = LoadSettings(
        wrk, args.threads, args.connections, args.duration, args.warmup, wrk_cpus
    )
    # A throwaway key: it reaches the reference through its environment and wrk through a
    # private script file, never a command line or this script's output.
    api_key = secrets.token_urlsafe(24)
    with (
        tempfile.TemporaryDirectory(prefix="reference-throughput-") as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        env = {**os.environ, "TINES_API_KEY": api_key}
        reference_command = [
            sys.executable,
            "-m",
            "reference_impl",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp / "bench.sqlite3"),
            "--profile-out",
            str(tmp / "profile.yaml"),
            # Far more slots than connections, so each POST takes the 200 path, not the 201 queue:
            # a run holds its slot until every branch has finished and its events are written,
            # which can be a while after its answer went out, so twice the connections was seen
            # to be exceeded under load.
            "--max-concurrent-runs",
            str(args.connections * 32),
        ]
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s after {args.warmup} s "
            f"of warm-up, {args.rounds} round(s); servers on CPU {server_cpus or 'any'}, "
            f"wrk on CPU {wrk_cpus or 'any'}; load average before: "
            + " ".join(f"{load:.2f}" for load in os.getloadavg())
        )
        reference = stack.enter_context(
            server(pinned(reference_command, server_cpus), env, tmp / "reference.log", "reference")
        )
        endpoints = endpoints_from_profile(tmp / "profile.yaml", api_key, args.story_id)
        recorded = [record(reference.base_url, endpoint) for endpoint in endpoints]
        write_recorded(tmp / "recorded.json", recorded)
        raw_command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-raw",
            str(tmp / "recorded.json"),
        ]
        raw = stack.enter_context(
            server(pinned(raw_command, server_cpus), env, tmp / "raw.log", "the raw app")
        )
        # The scripts hold the API key and the webhook secret; the temporary directory is 0700.
        scripts = {}
        for index, endpoint in enumerate(endpoints):
            scripts[endpoint.name] = tmp / f"endpoint{index}.lua"
            scripts[endpoint.name].write_text(wrk_script(endpoint, 200), encoding="utf-8")
        comparisons = {e.name: Comparison([], []) for e in endpoints}
        # Both servers stay up (the idle one costs nothing) and are loaded one at a time, back to
        # back per endpoint and round, so that both see the same machine.
        for round_number in range(1, args.rounds + 1):
            for endpoint in endpoints:
                ref_result = measure(settings, reference.base_url, scripts[endpoint.name])
                raw_result = measure(settings, raw.base_url, scripts[endpoint.name])
                comparisons[endpoint.name].reference.append(ref_result)
                comparisons[endpoint.name].raw.append(raw_result)
                print(
                    f"round {round_number}, {endpoint.name}: reference "
                    f"{ref_result.requests_per_second:.0f} req/s, raw "
                    f"{raw_result.requests_per_second:.0f} req/s"
                )
    print()
    return report(comparisons)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_raw is not None:
        return serve_raw(args.serve_raw)
    try:
        return 0 if benchmark(args) else 1
    except BenchmarkError as error:
        print(f"reference_throughput: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
