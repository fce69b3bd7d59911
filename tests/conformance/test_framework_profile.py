"""Profile loading: defaults from the schema, one-line errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

import tines_spec
from conformance import redaction
from conformance.errors import ProfileError
from conformance.profile import load_profile
from tests.conformance.conftest import API_KEY_ENV, Profiles


def test_valid_profile_gets_the_schema_defaults(profiles: Profiles) -> None:
    profile = load_profile(profiles.write("https://tenant.example"))
    schema = tines_spec.schema("profile.schema.json")["properties"]
    assert profile.target.base_url == "https://tenant.example"
    assert profile.target.verify_tls is schema["target"]["properties"]["verify_tls"]["default"]
    assert profile.stories.ids == (1,)
    assert profile.stories.draft is None
    assert profile.webhooks.race_url is None
    assert profile.webhooks.exit_timeout_seconds == 2
    margin = schema["webhooks"]["properties"]["timing_margin_seconds"]["default"]
    assert profile.webhooks.timing_margin_seconds == margin
    assert profile.limits.concurrency is None
    # The request timeout defaults to the exit timeout plus 15 s.
    assert profile.safety.request_timeout_seconds == 17
    deadline = schema["safety"]["properties"]["run_deadline_seconds"]["default"]
    assert profile.safety.run_deadline_seconds == deadline
    assert profile.api_key() == profiles.api_key


def test_optional_sections_are_read(profiles: Profiles) -> None:
    path = profiles.write(
        "http://127.0.0.1:1",
        stories={"draft": {"story_id": 1, "draft_id": 7}, "send_to_story_enabled_id": 3},
        limits={"concurrency": {"burst": 6}},
        safety={"request_timeout_seconds": 4},
    )
    profile = load_profile(path)
    assert profile.stories.draft is not None
    assert (profile.stories.draft.story_id, profile.stories.draft.draft_id) == (1, 7)
    assert profile.stories.send_to_story_enabled_id == 3
    assert profile.limits.concurrency is not None
    assert profile.limits.concurrency.burst == 6
    assert profile.limits.concurrency.expected_limit is None
    assert profile.safety.request_timeout_seconds == 4


def test_secrets_are_registered_at_load(profiles: Profiles) -> None:
    load_profile(profiles.write("http://127.0.0.1:1"))
    text = f"key {profiles.api_key} at /webhook/probe/{profiles.webhook_secret}"
    cleaned = redaction.redact(text)
    assert profiles.api_key not in cleaned
    assert profiles.webhook_secret not in cleaned


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ("target: [1, 2\n", "line 2, column 1", "invalid YAML"),
        ("- just\n- a list\n", "(top level)", "is not of type 'object'"),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [1], missing_id: 2}\n"
            "webhooks: {probe_url: 'x'}\n",
            "webhooks.probe_url",
            "'x'",
        ),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [], missing_id: 2}\n"
            "webhooks: {probe_url: 'http://x'}\n",
            "stories.ids",
            "should be non-empty",
        ),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [1]}\n"
            "webhooks: {probe_url: 'http://x'}\n",
            "stories.missing_id",
            "'missing_id' is a required property",
        ),
        (
            "target: {base_url: 'http://x', api_key_env: K, api_key: s3cret}\n"
            "stories: {ids: [1], missing_id: 2}\nwebhooks: {probe_url: 'http://x'}\n",
            "target",
            "unknown field 'api_key' (did you mean 'api_key_env'?); allowed here: api_key_env,",
        ),
        (
            "target: {base_ulr: 'http://x', api_key_env: K}\nstories: {ids: [1], missing_id: 2}\n"
            "webhooks: {probe_url: 'http://x'}\n",
            "target",
            "unknown field 'base_ulr' (did you mean 'base_url'?)",
        ),
        ("", "(top level)", "the file is empty: it must be a YAML mapping"),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [1], missing_id: 2}\n"
            "webhooks: {probe_url: 'http://x'}\nsafety: {max_in_flight: 0}\n",
            "safety.max_in_flight",
            "less than the minimum of 1",
        ),
    ],
)
def test_malformed_profile_names_file_and_field(
    tmp_path: Path, content: str, field: str, message: str
) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {field}: ")
    assert message in text
    assert raised.value.field == field


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="No such file"):
        load_profile(tmp_path / "absent.yaml")


def test_missing_key_variable_names_the_variable(
    profiles: Profiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = load_profile(profiles.write("http://127.0.0.1:1"))
    monkeypatch.delenv(API_KEY_ENV)
    with pytest.raises(ProfileError) as raised:
        profile.api_key()
    assert raised.value.field == "target.api_key_env"
    assert API_KEY_ENV in str(raised.value)


WEBHOOKS_FROM_VARIABLES = (
    "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [1], missing_id: 2}\n"
    "webhooks:\n"
    "  probe_url_env: CONFORMANCE_TEST_PROBE_URL\n"
    "  race_url_env: CONFORMANCE_TEST_RACE\n"
)


def test_webhook_urls_can_come_from_variables_and_their_secrets_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile committed to a repository (the CI examples) names variables, as for the key."""
    probe = "https://tenant.example/webhook/probe/probe-s3cret-from-env"
    race = "https://tenant.example/webhook/race/race-s3cret-from-env"
    monkeypatch.setenv("CONFORMANCE_TEST_PROBE_URL", probe)
    monkeypatch.setenv("CONFORMANCE_TEST_RACE", race)
    path = tmp_path / "profile.yaml"
    path.write_text(WEBHOOKS_FROM_VARIABLES, encoding="utf-8")
    profile = load_profile(path)
    assert (profile.webhooks.probe_url, profile.webhooks.race_url) == (probe, race)
    cleaned = redaction.redact(f"{probe} {race}")
    assert "probe-s3cret-from-env" not in cleaned
    assert "race-s3cret-from-env" not in cleaned


@pytest.mark.parametrize(
    ("variables", "extra", "field", "message"),
    [
        ({}, "", "webhooks.probe_url_env", "CONFORMANCE_TEST_PROBE_URL is not set"),
        (
            {"CONFORMANCE_TEST_PROBE_URL": "tenant.example/webhook/p/not-a-url-s3cret"},
            "",
            "webhooks.probe_url_env",
            "does not hold an http(s) URL",
        ),
        (
            {"CONFORMANCE_TEST_PROBE_URL": "https://t/webhook/p/s"},
            "  probe_url: https://t/webhook/p/s\n",
            "webhooks.probe_url_env",
            "give probe_url or probe_url_env, not both",
        ),
    ],
)
def test_a_webhook_variable_that_is_unset_or_wrong_names_the_field_not_the_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    extra: str,
    field: str,
    message: str,
) -> None:
    for name in ("CONFORMANCE_TEST_PROBE_URL", "CONFORMANCE_TEST_RACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONFORMANCE_TEST_RACE", "https://t/webhook/r/s")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "profile.yaml"
    path.write_text(WEBHOOKS_FROM_VARIABLES + extra, encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    assert raised.value.field == field
    assert message in str(raised.value)
    assert "s3cret" not in str(raised.value)
