"""What `conformance provision` reads and writes on disk: its options, the `provisioned` record
of an existing profile, and the new profile (and env file), written for the owner's eyes only.

The record (each story's ID, name and GUID as the import answered them) is what makes a second
run idempotent and `--remove` safe; a file without one is someone's own profile, never
overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema.exceptions import best_match

import tines_spec
from conformance.errors import ProfileError, UsageError
from conformance.provision_api import REQUEST_TIMEOUT_SECONDS, ProvisionError
from conformance.yamlfile import field_of, message_of, read_yaml

__all__ = [
    "DEFAULT_MISSING_ID",
    "ROLES",
    "URL_ENV",
    "ProvisionOptions",
    "check_options",
    "profile_of",
    "read_record",
    "recorded_target",
    "write_private",
]

ROLES = ("probe", "race")
URL_ENV = {"probe": "TINES_PROBE_URL", "race": "TINES_RACE_URL"}
DEFAULT_MISSING_ID = 999_999_999


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


def check_options(options: ProvisionOptions) -> None:
    parts = urlsplit(options.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise UsageError(f"--tenant: {options.base_url} is not a base URL like https://x.tines.com")
    if options.team_id < 1:
        raise UsageError("--team-id must be a positive integer")


def read_record(path: Path) -> dict[str, Any]:
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
        raise ProfileError(str(path), "provisioned." + field_of(error, "."), message_of(error))
    loaded: dict[str, Any] = record
    return loaded


def recorded_target(path: Path) -> tuple[str, int]:
    """The tenant and team a provisioned profile names: what `--remove` acts on by default."""
    record = read_record(path)
    if not record:
        raise UsageError(f"{path}: no such profile; nothing to remove")
    target = read_yaml(path, ProfileError).get("target")
    base_url = target.get("base_url") if isinstance(target, dict) else None
    if not isinstance(base_url, str):
        raise ProfileError(str(path), "target.base_url", "missing: give --tenant")
    return base_url, int(record["team_id"])


def profile_of(
    options: ProvisionOptions, made: dict[str, dict[str, Any]], urls: dict[str, str]
) -> dict[str, Any]:
    """The profile for the stories made (by role) and their webhook URLs, checked valid."""
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


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it may hold webhook secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
