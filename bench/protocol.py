"""Protocol cost: client round trips against the simulator with both intervals at 0.

The simulator runs in its own process (as a SystmOne client would), serving a
practice folder with two records: a typical one, asked for with a
Demographics-only filter, and one of about 1 MB, asked for whole. The client
is the product's own ``SystmOneClient`` over a real TCP connection. Target:
p50 under 1 ms for the demographics record.

    .venv/bin/python bench/protocol.py [--requests 2000] [--full-requests 50]

Prints a table and writes bench/results/protocol.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import free_port, print_table, start_facade, stop, write_result
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.identity import Identity
from facade.upstream.client import DEMO_API_KEY, SystmOneClient
from facade.upstream.transport import SocketTransport, Timeouts
from simulator.practice.generator import GeneratedPractice

TARGET_P50_MS = 1.0
FULL_RECORD_BYTES = 1024 * 1024


def write_practice(folder: Path) -> tuple[Identity, Identity, int]:
    """A typical record and one grown to about 1 MB; returns their identities and its size."""
    typical = GeneratedPractice(1, seed=11).record(0)
    scale, big = 1.0, None
    while True:
        big = GeneratedPractice(2, seed=12, history_scale=scale).record(1)
        size = len(etree.tostring(big))
        if size >= FULL_RECORD_BYTES:
            break
        scale *= max(1.2, FULL_RECORD_BYTES / size)
    (folder / "typical.xml").write_bytes(etree.tostring(typical))
    (folder / "large.xml").write_bytes(etree.tostring(big))
    return (Identity.from_element(typical.find("Identity")),
            Identity.from_element(big.find("Identity")), size)


def measure(call, requests: int) -> dict:
    for _ in range(min(50, requests)):
        call()  # warm-up: connection, caches, code paths
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": requests,
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 3),
        "requests_per_s": round(requests / elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--full-requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        practice, state = Path(scratch) / "practice", Path(scratch) / "state"
        practice.mkdir()
        typical, large, large_size = write_practice(practice)
        port = free_port()
        process, _ = start_facade("simulator", "--practice", str(practice), "--port", str(port),
                                  "--request-interval", "0", "--record-interval", "0",
                                  "--state-dir", str(state), port=port)
        try:
            client = SystmOneClient(SocketTransport("127.0.0.1", port, Timeouts(5, 30)),
                                    api_key=DEMO_API_KEY)
            demographics = fn.RecordFilter.demographics_only()
            sizes = {}

            def sized(name, call):
                def wrapper():
                    body = call()
                    sizes[name] = len(etree.tostring(body))
                return wrapper
            rows = {
                "GetFunctions": measure(sized("GetFunctions", lambda: client.call(
                    fn.GET_FUNCTIONS).body), args.requests),
                "GetPatientRecord demographics": measure(sized(
                    "GetPatientRecord demographics",
                    lambda: client.get_patient_record(typical, demographics)), args.requests),
                "GetPatientRecord full ~1 MB": measure(sized(
                    "GetPatientRecord full ~1 MB",
                    lambda: client.get_patient_record(large)), args.full_requests),
            }
            client.close()
        finally:
            stop(process)
    for name, row in rows.items():
        row["response_bytes"] = sizes[name]
    print_table(["case", "n", "p50 ms", "p99 ms", "req/s", "bytes"],
                [[name, row["requests"], row["p50_ms"], row["p99_ms"], row["requests_per_s"],
                  row["response_bytes"]] for name, row in rows.items()])
    p50 = rows["GetPatientRecord demographics"]["p50_ms"]
    verdict = "PASS" if p50 < TARGET_P50_MS else "FAIL"
    print(f"target: demographics p50 < {TARGET_P50_MS} ms -> {verdict} ({p50} ms); "
          f"large record file {large_size} bytes")
    write_result("protocol", {"target_p50_ms": TARGET_P50_MS, "verdict": verdict,
                              "large_record_bytes": large_size, "rows": rows})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
