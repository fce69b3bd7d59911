"""`conformance provision`: its options, and the call into `conformance.provision`.

Exit codes: 0 done (or planned, with --dry-run); 1 the target answered, but not as provisioning
needs (a refused key, an import it rejected); 2 a usage error (a missing key variable, a bad URL,
a profile provision did not write); 3 the target cannot be reached. Each error is one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance.errors import TargetUnreachable, UsageError
from conformance.exit_codes import (
    EXIT_FAILED,
    EXIT_PASSED,
    EXIT_UNREACHABLE,
    PROVISION_EXIT_CODES_HELP,
)
from conformance.provision import (
    DEFAULT_MISSING_ID,
    ProvisionError,
    ProvisionOptions,
    recorded_target,
)
from conformance.provision import provision as run_provision
from conformance.provision import remove as run_remove

__all__ = ["add_command", "dispatch"]

COMMAND = "provision"


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `provision` to the `conformance` parser's subcommands."""
    parser = commands.add_parser(
        COMMAND,
        help="import the probe and race stories into a tenant and write a profile for them",
        description="Import spec/stories/probe.json and race.json into the tenant (POST "
        "/api/v1/stories/import), read their webhook URLs back, and write a profile that is "
        "ready for `conformance run`. A second run reuses the stories it made; --remove "
        "deletes them (and no other story). The API key is read from TINES_API_KEY.",
        epilog=PROVISION_EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--tenant", metavar="URL", help="https://x.tines.com (with --remove: the profile's)"
    )
    parser.add_argument(
        "--team-id",
        type=int,
        metavar="N",
        help="the team to import into (with --remove: the profile's)",
    )
    parser.add_argument(
        "--profile-out",
        required=True,
        type=Path,
        metavar="FILE",
        help="the profile to write (mode 0600)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the webhook URLs here (TINES_PROBE_URL=..., mode 0600) and name the variables "
        "in the profile, which then holds no secret",
    )
    parser.add_argument(
        "--folder-id", type=int, default=None, metavar="N", help="import into this folder"
    )
    parser.add_argument(
        "--missing-id",
        type=int,
        default=DEFAULT_MISSING_ID,
        metavar="N",
        help="a story ID that does not exist on the tenant, checked to answer 404 "
        f"({DEFAULT_MISSING_ID})",
    )
    parser.add_argument(
        "--api-key-env", default="TINES_API_KEY", metavar="NAME", help="(TINES_API_KEY)"
    )
    parser.add_argument(
        "--name", default=None, help="the profile's name (default: the tenant's host)"
    )
    parser.add_argument(
        "--exit-timeout",
        type=float,
        default=None,
        metavar="S",
        help="the target's exit timeout, for the profile, when it is not Tines' 30 s",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what it would do; send nothing")
    parser.add_argument(
        "--remove", action="store_true", help="delete the stories the profile says provision made"
    )


def dispatch(args: argparse.Namespace) -> int | None:
    """Run `provision` if it is the command; None if it is another module's."""
    if args.command != COMMAND:
        return None
    tenant, team_id = args.tenant, args.team_id
    if args.remove and (tenant is None or team_id is None):
        recorded_tenant, recorded_team = recorded_target(args.profile_out)
        tenant = tenant or recorded_tenant
        team_id = recorded_team if team_id is None else team_id
    if tenant is None or team_id is None:
        raise UsageError("provision needs --tenant URL and --team-id N")
    options = ProvisionOptions(
        base_url=tenant,
        team_id=team_id,
        profile_out=args.profile_out,
        api_key_env=args.api_key_env,
        env_file=args.env_file,
        folder_id=args.folder_id,
        missing_id=args.missing_id,
        name=args.name,
        exit_timeout=args.exit_timeout,
    )
    action = run_remove if args.remove else run_provision
    try:
        outcome = action(options, dry_run=args.dry_run)
    except TargetUnreachable as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ProvisionError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in outcome.lines:
        print(f"conformance provision: {line}")
    return EXIT_PASSED
