"""The exit codes of `conformance run` and `demo`: the one table the CLI, the plugin and CI rely on.

0 every requirement at the chosen levels passed (or is not observable over HTTP); 1 a requirement
failed or was blocked, or the run shows less than that (one skipped or untested, or a run limited
with --only): exactly when `conformance gate` without expectations fails; 2 a usage or profile
error; 3 set-up failed (the target cannot be reached, the reference would not start); 4 the run
deadline was reached (the partial report is written); 130 interrupted (Ctrl-C; the partial report is
written)."""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_DEADLINE = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 128 + 13  # as if killed by SIGPIPE, like other shell tools

# The table as `conformance run --help` prints it.
EXIT_CODES_HELP = (
    f"exit codes: {EXIT_PASSED} every requirement at the chosen levels passed; "
    f"{EXIT_FAILED} a requirement failed or was blocked, or some were not shown (as the gate "
    f"says); {EXIT_USAGE} usage or profile error; "
    f"{EXIT_UNREACHABLE} set-up failed (target unreachable, etc.); "
    f"{EXIT_DEADLINE} run deadline reached (partial report written); "
    f"{EXIT_INTERRUPTED} interrupted (Ctrl-C)"
)


def _help(*codes: tuple[int, str]) -> str:
    return "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in codes)


_USAGE = (EXIT_USAGE, "usage error, or a file that cannot be read (one line says which)")

# `conformance check-setup` sends only the set-up check's requests and writes no report.
SETUP_EXIT_CODES_HELP = _help(
    (EXIT_PASSED, "the set-up is right"),
    (EXIT_USAGE, "usage or profile error"),
    (
        EXIT_UNREACHABLE,
        "set-up failed (one line per problem, naming the URL and the README section to read)",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
GATE_EXIT_CODES_HELP = _help(
    (EXIT_PASSED, "the run may go on"), (EXIT_FAILED, "it may not (the lines say why)"), _USAGE
)
COMPARE_EXIT_CODES_HELP = _help(
    (EXIT_PASSED, "no requirement newly fails"),
    (EXIT_FAILED, "a requirement newly fails"),
    _USAGE,
)
DONE_EXIT_CODES_HELP = _help((EXIT_PASSED, "done"), _USAGE)
PROVISION_EXIT_CODES_HELP = _help(
    (EXIT_PASSED, "done"),
    (EXIT_FAILED, "the tenant answered but refused (one line says which request and why)"),
    _USAGE,
    (EXIT_UNREACHABLE, "the tenant cannot be reached"),
)
COMMANDS_HELP = (
    f"Each command's --help gives its exit codes; {EXIT_USAGE} is always a usage error. "
    "The README says how to set up a target and read the reports."
)
