"""Exit code, wall time and peak memory of `conformance run` against each hostile target, as
`/usr/bin/time -v` reports them: `python -m tests.hostile.measure [DIR]` prints one row each.

The profile and checks are the tests' (tests/hostile/test_hostile_targets.py): a run deadline of
RUN_DEADLINE seconds, 2 s to a first byte, 1 s for the rest of an answer, the default size cap.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.hostile.servers import HostileTarget, serving
from tests.hostile.test_hostile_targets import API_KEY_ENV, CHECKS, write_profile
from tests.support.suite_process import suite_command

# A run still going then is killed (main's code ran 25 minutes against a trickle).
BOUND_SECONDS = 120
# The checks each test runs (the echo and foreign tests choose their own).
CHECKS_OF = {
    "echo": ("STORY-GET-001", "STORY-AUTH-002", "WH-META-010"),
    "foreign": ("WH-RURL-001", "WH-RURL-002", "STORY-AUTH-002"),
}
CASES = [
    ("huge", True),
    ("trickle", True),
    ("garbage", True),
    ("echo", True),
    ("foreign", True),
    ("silent", False),
    ("trickle", False),
    ("garbage", False),
    ("huge", False),
]


def measure(kind: str, door: bool, work: Path) -> dict[str, str]:
    directory = work / f"{kind}-{'after-door' if door else 'at-door'}"
    directory.mkdir(parents=True)
    key = "key-" + secrets.token_urlsafe(24)
    with serving(HostileTarget("echo", door=False)) as elsewhere:
        target = HostileTarget(kind, door=door, foreign_url=elsewhere.base_url)
        with serving(target):
            profile = write_profile(directory, target.base_url, "secret" + secrets.token_hex(12))
            command = ["/usr/bin/time", "-v", *suite_command("run")]
            command += ["--profile", str(profile), "--report-dir", str(directory / "reports")]
            command += ["--retries", "0", "--max-examples", "1"]
            command += [f"--only={rid}" for rid in CHECKS_OF.get(kind, CHECKS)]
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, API_KEY_ENV: key},
                start_new_session=True,  # so that a run past the bound goes with its time
            )
            try:
                _, stats = process.communicate(timeout=BOUND_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return {
                    "target": directory.name,
                    "exit": "-",
                    "wall": f">{BOUND_SECONDS}s",
                    "peak MB": "?",
                    "report": "killed",
                }
    wall = re.search(r"Elapsed \(wall clock\) time .*: (\S+)", stats)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stats)
    return {
        "target": directory.name,
        "exit": str(process.returncode),
        "wall": wall.group(1) if wall else "?",
        "peak MB": f"{int(rss.group(1)) / 1024:.0f}" if rss else "?",
        "report": "yes" if (directory / "reports" / "summary.json").exists() else "no",
    }


def main() -> None:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="hostile-"))
    print(" ".join(sys.argv))
    print(f"{'target':<20} exit  wall      peak MB  report")
    for kind, door in CASES:
        row = measure(kind, door, work)
        cells = (row["target"], row["exit"], row["wall"], row["peak MB"], row["report"])
        print("{:<20} {:<5} {:<9} {:<8} {}".format(*cells))


if __name__ == "__main__":
    main()
