"""The target profile: which URL to check, with which stories, within which safety caps.

`load_profile` reads the YAML a user writes, validates it with `spec/schemas/profile.schema.json`
and returns frozen dataclasses with the schema's defaults applied, so no check has to know a
default. The defaults are read from the schema, never restated here. Every secret the profile
leads to (the API key, the webhook secrets) is registered with `conformance.redaction` at load,
before anything can print it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match

import tines_spec
from conformance import redaction
from conformance.errors import ProfileError
from conformance.yamlfile import field_of, message_of, read_yaml

__all__ = [
    "Concurrency",
    "Draft",
    "Limits",
    "Profile",
    "Safety",
    "Stories",
    "Target",
    "Webhooks",
    "load_profile",
]

SCHEMA = "profile.schema.json"
# The schema's description of safety.request_timeout_seconds: "by default the exit timeout plus
# 15 s". A default that depends on another field cannot be a JSON Schema `default`.
_REQUEST_TIMEOUT_OVER_EXIT_TIMEOUT = 15.0


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key_env: str
    verify_tls: bool
    ca_bundle: str | None


@dataclass(frozen=True)
class Draft:
    story_id: int
    draft_id: int


@dataclass(frozen=True)
class Stories:
    ids: tuple[int, ...]
    missing_id: int
    draft: Draft | None
    send_to_story_enabled_id: int | None


@dataclass(frozen=True)
class Webhooks:
    probe_url: str
    race_url: str | None
    exit_timeout_seconds: float
    timing_margin_seconds: float
    response_url_deadline_seconds: float


@dataclass(frozen=True)
class Concurrency:
    burst: int
    expected_limit: int | None
    delay_seconds: float


@dataclass(frozen=True)
class Limits:
    concurrency: Concurrency | None


@dataclass(frozen=True)
class Safety:
    max_requests_per_second: float
    max_in_flight: int
    # The most requests of the whole run (`request_budget`), if the profile sets it.
    max_requests: int | None
    request_timeout_seconds: float
    run_deadline_seconds: float
    max_response_bytes: int
    answer_seconds: float
    allowed_hosts: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    name: str | None
    path: Path
    target: Target
    stories: Stories
    webhooks: Webhooks
    limits: Limits
    safety: Safety

    def api_key(self) -> str:
        """The API key from the environment variable the profile names (never from the file)."""
        variable = self.target.api_key_env
        value = os.environ.get(variable)
        if not value:
            raise ProfileError(
                str(self.path),
                "target.api_key_env",
                f"the environment variable {variable} is not set (it must hold the API key)",
            )
        check_api_key_length(str(self.path), variable, value)
        redaction.register_api_key(value)
        return value


def check_api_key_length(file: str, variable: str, value: str) -> None:
    """A key shorter than redaction.MIN_SECRET_LENGTH could not be masked in reports without
    masking the same letters in every word that holds them: refused, naming the variable."""
    if len(value) < redaction.MIN_SECRET_LENGTH:
        raise ProfileError(
            file,
            "target.api_key_env",
            f"the environment variable {variable} holds {len(value)} characters: too short for "
            f"an API key (at least {redaction.MIN_SECRET_LENGTH}), and too short to be masked "
            "in reports without masking ordinary words",
        )


def _default(*path: str) -> Any:
    """The schema's `default` for a property: `_default("webhooks", "exit_timeout_seconds")`."""
    node: dict[str, Any] = tines_spec.schema(SCHEMA)
    for key in path:
        node = node["properties"][key]
    return node["default"]


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read, validate and complete a profile; any problem is a one-line `ProfileError`."""
    file = str(path)
    data = read_yaml(path, ProfileError)
    _check_url_pairs(file, data)
    error = best_match(tines_spec.validator(SCHEMA).iter_errors(data))
    if error is not None:
        raise ProfileError(file, field_of(error, "."), message_of(error))
    profile = _build(Path(path), data)
    for url in (profile.webhooks.probe_url, profile.webhooks.race_url):
        redaction.register_webhook_url(url)
    redaction.register_api_key(os.environ.get(profile.target.api_key_env))
    return profile


def _check_url_pairs(file: str, data: Any) -> None:
    """A webhook URL is given in the file or in a variable, not both: said in words here, since
    the schema's `oneOf` would only say that no alternative matched."""
    webhooks = data.get("webhooks") if isinstance(data, dict) else None
    if not isinstance(webhooks, dict):
        return
    for name, required in (("probe_url", True), ("race_url", False)):
        given = [key for key in (name, f"{name}_env") if key in webhooks]
        if len(given) == 2:
            raise ProfileError(file, f"webhooks.{name}_env", f"give {name} or {name}_env, not both")
        if required and not given:
            raise ProfileError(
                file, f"webhooks.{name}", f"missing: give {name}, or {name}_env naming a variable"
            )


def _url_from(file: str, webhooks: dict[str, Any], name: str) -> str | None:
    """The URL from the file, or from the variable `{name}_env` names (checked as the schema
    checks a URL in the file)."""
    variable = webhooks.get(f"{name}_env")
    if variable is None:
        value: str | None = webhooks.get(name)
        return value
    url = os.environ.get(variable, "")
    field = f"webhooks.{name}_env"
    if not url:
        raise ProfileError(
            file, field, f"the environment variable {variable} is not set (it must hold {name})"
        )
    # The variable's value is a secret: the error names the variable, never the value.
    redaction.register_webhook_url(url)
    if not url.startswith(("http://", "https://")):
        raise ProfileError(file, field, f"{variable} does not hold an http(s) URL")
    return url


def _build(path: Path, data: dict[str, Any]) -> Profile:
    target = data["target"]
    stories = data["stories"]
    webhooks = data["webhooks"]
    concurrency = data.get("limits", {}).get("concurrency")
    safety = data.get("safety", {})
    draft = stories.get("draft")
    exit_timeout = float(
        webhooks.get("exit_timeout_seconds", _default("webhooks", "exit_timeout_seconds"))
    )

    def webhook_setting(key: str) -> float:
        return float(webhooks.get(key, _default("webhooks", key)))

    def safety_setting(key: str) -> Any:
        return safety.get(key, _default("safety", key))

    return Profile(
        name=data.get("name"),
        path=path,
        target=Target(
            base_url=target["base_url"],
            api_key_env=target["api_key_env"],
            verify_tls=bool(target.get("verify_tls", _default("target", "verify_tls"))),
            ca_bundle=target.get("ca_bundle", _default("target", "ca_bundle")),
        ),
        stories=Stories(
            ids=tuple(stories["ids"]),
            missing_id=stories["missing_id"],
            draft=Draft(draft["story_id"], draft["draft_id"]) if draft else None,
            send_to_story_enabled_id=stories.get("send_to_story_enabled_id"),
        ),
        webhooks=Webhooks(
            probe_url=str(_url_from(str(path), webhooks, "probe_url")),
            race_url=_url_from(str(path), webhooks, "race_url"),
            exit_timeout_seconds=exit_timeout,
            timing_margin_seconds=webhook_setting("timing_margin_seconds"),
            response_url_deadline_seconds=webhook_setting("response_url_deadline_seconds"),
        ),
        limits=Limits(
            concurrency=Concurrency(
                burst=concurrency["burst"],
                expected_limit=concurrency.get("expected_limit"),
                delay_seconds=float(
                    concurrency.get(
                        "delay_seconds", _default("limits", "concurrency", "delay_seconds")
                    )
                ),
            )
            if concurrency
            else None
        ),
        safety=Safety(
            max_requests_per_second=float(safety_setting("max_requests_per_second")),
            max_in_flight=int(safety_setting("max_in_flight")),
            max_requests=int(safety["max_requests"]) if "max_requests" in safety else None,
            request_timeout_seconds=float(
                safety.get(
                    "request_timeout_seconds", exit_timeout + _REQUEST_TIMEOUT_OVER_EXIT_TIMEOUT
                )
            ),
            run_deadline_seconds=float(safety_setting("run_deadline_seconds")),
            max_response_bytes=int(safety_setting("max_response_bytes")),
            answer_seconds=float(safety_setting("answer_seconds")),
            allowed_hosts=tuple(str(h).lower() for h in safety_setting("allowed_hosts")),
        ),
    )
