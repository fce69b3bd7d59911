"""Why a run could not even start, as exceptions the CLI turns into one line and an exit code.

    ConformanceError            anything the suite reports as a one-line error, never a traceback
    ├── UsageError              a bad option or an unknown requirement ID (exit 2)
    ├── FileFieldError          a file the user gave is unreadable, malformed or invalid: the
    │   │                       message names the file and the field at fault (exit 2)
    │   ├── ProfileError        the profile, or the API key's environment variable is unset
    │   └── ExpectationsError   the expectations file (conformance.expectations)
    └── TargetUnreachable       the target's base URL gives no HTTP answer at all (exit 3)

A check that fails is not an error of this kind: it raises `conformance.result.CheckFailure`.
"""

from __future__ import annotations

__all__ = ["ConformanceError", "FileFieldError", "ProfileError", "TargetUnreachable", "UsageError"]


class ConformanceError(Exception):
    """The root: its message is one line, fit to print after `conformance: `."""


class UsageError(ConformanceError):
    pass


class FileFieldError(ConformanceError):
    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


class ProfileError(FileFieldError):
    pass


class TargetUnreachable(ConformanceError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url} : {reason}")
