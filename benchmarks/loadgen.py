"""Driving wrk and reading what a server spent: the load side the throughput benchmarks share.

wrk is driven by a Lua script that sets the request (so the API key and the webhook secret never
appear on a command line), counts answers with an unexpected status, and prints its summary as one
JSON line; its own text report is not parsed. A server's CPU time is read from /proc for its
whole process tree (Prism runs under npx as a child process), before and after the measured run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class BenchmarkError(Exception):
    """The benchmark cannot run or its measurement is not valid; the message is one line."""


@dataclass(frozen=True)
class Endpoint:
    """One measured request: what wrk sends."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float  # the server's process tree, user + system, over the measured run

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / self.requests * 1e6


@dataclass(frozen=True)
class LoadSettings:
    wrk: str
    threads: int
    connections: int
    duration: int
    warmup: int
    wrk_cpus: str | None


def pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


def cpu_plan(server_cpus: str | None, wrk_cpus: str | None) -> tuple[str | None, str | None]:
    """Servers and wrk on different cores when taskset and two cores are there; else unpinned."""
    if server_cpus is not None and wrk_cpus is not None:
        if shutil.which("taskset") is None:
            raise BenchmarkError("--server-cpus/--wrk-cpus need taskset, which is not installed")
        return server_cpus, wrk_cpus
    cores = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cores) < 2:
        print("note: not pinning (needs taskset and two cores); wrk may share the server's core")
        return None, None
    return str(cores[0]), ",".join(str(c) for c in cores[1:])


# ------------------------------------------------------------------------------ CPU accounting
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    return _stat_fields_at(f"/proc/{pid}/stat")


def _stat_fields_at(path: str) -> list[str] | None:
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its live descendants, every thread included."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        todo += children.get(pid, [])
    return total / _TICKS


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU of each thread of a process, by thread ID (the main thread's is pid)."""
    out: dict[int, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        fields = _stat_fields_at(f"/proc/{pid}/task/{tid}/stat")
        if fields is not None:
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


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


def parse_wrk_done_line(output: str) -> dict[str, int]:
    """The JSON line the script's `done` prints."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            parsed: dict[str, int] = json.loads(line)
            return parsed
    raise BenchmarkError("wrk printed no result line; is the Lua script's done() running?")


def run_wrk(
    settings: LoadSettings, base_url: str, script: Path, seconds: int, server_pid: int
) -> WrkResult:
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
    cpu_before = tree_cpu_seconds(server_pid)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    cpu_after = tree_cpu_seconds(server_pid)
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
        cpu_seconds=cpu_after - cpu_before,
    )


def measure(settings: LoadSettings, base_url: str, script: Path, server_pid: int) -> WrkResult:
    if settings.warmup:
        run_wrk(settings, base_url, script, settings.warmup, server_pid)
    return run_wrk(settings, base_url, script, settings.duration, server_pid)
