"""The fuzz suite in bench mode: tests/fuzz with many more cases than CI's 2,400.

Runs pytest on tests/fuzz with FACADE_FUZZ_EXAMPLES set (the cases across the suite,
shared by its tests as in CI) and a fresh seed per run unless --derandomize, then prints
the answers' statuses per test and writes bench/results/fuzz.json. Exits 1 when a
property failed (pytest's output names the falsifying case).

    .venv/bin/python bench/fuzz.py [--examples 20000] [--derandomize]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import REPO, print_table, write_result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--derandomize", action="store_true",
                        help="the CI cases (a fixed seed) instead of new ones")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "tally.json"
        env = {**os.environ, "FACADE_FUZZ_EXAMPLES": str(args.examples),
               "FACADE_FUZZ_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "--timeout=0", "tests/fuzz"]
        if not args.derandomize:
            command += ["--hypothesis-seed", str(time.time_ns() % 2**32)]
        started = time.perf_counter()
        outcome = subprocess.run(command, cwd=REPO, env=env)
        seconds = time.perf_counter() - started
        tally = json.loads(report.read_text()) if report.exists() else []
    return summarise(tally, seconds, args.examples, outcome.returncode == 0)


def summarise(tally: list[dict], seconds: float, examples: int, passed: bool) -> int:
    statuses = sorted({row["status"] for row in tally})
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for row in tally:
        counts[row["test"]][row["status"]] = row["count"]
    rows = [[test, *(by_status.get(status, 0) for status in statuses), sum(by_status.values())]
            for test, by_status in sorted(counts.items())]
    total = sum(row["count"] for row in tally)
    print_table(["test", *map(str, statuses), "requests"], rows)
    print(f"{total} requests in {seconds:.1f} s ({total / seconds:.0f}/s); "
          f"5xx: {sum(r['count'] for r in tally if r['status'] >= 500)}; "
          f"properties {'held' if passed else 'FAILED'}")
    write_result("fuzz", {"examples": examples, "requests": total, "seconds": round(seconds, 1),
                          "passed": passed, "statuses": tally})
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
