"""Stories Get (https://www.tines.com/docs/api/stories/get/), checked explicitly, one rule a check.

Every story of the profile is read (never changed) and judged against `story.schema.json`: the
root schema for the fields, `$defs/plain` and `$defs/withLiveActivity` for the live-activity
parameter, and the SHOULD-level `$defs` for the forms Tines' own stories take.
"""

from __future__ import annotations

from typing import Any

import pytest

import tines_spec
from conformance.exchange import Exchange
from conformance.http import Auth, TargetClient
from conformance.profile import Profile
from conformance.verify import (
    expect_equal,
    expect_media_type,
    expect_names_parameter,
    expect_one_of,
    expect_status,
    expect_string,
    expect_valid,
    expect_valid_with,
    json_body,
    precondition,
    response_of,
)
from tines_spec.sdk import SDK_TYPES_FILE, sdk_validator

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("GET /api/v1/stories/{story_id}")


_STORY = "story.schema.json"
_ERROR = "error.schema.json"
_FIELDS = tuple(f"STORY-FIELD-00{n}" for n in range(1, 8))

# Inputs outside each parameter's type (spec/openapi.yaml#/components/parameters): what
# STORY-PARAM-001 sends, not a rule restated.
_INVALID_PARAMETERS = (
    ("story_mode", "SANDBOX"),
    ("draft_id", "not-a-number"),
    ("include_live_activity", "maybe"),
)


_GET = "STORY-GET-001"
# Which requirement a refused key contradicts, by the way the key was sent.
_AUTH_OF: dict[Auth, str] = {"bearer": "STORY-AUTH-001", "token": "STORY-AUTH-002"}


def _story(
    target: TargetClient,
    story_id: int,
    requirement: str | tuple[str, ...],
    params: dict[str, Any] | None = None,
    auth: Auth = "bearer",
) -> tuple[Exchange, Any]:
    """Read a story: what every check of its fields needs, so a failure here is a precondition.

    A refused key (401) is the authentication requirement's failure; any other status is the
    failure of `requirement`, the rule whose parameter the read uses (`story_mode`, `draft_id`,
    `include_live_activity`), or of STORY-GET-001 for a plain read; an answer that is not a JSON
    object is STORY-GET-001's. The check's own requirements are then blocked, not failed."""
    exchange = target.get_story(story_id, params=params, auth=auth)
    with precondition():
        response = response_of(exchange, _GET)
        if response.status == 401 and auth in _AUTH_OF:
            expect_status(exchange, 200, _AUTH_OF[auth])
        expect_status(exchange, 200, requirement if params else _GET)
        expect_media_type(exchange, "application/json", _GET)
        story = json_body(exchange, _GET)
        if not isinstance(story, dict):
            expect_equal(exchange, "the answer's JSON type", type(story).__name__, "dict", _GET)
    return exchange, story


def _each_story_valid(
    target: TargetClient,
    profile: Profile,
    requirement: str,
    pointer: str,
    params: dict[str, Any] | None = None,
    covers: tuple[str, ...] | None = None,
) -> None:
    """Read each profile story (with `requirement`'s parameters) and validate it against the part
    of the story schema at `pointer`, which encodes the rule of `covers` (or `requirement`)."""
    for story_id in profile.stories.ids:
        exchange, story = _story(target, story_id, requirement, params)
        expect_valid(exchange, story, _STORY, covers or requirement, pointer)


def _key_accepted(exchange: Exchange) -> None:
    """A 401 to a request with the profile's key is the bearer key's failure, and blocks the
    check, whatever status the check was waiting for."""
    if exchange.response is not None and exchange.response.status == 401:
        with precondition():
            expect_status(exchange, 200, _AUTH_OF["bearer"])


def _modes() -> list[str]:
    """The modes a story can be read in, from the schema of its `mode` field."""
    return list(tines_spec.schema(_STORY)["properties"]["mode"]["enum"])


@pytest.mark.requirement("STORY-GET-001", *_FIELDS, max_requests_per_story=1)
def test_each_story_validates(target: TargetClient, profile: Profile) -> None:
    """ "A successful request will return a JSON object representing the specified story": every
    documented field, with its type, format and the conditions the field table states."""
    for story_id in profile.stories.ids:
        exchange, story = _story(target, story_id, _GET)
        expect_valid(exchange, story, _STORY, _FIELDS)
        expect_equal(exchange, "id", story.get("id"), story_id, _GET)


@pytest.mark.requirement("STORY-LIVE-001", "STORY-FIELD-008", max_requests_per_story=1)
def test_live_activity_fields_with_the_parameter(target: TargetClient, profile: Profile) -> None:
    """ "When set to `true`, includes live activity metrics like `pending_action_runs_count`,
    `concurrent_runs_count`, and `tokens_used_percentage`."""
    live = {"include_live_activity": "true"}
    ids = ("STORY-LIVE-001", "STORY-FIELD-008")
    _each_story_valid(target, profile, "STORY-LIVE-001", "/$defs/withLiveActivity", live, ids)


@pytest.mark.requirement("STORY-LIVE-002", max_requests_per_story=1)
def test_no_live_activity_fields_by_default(target: TargetClient, profile: Profile) -> None:
    """ "Defaults to `false`": without the parameter the live-activity fields are absent."""
    _each_story_valid(target, profile, "STORY-LIVE-002", "/$defs/plain")


@pytest.mark.requirement("STORY-LIVE-003", max_requests_per_story=1)
def test_no_live_activity_fields_when_false(target: TargetClient, profile: Profile) -> None:
    """ "Only included when `include_live_activity=true` is set."""
    not_live = {"include_live_activity": "false"}
    _each_story_valid(target, profile, "STORY-LIVE-003", "/$defs/plain", not_live)


@pytest.mark.requirement("STORY-SDK-001", max_requests_per_story=1)
def test_each_story_decodes_in_tines_go_sdk(target: TargetClient, profile: Profile) -> None:
    """Tines' own Go SDK decodes a story with fixed types (`exit_agents` and `owners` as lists
    of integers): a shape it cannot read is an interoperability finding, even where the
    document's wording and so the schema allow it."""
    for story_id in profile.stories.ids:
        exchange, story = _story(target, story_id, "STORY-SDK-001")
        expect_valid_with(
            exchange,
            story,
            sdk_validator(),
            SDK_TYPES_FILE,
            "STORY-SDK-001",
            unless_invalid_in=_STORY,
        )


@pytest.mark.requirement("STORY-PARAM-002", max_requests_per_story=2)
def test_empty_parameters_mean_not_given(target: TargetClient, profile: Profile) -> None:
    """`tapi`'s default `stories.get` sends `story_mode=` (empty): an empty optional parameter
    is answered as if it were not given, the same story as a call without it."""
    empty = {name: "" for name, _ in _INVALID_PARAMETERS}
    for story_id in profile.stories.ids:
        _, bare = _story(target, story_id, "STORY-PARAM-002")
        exchange, story = _story(target, story_id, "STORY-PARAM-002", empty)
        # Live-activity counts move between two reads; whether they are there is STORY-LIVE-002's.
        expect_equal(exchange, "the story", _settled(story), _settled(bare), "STORY-PARAM-002")


def _settled(story: Any) -> Any:
    """The story without the values that change from one read to the next."""
    if not isinstance(story, dict):
        return story
    moving = set(tines_spec.live_activity_fields())
    return {key: value for key, value in story.items() if key not in moving}


@pytest.mark.requirement("STORY-MODE-001", max_requests_per_story=len(_modes()))
def test_story_mode_is_reflected(target: TargetClient, profile: Profile) -> None:
    """ "The mode (`TEST` or `LIVE`) of the story to retrieve": the story read in a mode says so."""
    for story_id in profile.stories.ids:
        for mode in _modes():
            exchange, story = _story(target, story_id, "STORY-MODE-001", {"story_mode": mode})
            with precondition():  # a mode outside its enum is the field's failure
                expect_one_of(exchange, "mode", story.get("mode"), _modes(), "STORY-FIELD-003")
            expect_equal(exchange, "mode", story.get("mode"), mode, "STORY-MODE-001")


@pytest.mark.requirement("STORY-DRAFT-001", max_requests=1)
def test_draft_is_reflected(target: TargetClient, profile: Profile) -> None:
    """ "The ID of the draft to retrieve": the story read as a draft names that draft."""
    draft = profile.stories.draft
    if draft is None:
        pytest.skip("profile has no stories.draft")
    params = {"draft_id": str(draft.draft_id)}
    exchange, story = _story(target, draft.story_id, "STORY-DRAFT-001", params)
    expect_equal(exchange, "draft_id", story.get("draft_id"), draft.draft_id, "STORY-DRAFT-001")
    expect_string(exchange, "draft_name", story.get("draft_name"), "STORY-DRAFT-001")


# The IDs a story names of its own actions: with monitoring on every action, each is monitored.
_ACTION_FIELDS = ("entry_agent_id", "exit_agents", "api_entry_actions", "api_exit_actions")


def _named_actions(story: dict[str, Any]) -> list[int]:
    named: list[int] = []
    for name in _ACTION_FIELDS:
        value = story.get(name)
        values = value if isinstance(value, list) else [value]
        named += [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return named


@pytest.mark.requirement("STORY-FIELD-013", max_requests_per_story=1)
def test_monitor_failures_implies_every_named_action_is_monitored(
    target: TargetClient, profile: Profile
) -> None:
    """ "This will be false when only some actions have monitoring enabled": which actions a
    story has is not in the answer, so only a necessary condition can be checked: when it is
    true, every action the story names is among `actions_with_monitoring`. It can fail the
    requirement, never pass it (the catalogue marks it not observable)."""
    for story_id in profile.stories.ids:
        exchange, story = _story(target, story_id, _GET)
        if story.get("monitor_failures") is not True:
            continue
        monitored = story.get("actions_with_monitoring")
        monitored = monitored if isinstance(monitored, list) else []
        unmonitored = [a for a in _named_actions(story) if a not in monitored]
        expect_equal(
            exchange,
            "actions named by a story with monitor_failures true but not in "
            "actions_with_monitoring",
            unmonitored,
            [],
            "STORY-FIELD-013",
        )


@pytest.mark.requirement("STORY-GET-002", max_requests=1)
def test_unknown_story_is_not_found(target: TargetClient, profile: Profile) -> None:
    """A story ID that does not exist answers 404 (the document is silent; Tines does this)."""
    exchange = target.get_story(profile.stories.missing_id)
    _key_accepted(exchange)
    expect_status(exchange, 404, "STORY-GET-002")


@pytest.mark.requirement("STORY-AUTH-001", max_requests=1)
def test_bearer_key_is_accepted(target: TargetClient, profile: Profile) -> None:
    """ "-H 'Authorization: Bearer <<CREDENTIAL.tines_api_key>>'"."""
    _story(target, profile.stories.ids[0], "STORY-AUTH-001", auth="bearer")


@pytest.mark.requirement("STORY-AUTH-002", max_requests=1)
def test_user_token_is_accepted(target: TargetClient, profile: Profile) -> None:
    """Tines' authentication documentation names X-User-Token beside Bearer."""
    _story(target, profile.stories.ids[0], "STORY-AUTH-002", auth="token")


@pytest.mark.requirement("STORY-AUTH-003", max_requests=1)
@pytest.mark.parametrize("auth", ["none", "wrong"])
def test_missing_or_wrong_key_is_refused(
    target: TargetClient, profile: Profile, auth: Auth
) -> None:
    """A missing or wrong API key answers 401 with a JSON error body."""
    exchange = target.get_story(profile.stories.ids[0], auth=auth)
    expect_status(exchange, 401, "STORY-AUTH-003")
    expect_media_type(exchange, "application/json", "STORY-AUTH-003")
    expect_valid(exchange, json_body(exchange, "STORY-AUTH-003"), _ERROR, "STORY-AUTH-003")


@pytest.mark.requirement("STORY-PARAM-001", max_requests=1)
@pytest.mark.parametrize(("parameter", "value"), _INVALID_PARAMETERS)
def test_invalid_parameter_is_named_in_a_4xx(
    target: TargetClient, profile: Profile, parameter: str, value: str
) -> None:
    """The parameters are typed (an enum, an ID, a boolean); a value outside its type is the
    client's error, answered 400 or 422 with a body that says which parameter."""
    exchange = target.get_story(profile.stories.ids[0], params={parameter: value})
    _key_accepted(exchange)
    expect_status(exchange, (400, 422), "STORY-PARAM-001")
    expect_valid(exchange, json_body(exchange, "STORY-PARAM-001"), _ERROR, "STORY-PARAM-001")
    expect_names_parameter(exchange, parameter, "STORY-PARAM-001")


@pytest.mark.requirement("STORY-FIELD-010", max_requests_per_story=1)
def test_retention_is_a_known_period(target: TargetClient, profile: Profile) -> None:
    """ "Defined event retention period in seconds": one of the periods Tines offers."""
    _each_story_valid(target, profile, "STORY-FIELD-010", "/$defs/knownRetention")


@pytest.mark.requirement("STORY-FIELD-011", max_requests_per_story=1)
def test_guid_is_hex(target: TargetClient, profile: Profile) -> None:
    """ "Unique identifier of the story": 32 lowercase hex characters, as in every Tines sample."""
    _each_story_valid(target, profile, "STORY-FIELD-011", "/$defs/hexGuid")


@pytest.mark.requirement("STORY-FIELD-012", max_requests_per_story=1)
def test_slug_is_underscored(target: TargetClient, profile: Profile) -> None:
    """ "An underscored representation of the story name."""
    _each_story_valid(target, profile, "STORY-FIELD-012", "/$defs/underscoredSlug")


@pytest.mark.requirement("STORY-FIELD-009", max_requests=1)
def test_send_to_story_story_lists_referrers(target: TargetClient, profile: Profile) -> None:
    """ "List of story ids that call this Send to Story enabled story. Only present when
    `send_to_story_enabled` is `true`" (and so present then)."""
    story_id = profile.stories.send_to_story_enabled_id
    if story_id is None:
        pytest.skip("profile has no stories.send_to_story_enabled_id")
    exchange, story = _story(target, story_id, "STORY-FIELD-009")
    enabled = story.get("send_to_story_enabled")
    with precondition():  # a flag that is not a boolean is the whole object's failure
        expect_one_of(exchange, "send_to_story_enabled", enabled, [True, False], "STORY-FIELD-001")
    expect_equal(exchange, "send_to_story_enabled", enabled, True, "STORY-FIELD-009")
    expect_valid(exchange, story, _STORY, "STORY-FIELD-009", "/$defs/stsEnabledHasReferrers")
