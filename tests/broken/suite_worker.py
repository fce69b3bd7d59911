"""A worker process that makes several `conformance run`s, one after the other, in-process.

`python suite_worker.py PLANS.json`: PLANS.json is a list of {"argv": [...], "result": PATH,
"log": PATH}. Each run is `conformance.cli.main(argv)`, as the console script would call it; its
exit code goes to `result`, its output to `log`. The runs load suite_first_failure.py (no
shrinking of failing examples). Why a worker: importing the suite and its
dependencies costs seconds, far more than a run against a local target, so a worker pays it once
for many runs. Why a subprocess: the runs are pytest sessions, kept apart from the session that
judges them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path


def main(plans_file: str) -> int:
    from conformance.cli import main as conformance_main

    # This file's folder is sys.path[0], so the plugin is importable by its module name.
    os.environ["PYTEST_PLUGINS"] = "suite_first_failure"

    for plan in json.loads(Path(plans_file).read_text(encoding="utf-8")):
        started = time.monotonic()
        with (
            Path(plan["log"]).open("w", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            try:
                code = conformance_main(plan["argv"])
            except (Exception, SystemExit) as exc:  # one run's crash is its result, not the batch's
                print(f"the run raised {type(exc).__name__}: {exc}", file=log)
                code = -1
        result = {"exit_code": code, "seconds": time.monotonic() - started}
        Path(plan["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
