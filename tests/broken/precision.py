"""Print how precisely the suite blames the broken variants: how many it catches, how many it
blames for their own requirement(s) only, and the total of wrong blames.

    .venv/bin/python -m tests.broken.precision [NAME-SUBSTRING ...]

Each variant is run as the tests run it (`exact.py`: with every requirement of its group), two
runs at a time; with substrings, only the variants whose names contain one. About as long as
`pytest tests/broken`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .exact import group_ids, group_of, precision
from .suite_runs import RunPlan, run_all
from .targets import broken_targets
from .variants import VARIANTS


def main(argv: list[str]) -> int:
    names = sorted(n for n in VARIANTS if not argv or any(part in n for part in argv))
    selected = [VARIANTS[name] for name in names]
    with tempfile.TemporaryDirectory(prefix="precision-") as tmp:
        workdir = Path(tmp)
        shared = {v.name: v.mutation for v in selected if not v.limit_test}
        isolated = {v.name: v.mutation for v in selected if v.limit_test}
        with broken_targets(workdir, shared, isolated) as targets:
            plans = [
                RunPlan(
                    v.name,
                    targets[v.name],
                    group_ids(group_of(v.requirement)),
                    v.limit_test,
                    v.slow,
                )
                for v in selected
            ]
            runs = run_all(plans, workdir)
    result = precision((v.name, v.requirement, runs[v.name].summary) for v in selected)
    for line in result.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
