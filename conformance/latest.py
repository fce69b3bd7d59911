"""`reports/latest`: the link to the newest run's report directory, when no directory was given."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LATEST = "latest"


def point_latest_at(directory: Path) -> None:
    """`reports/latest` -> this run's directory, replaced in one step so that a reader never
    finds it missing. Where symbolic links cannot be made, the link is left as it was."""
    link = directory.parent / LATEST
    staging = directory.parent / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(OSError):
        staging.unlink(missing_ok=True)
        staging.symlink_to(directory.name, target_is_directory=True)
        os.replace(staging, link)
