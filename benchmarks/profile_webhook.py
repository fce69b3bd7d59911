"""Where the reference's time goes on the probe webhook POST: py-spy on the server under wrk load.

Starts the reference as reference_throughput.py does (pinned to the servers' core), loads the
probe webhook POST with wrk from the other core, and samples the server with `py-spy record` for
the same seconds. By default it counts only the samples of the thread that holds the GIL: that is
where the Python time goes (a thread blocked on a queue, or in SQLite's C code, releases it; the
CPU of each thread, read from /proc, is printed beside it). It prints the samples per thread, the
self time by source file (which layer costs what), and the functions with the most self and
inclusive time; `--out` keeps the raw collapsed stacks (`py-spy record --format raw`).

    python benchmarks/profile_webhook.py [--seconds 10] [--out webhook.txt]

py-spy samples from outside the process, so the server runs at full speed apart from the
sampling itself (at `--rate` per second); it needs ptrace rights (root, or CAP_SYS_PTRACE).
Exit code 2 when it cannot run (no wrk, no py-spy, a server that does not start).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loadgen import (
    BenchmarkError,
    LoadSettings,
    cpu_plan,
    pinned,
    run_wrk,
    thread_cpu_seconds,
    wrk_script,
)
from benchmarks.servers import (
    STORY_ID,
    describe_uvicorn,
    endpoints_from_profile,
    record,
    reference_command,
    uvicorn_auto_stack,
    uvicorn_server,
)

TOP = 25


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchmarkError("py-spy not found (pip install py-spy; it is in the dev extra)")
    return found


def frame_file(frame: str) -> str:
    """`function (path/to/file.py:12)` -> `path/to/file.py`."""
    inside = frame.rpartition("(")[2].rstrip(")")
    return inside.rpartition(":")[0] or inside


def summarise(raw: str) -> None:
    """Prints what the collapsed stacks say; each line is `frame;frame;...;leaf count`."""
    per_thread: Counter[str] = Counter()
    self_by_file: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        if not frames:
            continue
        total += count
        per_thread[thread] += count
        self_by_file[frame_file(frames[-1])] += count
        self_by_function[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        raise BenchmarkError("py-spy recorded no sample of the server")

    def table(title: str, counts: Counter[str], limit: int) -> None:
        print(f"\n{title} (share of {total} samples)")
        for name, count in counts.most_common(limit):
            print(f"  {100 * count / total:5.1f}%  {name}")

    table("samples by thread", per_thread, 10)
    table("self time by file", self_by_file, TOP)
    table("self time by function", self_by_function, TOP)
    table("inclusive time by function", inclusive, TOP)


def print_thread_cpu(
    pid: int, before: dict[int, float], after: dict[int, float], requests: int
) -> None:
    """CPU per request by thread, from /proc: py-spy's GIL view cannot see SQLite's C code, which
    runs with the GIL released but on the same core."""
    print("CPU per request by thread (from /proc; the main thread is the event loop):")
    for tid, seconds in sorted(after.items(), key=lambda item: item[0] != pid):
        spent = seconds - before.get(tid, 0.0)
        if spent > 0:
            name = "main" if tid == pid else f"thread {tid}"
            print(f"  {name:<14} {spent / requests * 1e6:7.0f} us")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds sampled (default 10)")
    parser.add_argument("--rate", type=int, default=200, help="samples a second (default 200)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument(
        "--all-samples",
        action="store_true",
        help="also count threads that do not hold the GIL (waits in C, such as a blocking get)",
    )
    parser.add_argument("--out", type=Path, help="keep py-spy's raw collapsed stacks here")
    return parser.parse_args(argv)


def profile(args: argparse.Namespace) -> None:
    wrk = shutil.which(args.wrk)
    if wrk is None:
        raise BenchmarkError(f"{args.wrk} not found; install wrk (Debian: apt-get install wrk)")
    spy = py_spy()
    server_cpus, wrk_cpus = cpu_plan(None, None)
    settings = LoadSettings(wrk, 1, args.connections, args.seconds, 0, wrk_cpus)
    api_key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="profile-webhook-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "TINES_API_KEY": api_key}
        with uvicorn_server(
            "reference",
            pinned(reference_command(tmp, args.connections), server_cpus),
            env,
            tmp / "reference.log",
            describe_uvicorn(*uvicorn_auto_stack()),
        ) as reference:
            print(f"reference: {reference.stack}")
            endpoint = endpoints_from_profile(tmp / "profile.yaml", api_key, STORY_ID)[1]
            record(reference.base_url, endpoint, "the reference")
            script = tmp / "webhook.lua"
            script.write_text(wrk_script(endpoint, 200), encoding="utf-8")
            run_wrk(settings, reference.base_url, script, 2, reference.process.pid)  # warm-up
            raw_path = args.out or tmp / "webhook.raw.txt"
            spy_command = pinned(
                [
                    spy,
                    "record",
                    "--pid",
                    str(reference.process.pid),
                    "--duration",
                    str(args.seconds),
                    "--rate",
                    str(args.rate),
                    "--format",
                    "raw",
                    "--threads",
                    *(() if args.all_samples else ("--gil",)),
                    "--output",
                    str(raw_path),
                ],
                wrk_cpus,
            )
            outcome: list[subprocess.CompletedProcess[str]] = []
            sampler = threading.Thread(
                target=lambda: outcome.append(
                    subprocess.run(spy_command, capture_output=True, text=True, check=False)
                )
            )
            sampler.start()
            pid = reference.process.pid
            threads_before = thread_cpu_seconds(pid)
            result = run_wrk(settings, reference.base_url, script, args.seconds, pid)
            threads_after = thread_cpu_seconds(pid)
            sampler.join()
            if outcome[0].returncode != 0:
                raise BenchmarkError(f"py-spy failed: {outcome[0].stderr.strip()[-300:]}")
            print(
                f"under wrk -t1 -c{args.connections}: {result.requests_per_second:.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, CPU {result.cpu_us_per_request:.0f} us/request "
                f"(sampled at {args.rate}/s, which slows it)"
            )
            print_thread_cpu(pid, threads_before, threads_after, result.requests)
            summarise(raw_path.read_text(encoding="utf-8"))
            if args.out:
                print(f"\nraw collapsed stacks: {args.out}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        profile(args)
    except BenchmarkError as error:
        print(f"profile_webhook: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
