"""How close the reference server comes to a raw ASGI app on the fastest stack, and to Prism.

The reference is started as `python -m reference_impl serve`; its answers to the two measured
requests (the story GET and the probe webhook POST) are recorded, and a raw ASGI app that replays
exactly those bytes is started on the fastest uvicorn stack installed (uvloop and httptools when
they import). When node and npx are there, Prism's mock of the spec (spec/openapi.bundled.json)
is loaded with the same requests too. wrk loads each side in turn on loopback, with the servers
and wrk pinned to different cores, the order of the sides alternating from round to round; the
script prints each side's stack, requests per second, p50/p99 latency, CPU per request, and the
medians of the per-round ratios to the raw app, and whether the targets are met.

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run (wrk missing,
a server that does not start, an answer that is not 200). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from tines_spec.bundle import bundled_openapi_path

# The project root, for the sibling modules, also when the script is run from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.loadgen import (
    BenchmarkError,
    LoadSettings,
    WrkResult,
    cpu_plan,
    measure,
    pinned,
    wrk_script,
)
from benchmarks.servers import (
    STORY_ID,
    RunningServer,
    describe_uvicorn,
    endpoints_from_profile,
    prism_available,
    prism_server,
    raw_command,
    record,
    reference_command,
    serve_raw,
    uvicorn_auto_stack,
    uvicorn_server,
    write_recorded,
)

# The targets: the reference's throughput as a share of the raw app's on the fastest stack.
TARGETS = {"story GET": 0.6, "probe webhook POST": 0.25}

# The bundled document: Prism resolves the schema files' own `$ref`s against their location and
# cannot read spec/openapi.yaml's (tines_spec.bundle says why).
SPEC = bundled_openapi_path()


@dataclass
class Comparison:
    """One endpoint over every round: each side's results, round by round."""

    results: dict[str, list[WrkResult]] = field(default_factory=dict)

    def ratio(self, side: str, baseline: str = "raw") -> float:
        """The median of the per-round ratios: each round's sides were measured back to back, so
        a load spike from elsewhere on the machine moves one round, not the figure."""
        return statistics.median(
            mine.requests_per_second / theirs.requests_per_second
            for mine, theirs in zip(self.results[side], self.results[baseline], strict=True)
        )


def median_of(results: list[WrkResult], metric: Callable[[WrkResult], float]) -> float:
    return statistics.median(metric(result) for result in results)


# ------------------------------------------------------------------------------------- the report
def report(sides: list[RunningServer], comparisons: dict[str, Comparison]) -> bool:
    """Prints the tables (medians over the rounds) and the targets; True when every target met."""
    print("stacks:")
    for side in sides:
        print(f"  {side.name:<10} {side.stack}")
    for name, comparison in comparisons.items():
        print()
        header = (
            f"{name:<20} {'req/s':>8} {'p50':>8} {'p99':>8} {'CPU/req':>9} {'vs raw':>7}"
            f" {'vs prism':>8}"
        )
        print(header)
        print("-" * len(header))
        for side in sides:
            results = comparison.results[side.name]
            vs_prism = (
                f"{comparison.ratio(side.name, 'prism'):>8.2f}"
                if "prism" in comparison.results
                else f"{'-':>8}"
            )
            print(
                f"{side.name:<20} {median_of(results, lambda r: r.requests_per_second):>8.0f}"
                f" {median_of(results, lambda r: r.p50_ms):>6.2f}ms"
                f" {median_of(results, lambda r: r.p99_ms):>6.2f}ms"
                f" {median_of(results, lambda r: r.cpu_us_per_request):>7.0f}us"
                f" {comparison.ratio(side.name):>7.2f} {vs_prism}"
            )
    print()
    all_met = True
    for name, target in TARGETS.items():
        ratio = comparisons[name].ratio("reference")
        met = ratio >= target
        all_met = all_met and met
        print(
            f"target {name}: reference/raw >= {target:.2f}: {ratio:.2f} "
            f"{'met' if met else 'NOT met'}"
        )
    return all_met


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    fastest_loop, fastest_http = uvicorn_auto_stack()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are shown (3)")
    parser.add_argument("--wrk", default="wrk", help="the wrk executable")
    parser.add_argument("--story-id", type=int, default=STORY_ID)
    parser.add_argument("--server-cpus", help="taskset CPU list for the servers (default: core 0)")
    parser.add_argument("--wrk-cpus", help="taskset CPU list for wrk (default: the other cores)")
    parser.add_argument("--no-prism", action="store_true", help="leave Prism's mock out")
    parser.add_argument(
        "--raw-loop",
        default=fastest_loop,
        help=f"uvicorn --loop for the raw app (default: the fastest installed, {fastest_loop})",
    )
    parser.add_argument(
        "--raw-http",
        default=fastest_http,
        help=f"uvicorn --http for the raw app (default: the fastest installed, {fastest_http})",
    )
    parser.add_argument("--serve-raw", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.threads, args.connections, args.duration, args.rounds) < 1 or args.warmup < 0:
        parser.error("--threads, --connections, --duration, --rounds must be >= 1, --warmup >= 0")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk's rule)")
    if (args.server_cpus is None) != (args.wrk_cpus is None):
        parser.error("give both --server-cpus and --wrk-cpus, or neither")
    return args


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
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s after {args.warmup} s "
            f"of warm-up, {args.rounds} round(s); servers on CPU {server_cpus or 'any'}, "
            f"wrk on CPU {wrk_cpus or 'any'}; load average before: "
            + " ".join(f"{load:.2f}" for load in os.getloadavg()),
            flush=True,
        )
        reference = stack.enter_context(
            uvicorn_server(
                "reference",
                pinned(reference_command(tmp, args.connections), server_cpus),
                env,
                tmp / "reference.log",
                "not logged by the server; uvicorn's auto would pick "
                + describe_uvicorn(*uvicorn_auto_stack()),
            )
        )
        endpoints = endpoints_from_profile(tmp / "profile.yaml", api_key, args.story_id)
        recorded = [record(reference.base_url, e, "the reference") for e in endpoints]
        write_recorded(tmp / "recorded.json", recorded)
        raw = stack.enter_context(
            uvicorn_server(
                "raw",
                pinned(
                    raw_command(tmp / "recorded.json", args.raw_loop, args.raw_http), server_cpus
                ),
                env,
                tmp / "raw.log",
                describe_uvicorn(args.raw_loop, args.raw_http) + " (a bare ASGI callable)",
            )
        )
        sides = [reference, raw]
        if not args.no_prism:
            why_not = prism_available()
            if why_not is not None:
                print(f"note: no Prism run ({why_not})")
            else:
                sides.append(
                    stack.enter_context(
                        prism_server(SPEC, server_cpus, tmp / "prism.log", endpoints[1].path)
                    )
                )
                for endpoint in endpoints:
                    record(sides[-1].base_url, endpoint, "Prism")
        # The scripts hold the API key and the webhook secret; the temporary directory is 0700.
        scripts = {}
        for index, endpoint in enumerate(endpoints):
            scripts[endpoint.name] = tmp / f"endpoint{index}.lua"
            scripts[endpoint.name].write_text(wrk_script(endpoint, 200), encoding="utf-8")
        comparisons = {e.name: Comparison() for e in endpoints}
        # Every side stays up (an idle one costs nothing) and is loaded one at a time, back to
        # back per endpoint and round; the order alternates so that none always goes first.
        for round_number in range(1, args.rounds + 1):
            order = sides if round_number % 2 else list(reversed(sides))
            for endpoint in endpoints:
                figures = []
                for side in order:
                    result = measure(
                        settings, side.base_url, scripts[endpoint.name], side.process.pid
                    )
                    comparisons[endpoint.name].results.setdefault(side.name, []).append(result)
                    figures.append(f"{side.name} {result.requests_per_second:.0f}")
                print(
                    f"round {round_number}, {endpoint.name}: " + ", ".join(figures) + " req/s",
                    flush=True,
                )
        print()
        return report(sides, comparisons)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_raw is not None:
        return serve_raw(args.serve_raw, args.raw_loop, args.raw_http)
    try:
        return 0 if benchmark(args) else 1
    except BenchmarkError as error:
        print(f"reference_throughput: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
