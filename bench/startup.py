"""Start-up: a 1,000-patient simulator accepting connections, and `facade demo` with 200
patients answering GET /fhir/metadata, each within 10 s.

Side by side in one run: a 1-patient simulator (the process's own start-up
cost), the 1,000-patient simulator, and the 200-patient demo (simulator plus
FHIR API), each started three times; the table shows the median seconds until
the port accepts connections (the demo: until /fhir/metadata answers 200).

    .venv/bin/python bench/startup.py [--patients 1000] [--runs 3]

Prints a table and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request

from common import free_port, print_table, start_facade, stop, write_result

TARGET_SECONDS = 10.0


def time_start(patients: int, scratch: str) -> float:
    port = free_port()
    process, seconds = start_facade("simulator", "--port", str(port), "--patients",
                                    str(patients), "--seed", "7", "--state-dir", scratch,
                                    port=port)
    stop(process)
    return seconds


def time_demo(patients: int, scratch: str) -> float:
    port = free_port()
    started = time.perf_counter()
    process, _ = start_facade("demo", "--port", str(port), "--patients", str(patients),
                              "--state-dir", scratch, port=port)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/fhir/metadata",
                                            timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
    finally:
        stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for patients in (1, args.patients):
            times = [time_start(patients, scratch) for _ in range(args.runs)]
            rows.append([f"simulator, {patients} patients", args.runs, statistics.median(times),
                         max(times)])
        demo = [time_demo(200, scratch) for _ in range(args.runs)]
        rows.append(["demo, 200 patients (metadata 200)", args.runs, statistics.median(demo),
                     max(demo)])
    print_table(["what", "runs", "median s", "max s"], rows)
    seconds, demo_seconds = rows[1][2], rows[2][2]
    verdict = "PASS" if max(seconds, demo_seconds) < TARGET_SECONDS else "FAIL"
    print(f"target: simulator with {args.patients} patients and demo with 200 ready in "
          f"< {TARGET_SECONDS:g} s -> {verdict} ({seconds:.2f} s, {demo_seconds:.2f} s)")
    write_result("startup", {"target_seconds": TARGET_SECONDS, "verdict": verdict,
                             "rows": [dict(zip(["what", "runs", "median_s", "max_s"], row,
                                               strict=True)) for row in rows]})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
