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

This module holds the steps (plan, import or reuse, remove); the bounded API calls are in
`provision_api.py`, the options, the record and the profile written in `provision_profile.py`.
The webhook secrets are registered with `conformance.redaction` before anything could print them.
Errors are one line (`ProvisionError`, `TargetUnreachable`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

import tines_spec
from conformance import redaction
from conformance.errors import ConformanceError, UsageError
from conformance.provision_api import ProvisionError, TenantApi, api_key
from conformance.provision_profile import (
    DEFAULT_MISSING_ID,
    ROLES,
    URL_ENV,
    ProvisionOptions,
    check_options,
    profile_of,
    read_record,
    recorded_target,
    write_private,
)

__all__ = [
    "DEFAULT_MISSING_ID",
    "ROLES",
    "ProvisionError",
    "ProvisionOptions",
    "provision",
    "recorded_target",
    "remove",
]

WEBHOOK_TYPE = "Agents::WebhookAgent"
_ACTIONS_PER_PAGE = 500


@dataclass
class Outcome:
    """What a run did, line by line, for the CLI to print (secrets already masked)."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(redaction.redact(line))


def _story_export(role: str) -> dict[str, Any]:
    """The role's export file with a fresh webhook path and secret in place of the file's."""
    data = tines_spec.story_export(role)
    for agent in data["agents"]:
        if agent["type"] == WEBHOOK_TYPE:
            agent["options"]["path"] = secrets.token_hex(16)
            agent["options"]["secret"] = secrets.token_hex(16)
    return data


def _still_ours(api: TenantApi, entry: dict[str, Any]) -> bool | None:
    """True: the recorded story is there with its name and GUID; None: gone; False: not ours."""
    status, body = api.call("GET", f"/api/v1/stories/{int(entry['story_id'])}")
    if status == 404:
        return None
    if status != 200 or not isinstance(body, dict):
        raise ProvisionError(f"GET /api/v1/stories/{entry['story_id']}: answered {status}")
    return body.get("name") == entry.get("name") and body.get("guid") == entry.get("guid")


def _webhook_url(api: TenantApi, story_id: int) -> str:
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


def _import(api: TenantApi, options: ProvisionOptions, role: str) -> dict[str, Any]:
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


def _plan(options: ProvisionOptions, out: Outcome) -> Outcome:
    record = read_record(options.profile_out).get("stories", {})
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
def _client(options: ProvisionOptions) -> Iterator[TenantApi]:
    api = TenantApi(
        options.base_url,
        api_key(options.api_key_env),
        timeout=options.timeout,
        verify_tls=options.verify_tls,
    )
    try:
        yield api
    finally:
        api.close()


def _make(
    api: TenantApi,
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
    check_options(options)
    out = Outcome()
    if dry_run:
        return _plan(options, out)
    record = read_record(options.profile_out)
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
    profile = profile_of(options, made, urls)
    if options.env_file is not None:
        lines = "".join(f"{URL_ENV[r]}={urls[r]}\n" for r in ROLES)
        write_private(options.env_file, lines)
        out.say(f"wrote the webhook URLs to {options.env_file} (mode 0600)")
    write_private(options.profile_out, yaml.safe_dump(profile, sort_keys=False))
    out.say(f"wrote the profile {options.profile_out} (mode 0600)")
    return out


def remove(options: ProvisionOptions, *, dry_run: bool = False) -> Outcome:
    """Delete the stories the profile's record names, if they are still the ones made."""
    check_options(options)
    out = Outcome()
    record = read_record(options.profile_out)
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
