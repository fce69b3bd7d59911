"""`reference-impl serve`: parse the settings, build the server, serve until SIGTERM or Ctrl+C.

Exit codes: 0 after a clean stop (SIGTERM included), 1 when the server cannot start (the port is
taken, the database cannot be opened), 2 for a usage or fixture error, 130 on Ctrl+C. Errors are
one line on stderr, never a traceback; logging goes to stderr, and stdout carries exactly one line,
`reference-impl listening on http://HOST:PORT`, once the socket accepts connections.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import platform
import signal
import socket
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
import yaml

import tines_spec
from reference_impl.app import Runtime, build_app, build_runtime
from reference_impl.collector import tune_for_serving
from reference_impl.config import API_KEY_ENV, ConfigError, ServerConfig, parse_config
from reference_impl.fixtures import FixtureError, Story, builtin_fixtures, load_fixtures
from reference_impl.http_limits import limited_protocol

__all__ = ["main", "profile_for"]

log = logging.getLogger("reference_impl")

# How many requests past the limit the suite's burst opens: enough to see several 201s.
_BURST_EXTRA = 3
# This server is on the suite's own machine, not a production tenant: the suite's caps can be
# loose enough that they, and not the checks, never set the pace.
_LOCAL_REQUESTS_PER_SECOND = 200


class _Server(uvicorn.Server):
    """uvicorn's server, announcing readiness on stdout once its sockets listen."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self._ready_line = ready_line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.info("serving on %s", _stack(self.config.http_protocol_class))
            sys.stdout.write(self._ready_line + "\n")
            sys.stdout.flush()


def _stack(protocol: type) -> str:
    """uvicorn, its event loop and HTTP parser with their versions: whether the fast ones
    (uvloop, httptools) are in use depends on what is installed, so the log says."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    parts = [
        f"{name} {_version(name)}"
        for name in ("uvicorn", loop, getattr(protocol, "parser_name", "?"))
    ]
    return f"{parts[0]}, loop {parts[1]}, parser {parts[2]}"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return f"(Python {platform.python_version()})"  # asyncio


def profile_for(runtime: Runtime, base_url: str) -> dict[str, Any]:
    """A target profile (spec/schemas/profile.schema.json) that points the suite at this server."""
    stories = list(runtime.stories.values())
    by_role = {s.role: s for s in stories if s.role is not None}
    if "probe" not in by_role:
        raise FixtureError(
            "fixtures", "webhook.role", "no story has role probe; a profile needs one"
        )
    config = runtime.config
    burst = config.max_concurrent_runs + _BURST_EXTRA
    story_ids = sorted(runtime.stories)
    stories_part: dict[str, Any] = {"ids": story_ids, "missing_id": max(story_ids) + 1000}
    with_draft = next((s for s in stories if s.drafts), None)
    if with_draft is not None:
        stories_part["draft"] = {"story_id": with_draft.id, "draft_id": min(with_draft.drafts)}
    # Prefer a Send to Story enabled story that some story does refer to: it shows more.
    enabled = [s for s in stories if s.get.get("send_to_story_enabled") is True]
    enabled.sort(key=lambda s: not s.get.get("send_to_story_referring_story_ids"))
    sts = enabled[0] if enabled else None
    if sts is not None:
        stories_part["send_to_story_enabled_id"] = sts.id
    margin = max(0.5, min(2.0, config.exit_timeout / 20))
    webhooks: dict[str, Any] = {
        "probe_url": runtime.webhook_url(by_role["probe"], base_url),
        "exit_timeout_seconds": config.exit_timeout,
        # The just-under and timeout probes aim this far either side of the exit timeout. The
        # suite waits for the timeout run's data, due a margin after the exit timeout, so the
        # margin is the part of a full run beyond one exit timeout: as small as the timing
        # allows. This server's timers fire within milliseconds; what the margin must hold is
        # the 504 and the suite's first poll of the response URL, which must come back before
        # the run is due (WH-RURL-003). Half a second does on a loaded machine; a twentieth of
        # a long exit timeout, up to 2 s, leaves a slow link the same share.
        "timing_margin_seconds": margin,
    }
    if "race" in by_role:
        webhooks["race_url"] = runtime.webhook_url(by_role["race"], base_url)
    profile: dict[str, Any] = {
        "name": "reference-impl",
        "target": {"base_url": base_url, "api_key_env": API_KEY_ENV},
        "stories": stories_part,
        "webhooks": webhooks,
        "limits": {
            "concurrency": {
                "burst": burst,
                "expected_limit": config.max_concurrent_runs,
                # The burst's runs only need to overlap (all of them are sent at once), and
                # must end before the exit timeout, or the ones that got a slot answer 504
                # instead of 200. The timing margin does both here; the queued runs then take
                # as long again. The burst starts when the just-under run is answered, a margin
                # before the exit timeout, so it ends when the timeout run's data is due, and
                # adds nothing to the run.
                "delay_seconds": min(margin, config.exit_timeout / 2),
            }
        },
        "safety": {"max_requests_per_second": _LOCAL_REQUESTS_PER_SECOND, "max_in_flight": burst},
    }
    error = next(iter(tines_spec.validator("profile.schema.json").iter_errors(profile)), None)
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(profile)"
        raise ConfigError(
            f"--profile-out: the profile would be invalid at {field}: {error.message}"
        )
    return profile


def _write_profile(path: Path, profile: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The profile holds webhook secrets: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(profile, out, sort_keys=False)


def _load_stories(config: ServerConfig) -> list[Story]:
    return load_fixtures(config.fixtures) if config.fixtures else builtin_fixtures()


def _ignore_sigterm_after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal it stopped for; after a clean shutdown that is a no-op."""


def serve(config: ServerConfig) -> int:
    stories = _load_stories(config)
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose `proto`
    # says TCP, and accepted sockets inherit it; with Nagle on, a response sent as headers then
    # body waits for the client's delayed ACK (~40 ms).
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc.strerror)
        return 1
    port = sock.getsockname()[1]
    host = "127.0.0.1" if config.host in ("0.0.0.0", "") else config.host  # noqa: S104
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{port}"
    try:
        runtime = build_runtime(config, stories)
    except (sqlite3.Error, OSError) as exc:
        sock.close()
        log.error("cannot open the database %s: %s", config.db, exc)
        return 1
    if config.profile_out is not None:
        _write_profile(config.profile_out, profile_for(runtime, config.public_url or base_url))
    uv_config = uvicorn.Config(
        build_app(runtime),
        # httptools, else h11, with the header and body deadlines and head size limit built on.
        http=limited_protocol(config.header_timeout, config.body_timeout, config.max_header_bytes),
        h11_max_incomplete_event_size=config.max_header_bytes,
        timeout_keep_alive=config.keep_alive_timeout,
        log_config=None,
        access_log=False,  # an access log would print webhook secrets, which are in the path
        # X-Forwarded-Proto would let any local client choose the scheme of the response URLs
        # a run hands back; `--public-url` names the origin behind a proxy. It also spares every
        # request uvicorn's proxy-headers middleware.
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=config.shutdown_grace,
    )
    signal.signal(signal.SIGTERM, _ignore_sigterm_after_shutdown)
    tune_for_serving()
    _Server(uv_config, f"reference-impl listening on {base_url}").run(sockets=[sock])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = parse_config(argv, os.environ)
        return serve(config)
    except (ConfigError, FixtureError) as exc:
        print(f"reference-impl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
