"""The servers the throughput benchmarks load: the reference, a raw ASGI app, and Prism's mock.

Each side is started as its own process (pinned to the servers' core), announces where it
listens, and says which stack serves it: server, event loop and HTTP parser with their versions,
so that a ratio is never read without knowing what it compares.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import yaml

from benchmarks.loadgen import BenchmarkError, Endpoint, pinned

READY_LINE = re.compile(r"listening on (http://\S+)")
# The reference logs its stack at start-up; a server that does not is described from outside.
SERVING_LINE = re.compile(r"serving on (.+)")
READY_TIMEOUT_SECONDS = 30.0
# npx may have to fetch Prism on its first run, and Prism takes a while to read the spec.
PRISM_READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
PRISM_PACKAGE = "@stoplight/prism-cli@5"
STORY_ID = 7981
PROBE_BODY = b'{"exit": {"n": 1}, "delay_seconds": 0}'
# uvicorn adds these to every response itself; a replayed copy would send them twice.
SERVER_ADDED_HEADERS = frozenset({b"date", b"server"})


@dataclass(frozen=True)
class RecordedResponse:
    method: str
    path: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class RunningServer:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    stack: str


# --------------------------------------------------------------------------------- the stacks
def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def uvicorn_auto_stack() -> tuple[str, str]:
    """The loop and HTTP implementation uvicorn's "auto" picks in this interpreter.

    The same rule as uvicorn.loops.auto and uvicorn.protocols.http.auto: uvloop and httptools
    when they import, else asyncio's loop and h11. The reference runs under this interpreter with
    uvicorn's defaults, so this is its stack.
    """
    return (
        "uvloop" if _installed("uvloop") else "asyncio",
        "httptools" if _installed("httptools") else "h11",
    )


def describe_uvicorn(loop: str, http: str) -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    loop_text = f"asyncio ({python})" if loop == "asyncio" else f"{loop} {_version(loop)}"
    return f"uvicorn {_version('uvicorn')}, loop {loop_text}, parser {http} {_version(http)}"


# ------------------------------------------------------------------------------ the raw ASGI app
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


def serve_raw(recorded_file: Path, loop: str, http: str) -> int:
    """The raw server's process: uvicorn on the given loop and parser, announcing readiness."""
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
    # TCP, and accepted sockets inherit it from this one. A socket made with proto 0 leaves Nagle
    # on, and a response written as headers then body waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    ready_line = f"raw-asgi listening on http://127.0.0.1:{sock.getsockname()[1]}"

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(ready_line, flush=True)

    # The reference's settings (one worker, no access log, lifespan on) on the chosen stack.
    config = uvicorn.Config(
        raw_asgi_app(responses),
        loop=loop,
        http=http,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    # The reference's collector settings too, so that the two processes differ in their app
    # alone. For the raw app they change nothing measurable (cachegrind: 145.8k instructions a
    # request either way); for the reference see reference_impl/collector.py.
    from reference_impl.collector import tune_for_serving

    tune_for_serving()
    AnnouncingServer(config).run(sockets=[sock])
    return 0


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


def record(base_url: str, endpoint: Endpoint, who: str) -> RecordedResponse:
    """A server's answer to one request, with the headers uvicorn adds itself removed."""
    response = httpx.request(
        endpoint.method,
        base_url + endpoint.path,
        headers=endpoint.headers,
        content=endpoint.body or None,
        timeout=30.0,
    )
    if response.status_code != 200:
        raise BenchmarkError(f"{who} answered {endpoint.name} with {response.status_code}")
    return RecordedResponse(
        method=endpoint.method,
        path=endpoint.path,
        status=response.status_code,
        headers=[(k, v) for k, v in response.headers.raw if k.lower() not in SERVER_ADDED_HEADERS],
        body=response.content,
    )


# ------------------------------------------------------------------------------ server processes
def _wait_for_ready_line(stream: IO[bytes], process: subprocess.Popen[bytes], what: str) -> str:
    """The base URL the server prints once it accepts connections, within a deadline."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                continue
            line = stream.readline().decode("utf-8", "replace")
            if not line:
                raise BenchmarkError(
                    f"{what} exited with code {process.wait()} before it was ready"
                )
            found = READY_LINE.search(line)
            if found:
                return found.group(1)
    raise BenchmarkError(f"{what} printed no ready line within {READY_TIMEOUT_SECONDS:.0f} s")


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    """For a server with no ready line of its own (Prism's goes to a log it may not write)."""
    deadline = time.monotonic() + PRISM_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(
                f"{what} exited with code {process.returncode} before it was ready"
            )
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)  # a readiness poll with a deadline, not synchronisation
    raise BenchmarkError(f"{what} did not answer within {PRISM_READY_TIMEOUT_SECONDS:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _last_words(log_path: Path) -> str:
    last = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return last[-1] if last else "(none)"


@contextmanager
def uvicorn_server(
    name: str, command: list[str], env: dict[str, str], log_path: Path, stack: str
) -> Iterator[RunningServer]:
    """A server that prints `... listening on URL` on stdout once it accepts connections.

    `stack` describes it unless its log, by then, says `serving on STACK` itself."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        try:
            assert process.stdout is not None
            try:
                base_url = _wait_for_ready_line(process.stdout, process, name)
            except BenchmarkError as error:
                raise BenchmarkError(f"{error}; its last words: {_last_words(log_path)}") from None
            announced = SERVING_LINE.search(log_path.read_text(encoding="utf-8", errors="replace"))
            if announced is not None:
                stack = announced.group(1) + " (as the server logged it)"
            yield RunningServer(name, process, base_url, stack)
        finally:
            _stop(process)


def prism_available() -> str | None:
    """Why Prism cannot run here, or None when node and npx are on the PATH."""
    missing = [tool for tool in ("node", "npx") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found" if missing else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def prism_server(
    spec: Path, cpus: str | None, log_path: Path, probe_path: str
) -> Iterator[RunningServer]:
    """Prism's mock of the spec: what a vendor would otherwise stand up to try a client."""
    npx = ["npx", "--yes", PRISM_PACKAGE]
    version = subprocess.run(
        [*npx, "--version"], capture_output=True, text=True, check=False, timeout=300
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    if version.returncode != 0:
        raise BenchmarkError(f"npx could not run {PRISM_PACKAGE}: {version.stderr.strip()}")
    stack = f"Prism {version.stdout.strip()} mock (static examples), node {node.stdout.strip()}"
    port = _free_port()
    command = [*npx, "mock", str(spec), "-h", "127.0.0.1", "-p", str(port), "-v", "error"]
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        # Its own session, so that stopping it reaches node under npx's shell.
        process = subprocess.Popen(
            pinned(command, cpus), stdout=log, stderr=log, start_new_session=True
        )
        try:
            try:
                _wait_until_answering(base_url + probe_path, process, "Prism")
            except BenchmarkError as error:
                raise BenchmarkError(f"{error}; its last words: {_last_words(log_path)}") from None
            yield RunningServer("prism", process, base_url, stack)
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def raw_command(recorded_file: Path, loop: str, http: str) -> list[str]:
    script = Path(__file__).with_name("reference_throughput.py")
    return [
        sys.executable,
        str(script),
        "--serve-raw",
        str(recorded_file),
        "--raw-loop",
        loop,
        "--raw-http",
        http,
    ]


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
            # Accept named: with none, Prism's mock picks the spec's text/plain answer and cannot
            # render its example object as text (a 500). The reference answers JSON either way.
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            body=PROBE_BODY,
        ),
    ]


def reference_command(tmp: Path, connections: int) -> list[str]:
    return [
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
        # which can be a while after its answer went out.
        "--max-concurrent-runs",
        str(connections * 32),
    ]
