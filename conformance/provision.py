"""`conformance provision`: the probe and race stories imported into a tenant, and their profile.

From a tenant URL, a team ID and an API key (in `TINES_API_KEY`) to a profile that is ready to
run: each story of `spec/stories/` is imported through Tines' API (`POST /api/v1/stories/import`
with `new_name`, `data`, `team_id`, `mode: new`), with a fresh random webhook path and secret in
place of the file's public placeholders; its webhook action is read back
(`GET /api/v1/actions?story_id=N`), whose `path` and `secret` make the webhook URL; the profile
gets the URLs (or, with an env file, the names of variables that hold them) and a `provisioned`
record of what was made: each story's ID, name and GUID as the import answered them.

That record is what makes a second run idempotent and `--remove` safe: a recorded story is reused
(or deleted) only while its Get answer still has the recorded name and GUID, so provision never
touches a story it did not make. Without the record (the profile was deleted) a run imports anew.

Bounded like every request of the suite: a timeout per request, no redirects followed, answers
read up to a cap; the key and the webhook secrets are registered with `conformance.redaction`
before anything could print them. Errors are one line (`ProvisionError`, `TargetUnreachable`).
"""

from __future__ import annotations

import json as jsonlib
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from jsonschema.exceptions import best_match

import tines_spec
from conformance import redaction
from conformance.errors import ConformanceError, ProfileError, TargetUnreachable, UsageError
from conformance.http import USER_AGENT, describe_transport_error
from conformance.yamlfile import field_of, read_yaml

__all__ = [
    "ROLES",
    "ProvisionError",
    "ProvisionOptions",
    "provision",
    "recorded_target",
    "remove",
]

ROLES = ("probe", "race")
WEBHOOK_TYPE = "Agents::WebhookAgent"
URL_ENV = {"probe": "TINES_PROBE_URL", "race": "TINES_RACE_URL"}
DEFAULT_MISSING_ID = 999_999_999
REQUEST_TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_ACTIONS_PER_PAGE = 500


class ProvisionError(ConformanceError):
    """The target answered, but not as provisioning needs: one line saying what and where."""


@dataclass(frozen=True)
class ProvisionOptions:
    base_url: str
    team_id: int
    profile_out: Path
    api_key_env: str = "TINES_API_KEY"
    # Where the webhook URLs go instead of the profile (NAME=value lines), or None: the profile.
    env_file: Path | None = None
    folder_id: int | None = None
    missing_id: int = DEFAULT_MISSING_ID
    name: str | None = None
    verify_tls: bool = True
    timeout: float = REQUEST_TIMEOUT_SECONDS
    # The target's exit timeout, when it is not Tines' 30 s (the profile schema's default).
    exit_timeout: float | None = None


@dataclass
class Outcome:
    """What a run did, line by line, for the CLI to print (secrets already masked)."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(redaction.redact(line))


def _check_options(options: ProvisionOptions) -> None:
    parts = urlsplit(options.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise UsageError(f"--tenant: {options.base_url} is not a base URL like https://x.tines.com")
    if options.team_id < 1:
        raise UsageError("--team-id must be a positive integer")


class _Api:
    """The few calls provisioning makes, each bounded, each a one-line error when it fails."""

    def __init__(self, options: ProvisionOptions, key: str) -> None:
        self.base = options.base_url.rstrip("/")
        self.timeout = options.timeout
        self._http = httpx.Client(
            verify=options.verify_tls,
            follow_redirects=False,
            timeout=options.timeout,
            headers={"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        url = self.base + path
        # httpx bounds each phase; the deadline bounds the whole answer, however it trickles.
        deadline = time.monotonic() + 2 * self.timeout
        try:
            with self._http.stream(method, url, json=json, params=params) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the answer did not finish in time")
                    if len(body) > MAX_ANSWER_BYTES:
                        raise ProvisionError(
                            f"{method} {path}: the answer passed {MAX_ANSWER_BYTES} bytes"
                        )
                status = response.status_code
        except httpx.HTTPError as exc:
            raise TargetUnreachable(
                redaction.redact(self.base),
                redaction.redact(describe_transport_error(exc, self.timeout)),
            ) from None
        if status == 401:
            raise ProvisionError(f"{method} {path}: the target refused the API key (401)")
        try:
            return status, jsonlib.loads(body) if body else None
        except (ValueError, RecursionError):
            return status, None

    def expect(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        status, body = self.call(method, path, **kwargs)
        if status == 403:
            raise ProvisionError(
                f"{method} {path}: forbidden (403){_error_text(body)}; the key lacks the permission"
            )
        if status not in ok:
            raise ProvisionError(f"{method} {path}: answered {status}{_error_text(body)}")
        return body


def _error_text(body: Any) -> str:
    """The first error message of Tines' `{"errors": [{"message": ...}]}`, if that is the body."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict) and isinstance(first.get("message"), str):
            return redaction.redact(f": {first['message'][:200]}")
    return ""


def _api_key(options: ProvisionOptions) -> str:
    key = os.environ.get(options.api_key_env, "")
    if not key:
        raise UsageError(f"set {options.api_key_env} to the tenant's API key")
    if len(key) < redaction.MIN_SECRET_LENGTH:
        raise UsageError(
            f"{options.api_key_env} holds {len(key)} characters: too short for an API key "
            f"(at least {redaction.MIN_SECRET_LENGTH}), and too short to be masked safely"
        )
    # Every form a tenant could echo: raw, in its Authorization header, base64, URL-encoded.
    redaction.register_api_key(key)
    return key


def _recorded(path: Path) -> dict[str, Any]:
    """The `provisioned` record of an existing profile, or {} when there is no file yet.

    A file without a record is someone's own profile: provision refuses to overwrite it."""
    if not path.exists():
        return {}
    data = read_yaml(path, ProfileError)
    record = data.get("provisioned") if isinstance(data, dict) else None
    if record is None:
        raise ProfileError(
            str(path),
            "provisioned",
            "missing: this profile was not written by provision, "
            "which will not overwrite it; give another --profile-out",
        )
    validator = tines_spec.validator("profile.schema.json", "/properties/provisioned")
    error = best_match(validator.iter_errors(record))
    if error is not None:
        raise ProfileError(str(path), "provisioned." + field_of(error, "."), error.message)
    loaded: dict[str, Any] = record
    return loaded


def recorded_target(path: Path) -> tuple[str, int]:
    """The tenant and team a provisioned profile names: what `--remove` acts on by default."""
    record = _recorded(path)
    if not record:
        raise UsageError(f"{path}: no such profile; nothing to remove")
    target = read_yaml(path, ProfileError).get("target")
    base_url = target.get("base_url") if isinstance(target, dict) else None
    if not isinstance(base_url, str):
        raise ProfileError(str(path), "target.base_url", "missing: give --tenant")
    return base_url, int(record["team_id"])


def _story_export(role: str) -> dict[str, Any]:
    """The role's export file with a fresh webhook path and secret in place of the file's."""
    data = tines_spec.story_export(role)
    for agent in data["agents"]:
        if agent["type"] == WEBHOOK_TYPE:
            agent["options"]["path"] = secrets.token_hex(16)
            agent["options"]["secret"] = secrets.token_hex(16)
    return data


def _still_ours(api: _Api, entry: dict[str, Any]) -> bool | None:
    """True: the recorded story is there with its name and GUID; None: gone; False: not ours."""
    status, body = api.call("GET", f"/api/v1/stories/{int(entry['story_id'])}")
    if status == 404:
        return None
    if status != 200 or not isinstance(body, dict):
        raise ProvisionError(f"GET /api/v1/stories/{entry['story_id']}: answered {status}")
    return body.get("name") == entry.get("name") and body.get("guid") == entry.get("guid")


def _webhook_url(api: _Api, story_id: int) -> str:
    body = api.expect(
        "GET",
        "/api/v1/actions",
        (200,),
        params={"story_id": story_id, "per_page": _ACTIONS_PER_PAGE},
    )
    agents = body.get("agents") if isinstance(body, dict) else None
    hooks = [
        a
        for a in agents or []
        if isinstance(a, dict)
        and a.get("type") == WEBHOOK_TYPE
        and a.get("story_id", story_id) == story_id
    ]
    if len(hooks) != 1 or not isinstance(hooks[0].get("options"), dict):
        raise ProvisionError(f"story {story_id}: its actions show no single webhook action")
    options = hooks[0]["options"]
    path, secret = options.get("path"), options.get("secret")
    if not (isinstance(path, str) and isinstance(secret, str) and path and secret):
        raise ProvisionError(f"story {story_id}: its webhook action has no path and secret")
    if "/" in path + secret:
        raise ProvisionError(f"story {story_id}: its webhook's path or secret holds a '/'")
    url = f"{api.base}/webhook/{path}/{secret}"
    redaction.register_webhook_url(url)
    return url


def _import(api: _Api, options: ProvisionOptions, role: str) -> dict[str, Any]:
    data = _story_export(role)
    request: dict[str, Any] = {
        "new_name": data["name"],
        "data": data,
        "team_id": options.team_id,
        "mode": "new",
    }
    if options.folder_id is not None:
        request["folder_id"] = options.folder_id
    story = api.expect("POST", "/api/v1/stories/import", (200, 201), json=request)
    if not isinstance(story, dict) or not isinstance(story.get("id"), int):
        raise ProvisionError("POST /api/v1/stories/import: the answer names no story id")
    if story.get("api_enabled") is False:
        raise ProvisionError(
            f"story {story['id']}: imported with 'Workflows as APIs' off; turn it on in its API "
            "settings (entry: webhook) and run provision again"
        )
    return {
        "story_id": story["id"],
        "name": story.get("name", data["name"]),
        "guid": story.get("guid", data["guid"]),
        "file": f"spec/stories/{role}.json",
    }


def _profile(
    options: ProvisionOptions, made: dict[str, dict[str, Any]], urls: dict[str, str]
) -> dict[str, Any]:
    webhooks: dict[str, Any] = {}
    for role in ROLES:
        if options.env_file is not None:
            webhooks[f"{role}_url_env"] = URL_ENV[role]
        else:
            webhooks[f"{role}_url"] = urls[role]
    profile: dict[str, Any] = {
        "name": options.name or urlsplit(options.base_url).hostname or "tenant",
        "target": {"base_url": options.base_url.rstrip("/"), "api_key_env": options.api_key_env},
        "stories": {"ids": [made[r]["story_id"] for r in ROLES], "missing_id": options.missing_id},
        "webhooks": webhooks,
        "provisioned": {"team_id": options.team_id, "stories": made},
    }
    if options.exit_timeout is not None:
        webhooks["exit_timeout_seconds"] = options.exit_timeout
    if not options.verify_tls:
        profile["target"]["verify_tls"] = False
    error = next(iter(tines_spec.validator("profile.schema.json").iter_errors(profile)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(profile)"
        raise ProvisionError(f"the profile would be invalid at {where}: {error.message}")
    return profile


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it may hold webhook secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _plan(options: ProvisionOptions, out: Outcome) -> Outcome:
    record = _recorded(options.profile_out).get("stories", {})
    for role in ROLES:
        data = tines_spec.story_export(role)
        entry = record.get(role)
        if entry:
            out.say(
                f'would reuse story {entry["story_id"]} "{entry["name"]}" if its name and GUID '
                f"still match, else import spec/stories/{role}.json"
            )
        else:
            out.say(
                f'would import spec/stories/{role}.json as "{data["name"]}" into team '
                f"{options.team_id} (POST {options.base_url.rstrip('/')}/api/v1/stories/import), "
                "with a new random webhook path and secret"
            )
    out.say(f"would write the profile {options.profile_out}")
    if options.env_file is not None:
        out.say(f"would write the webhook URLs to {options.env_file}")
    out.say("dry run: nothing was sent")
    return out


@contextmanager
def _client(options: ProvisionOptions) -> Iterator[_Api]:
    api = _Api(options, _api_key(options))
    try:
        yield api
    finally:
        api.close()


def _make(
    api: _Api,
    options: ProvisionOptions,
    recorded: dict[str, Any],
    made: dict[str, dict[str, Any]],
    urls: dict[str, str],
    out: Outcome,
) -> None:
    """Reuse or import each story, read its webhook URL, check the missing ID is missing."""
    for role in ROLES:
        entry: dict[str, Any] | None = recorded.get(role)
        state = _still_ours(api, entry) if entry is not None else None
        if entry is not None and state:
            out.say(f'reused story {entry["story_id"]} "{entry["name"]}" ({role})')
            made[role] = entry
        else:
            if entry is not None and state is False:
                out.say(
                    f"story {entry['story_id']} is no longer the one provision made; left alone"
                )
            made[role] = _import(api, options, role)
            out.say(f"imported spec/stories/{role}.json as story {made[role]['story_id']}")
        urls[role] = _webhook_url(api, made[role]["story_id"])
    status, _ = api.call("GET", f"/api/v1/stories/{options.missing_id}")
    if status != 404:
        raise ProvisionError(
            f"story {options.missing_id} answered {status}, not 404; give --missing-id an "
            "ID that does not exist"
        )


def provision(options: ProvisionOptions, *, dry_run: bool = False) -> Outcome:
    """Import what is missing, reuse what is there, write the profile (and the env file)."""
    _check_options(options)
    out = Outcome()
    if dry_run:
        return _plan(options, out)
    record = _recorded(options.profile_out)
    if record and record["team_id"] != options.team_id:
        raise UsageError(
            f"{options.profile_out} records stories in team {record['team_id']}; --remove them "
            "first, or give another --profile-out"
        )
    recorded: dict[str, Any] = record.get("stories", {})
    made: dict[str, dict[str, Any]] = {}
    urls: dict[str, str] = {}
    with _client(options) as api:
        try:
            _make(api, options, recorded, made, urls, out)
        except ConformanceError as exc:
            fresh = [e for r, e in made.items() if e is not recorded.get(r)]
            if not fresh:
                raise
            names = ", ".join(f'story {e["story_id"]} "{e["name"]}"' for e in fresh)
            raise ProvisionError(
                f"{exc}; already imported, and not in a profile: {names}"
            ) from None
    profile = _profile(options, made, urls)
    if options.env_file is not None:
        lines = "".join(f"{URL_ENV[r]}={urls[r]}\n" for r in ROLES)
        _write_private(options.env_file, lines)
        out.say(f"wrote the webhook URLs to {options.env_file} (mode 0600)")
    _write_private(options.profile_out, yaml.safe_dump(profile, sort_keys=False))
    out.say(f"wrote the profile {options.profile_out} (mode 0600)")
    return out


def remove(options: ProvisionOptions, *, dry_run: bool = False) -> Outcome:
    """Delete the stories the profile's record names, if they are still the ones made."""
    _check_options(options)
    out = Outcome()
    record = _recorded(options.profile_out)
    stories = record.get("stories") or {}
    if not stories:
        raise UsageError(f"{options.profile_out}: no `provisioned` record; nothing to remove")
    if dry_run:
        for entry in stories.values():
            out.say(f'would delete story {entry["story_id"]} "{entry["name"]}" if its GUID matches')
        out.say("dry run: nothing was sent")
        return out
    kept = 0
    with _client(options) as api:
        for entry in stories.values():
            state = _still_ours(api, entry)
            if state is None:
                out.say(f"story {entry['story_id']} is already gone")
            elif state is False:
                kept += 1
                out.say(f"story {entry['story_id']} is not the one provision made; left alone")
            else:
                api.expect("DELETE", f"/api/v1/stories/{entry['story_id']}", (200, 204))
                out.say(f'deleted story {entry["story_id"]} "{entry["name"]}"')
    if not kept:
        options.profile_out.unlink()
        out.say(f"removed the profile {options.profile_out}")
        if options.env_file is not None and options.env_file.exists():
            options.env_file.unlink()
            out.say(f"removed {options.env_file}")
    return out
