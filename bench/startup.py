"""Simulator start-up: a 1,000-patient generated practice must accept connections within 10 s.

Side by side in one run: a 1-patient practice (the process's own start-up cost)
and the 1,000-patient practice, each started three times; the table shows the
median seconds until the port accepts connections.

    .venv/bin/python bench/startup.py [--patients 1000] [--runs 3]

Prints a table and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from common import free_port, print_table, start_facade, stop, write_result

TARGET_SECONDS = 10.0


def time_start(patients: int, scratch: str) -> float:
    port = free_port()
    process, seconds = start_facade("simulator", "--port", str(port), "--patients",
                                    str(patients), "--seed", "7", "--state-dir", scratch,
                                    port=port)
    stop(process)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for patients in (1, args.patients):
            times = [time_start(patients, scratch) for _ in range(args.runs)]
            rows.append([f"{patients} patients", args.runs, statistics.median(times), max(times)])
    print_table(["practice", "runs", "median s", "max s"], rows)
    seconds = rows[-1][2]
    verdict = "PASS" if seconds < TARGET_SECONDS else "FAIL"
    print(f"target: {args.patients} patients listening in < {TARGET_SECONDS:g} s -> {verdict} "
          f"({seconds:.2f} s; {seconds - rows[0][2]:.2f} s beyond a 1-patient start)")
    write_result("startup", {"target_seconds": TARGET_SECONDS, "verdict": verdict,
                             "rows": [dict(zip(["practice", "runs", "median_s", "max_s"], row,
                                               strict=True)) for row in rows]})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
