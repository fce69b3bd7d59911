"""`ServerConfig`: the reference server's settings, from the command line and the environment.

The API key may come from `--api-key` or `TINES_API_KEY`; the environment is the safer of the two
(a command line is visible to every user of the machine), and `--profile-out` names the variable,
never the key.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["API_KEY_ENV", "ConfigError", "ServerConfig", "build_parser", "parse_config"]

API_KEY_ENV = "TINES_API_KEY"
DEFAULT_DB = "./data/reference.sqlite3"
MIB = 1024 * 1024
# h11's own default for the request line and headers together.
DEFAULT_MAX_HEADER_BYTES = 16 * 1024


class ConfigError(ValueError):
    """A setting that cannot be used; `str()` is the one line the CLI prints."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    db: str = DEFAULT_DB
    exit_timeout: float = 30.0
    max_concurrent_runs: int = 8
    api_key: str | None = None
    fixtures: Path | None = None
    public_url: str | None = None
    max_body_bytes: int = MIB
    profile_out: Path | None = None
    sqlite_synchronous: str = "NORMAL"
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keep_alive_timeout: int = 5
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    graceful_shutdown_timeout: int | None = None

    @property
    def shutdown_grace(self) -> int:
        """Seconds SIGTERM waits for open requests: by default, long enough for a run's answer."""
        if self.graceful_shutdown_timeout is not None:
            return self.graceful_shutdown_timeout
        return math.ceil(self.exit_timeout) + 5

    def __repr__(self) -> str:
        # The dataclass repr would print the API key into any log line or traceback that shows it.
        key = "***" if self.api_key else None
        return (
            f"ServerConfig(host={self.host!r}, port={self.port}, db={self.db!r}, "
            f"exit_timeout={self.exit_timeout}, max_concurrent_runs={self.max_concurrent_runs}, "
            f"api_key={key}, fixtures={self.fixtures!r}, public_url={self.public_url!r}, "
            f"max_body_bytes={self.max_body_bytes}, profile_out={self.profile_out!r}, "
            f"sqlite_synchronous={self.sqlite_synchronous!r}, "
            f"header_timeout={self.header_timeout}, body_timeout={self.body_timeout}, "
            f"keep_alive_timeout={self.keep_alive_timeout}, "
            f"max_header_bytes={self.max_header_bytes}, "
            f"graceful_shutdown_timeout={self.graceful_shutdown_timeout})"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reference-impl",
        description="The reference server of the Tines webhook and Stories Get contract.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the built-in (or given) stories over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite file, or :memory: (default {DEFAULT_DB})"
    )
    serve.add_argument(
        "--exit-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="answer 504 when no exit action has emitted by then; the run goes on (30)",
    )
    serve.add_argument(
        "--max-concurrent-runs",
        type=int,
        default=8,
        metavar="N",
        help="runs per story at once; beyond, 201 and the run is queued, never dropped (8)",
    )
    serve.add_argument("--api-key", default=None, help=f"or set {API_KEY_ENV}")
    serve.add_argument(
        "--fixtures",
        type=Path,
        default=None,
        metavar="FILE",
        help="YAML file of stories to serve instead of the built-in ones",
    )
    serve.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help=(
            "base of absolute URLs (response URLs); default: the request's scheme and Host"
            " (X-Forwarded-* headers are not read: behind a proxy, set this)"
        ),
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=MIB,
        metavar="N",
        help=f"larger request bodies get 413 ({MIB})",
    )
    serve.add_argument(
        "--profile-out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a target profile that points the suite at this server",
    )
    serve.add_argument(
        "--sqlite-synchronous",
        choices=("NORMAL", "FULL"),
        default="NORMAL",
        help=(
            "NORMAL (default): a committed run survives the server crashing or being killed; "
            "FULL: it also survives an OS crash or power loss, at an fsync per commit batch"
        ),
    )
    limits = serve.add_argument_group(
        "connection limits",
        "what a slow or stalled client may hold; each answer is the JSON error body",
    )
    limits.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help=(
            "the request line and headers must arrive within this of the connection opening or "
            "the request's first byte; else 408 and the connection is closed (10)"
        ),
    )
    limits.add_argument(
        "--body-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help=(
            "the whole request body must arrive within this of its headers (e.g. a body shorter "
            "than its Content-Length); else 408 and the connection is closed (10)"
        ),
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=5,
        metavar="SECONDS",
        help="an idle keep-alive connection is closed after this (5)",
    )
    limits.add_argument(
        "--max-header-bytes",
        type=int,
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="N",
        help=f"a longer request line and headers get 400 ({DEFAULT_MAX_HEADER_BYTES})",
    )
    limits.add_argument(
        "--graceful-shutdown-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help=(
            "after SIGTERM, requests still open this long are cancelled and their runs marked "
            "abandoned (default: the exit timeout + 5, so that a run in flight can answer)"
        ),
    )
    return parser


def _seconds(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}: must be a number of seconds above 0")
    return value


def parse_config(argv: Sequence[str] | None, environ: Mapping[str, str]) -> ServerConfig:
    """Settings from the arguments of `serve`; raises ConfigError for a value out of range."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port: must be from 0 to 65535")
    _seconds("--exit-timeout", args.exit_timeout)
    for name in ("header_timeout", "body_timeout", "keep_alive_timeout"):
        _seconds(f"--{name.replace('_', '-')}", getattr(args, name))
    # uvicorn takes these two as whole seconds.
    if args.graceful_shutdown_timeout is not None:
        _seconds("--graceful-shutdown-timeout", args.graceful_shutdown_timeout)
    if args.max_header_bytes < 1024:
        raise ConfigError("--max-header-bytes: must be at least 1024")
    if args.max_concurrent_runs < 1:
        raise ConfigError("--max-concurrent-runs: must be at least 1")
    if args.max_body_bytes < 1:
        raise ConfigError("--max-body-bytes: must be at least 1")
    public_url = args.public_url
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("--public-url: must be an absolute http(s) URL")
        public_url = public_url.rstrip("/")
    return ServerConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        exit_timeout=args.exit_timeout,
        max_concurrent_runs=args.max_concurrent_runs,
        api_key=args.api_key or environ.get(API_KEY_ENV) or None,
        fixtures=args.fixtures,
        public_url=public_url,
        max_body_bytes=args.max_body_bytes,
        profile_out=args.profile_out,
        sqlite_synchronous=args.sqlite_synchronous,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_header_bytes=args.max_header_bytes,
        graceful_shutdown_timeout=args.graceful_shutdown_timeout,
    )
