"""`Runtime`: the store, the engine and the stories a request handler needs, built once a server.

`build_runtime` opens the store, marks what a previous process left unfinished as abandoned and
gives each story's webhook its secret (made and kept in the database at first start), so that
the CLI can write a profile with the webhook URLs before it serves.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from reference_impl.config import ServerConfig
from reference_impl.engine import Engine
from reference_impl.fixtures import Story
from reference_impl.store import RunStore

__all__ = ["Runtime", "WebhookEntry", "build_runtime"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookEntry:
    story: Story
    secret: str


@dataclass
class Runtime:
    """Everything a request handler needs, built once per server."""

    config: ServerConfig
    store: RunStore
    engine: Engine
    stories: dict[int, Story]
    webhooks: dict[str, WebhookEntry]
    story_bytes: dict[tuple[int, str | None, int | None], bytes]

    def webhook_url(self, story: Story, base_url: str) -> str:
        path = story.webhook_path or ""
        return f"{base_url}/webhook/{path}/{self.webhooks[path].secret}"


def _secret_for(store: RunStore, story: Story) -> str:
    """The story's webhook secret in this database, made and persisted at first start."""
    key = f"webhook_secret:{story.id}"
    secret = store.get_setting(key)
    if secret is None:
        secret = secrets.token_hex(16)
        store.set_setting(key, secret).result()
    return secret


def build_runtime(config: ServerConfig, stories: list[Story]) -> Runtime:
    """Open the store, recover from a crash, index the stories. Synchronous: runs at start-up."""
    store = RunStore(config.db, config.sqlite_synchronous)
    abandoned = store.abandon_unfinished().result()
    if abandoned:
        log.warning("%d run(s) left unfinished by the previous process marked abandoned", abandoned)
    graphs = [s.graph for s in stories if s.graph is not None]
    webhooks = {
        s.webhook_path: WebhookEntry(s, _secret_for(store, s))
        for s in stories
        if s.webhook_path is not None
    }
    return Runtime(
        config=config,
        store=store,
        engine=Engine(store, graphs, config.max_concurrent_runs),
        stories={s.id: s for s in stories},
        webhooks=webhooks,
        story_bytes={},
    )
