"""A story as the engine runs it: its actions (`Action`), of four kinds, and how they link.

Built by `fixtures` (the built-in and `--fixtures` stories) and `importer` (a story export);
`engine` runs it. What each kind does is said in `engine`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ACTION_KINDS", "Action", "ActionKind", "StoryGraph"]

ActionKind = Literal["webhook", "transform", "delay", "exit"]
ACTION_KINDS: tuple[ActionKind, ...] = ("webhook", "transform", "delay", "exit")


@dataclass(frozen=True)
class Action:
    id: int
    name: str
    kind: ActionKind
    options: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[int, ...] = ()


@dataclass(frozen=True)
class StoryGraph:
    """What the engine needs of a story: its name, its mode for META, and its actions."""

    story_id: int
    name: str
    is_test: bool
    actions: tuple[Action, ...]

    @property
    def entry(self) -> Action:
        return next(a for a in self.actions if a.kind == "webhook")

    @property
    def exits(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind == "exit")

    def receivers(self, action_id: int) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if action_id in a.sources)
