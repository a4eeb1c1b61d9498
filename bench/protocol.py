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
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facade.protocol import functions as fn  # noqa: E402
from facade.protocol.identity import Identity  # noqa: E402
from facade.upstream.client import DEMO_API_KEY, SystmOneClient  # noqa: E402
from facade.upstream.transport import SocketTransport, Timeouts  # noqa: E402
from simulator.practice.generator import GeneratedPractice  # noqa: E402

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_simulator(practice: Path, state: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "facade", "simulator", "--practice", str(practice),
               "--port", str(port), "--request-interval", "0", "--record-interval", "0",
               "--state-dir", str(state)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("simulator did not start")


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
        process = start_simulator(practice, state, port)
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
            process.terminate()
            process.wait(10)
    for name, row in rows.items():
        row["response_bytes"] = sizes[name]
    print(f"{'case':<32} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9} {'bytes':>9}")
    for name, row in rows.items():
        print(f"{name:<32} {row['requests']:>6} {row['p50_ms']:>9.3f} {row['p99_ms']:>9.3f} "
              f"{row['requests_per_s']:>9.1f} {row['response_bytes']:>9}")
    p50 = rows["GetPatientRecord demographics"]["p50_ms"]
    verdict = "PASS" if p50 < TARGET_P50_MS else "FAIL"
    print(f"target: demographics p50 < {TARGET_P50_MS} ms -> {verdict} ({p50} ms); "
          f"large record file {large_size} bytes")
    result = {"benchmark": "protocol", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "target_p50_ms": TARGET_P50_MS, "verdict": verdict, "rows": rows}
    out = REPO / "bench" / "results" / "protocol.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
