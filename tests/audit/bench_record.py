"""Time ``record()`` per backend and setting: ``python -m tests.audit.bench_record [DIR]``.

DIR (default: a temporary directory) should be on the disk the state dir
will use: the figures are mostly that disk's fsync time.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from facade.audit.jsonl_sink import JSONLSink
from facade.audit.record import AccessRecord
from facade.audit.sqlite_sink import SQLiteSink

ENTRY = AccessRecord(
    time="2026-11-01T12:00:00.000000Z", client_id="bench", scopes="system/Patient.rs",
    interaction="read", resource_type="Patient", patient_ids=("p1",), status=200,
    request_uids=("uid-1",), latency_ms=12.5, request_id="r-1")


def main(directory: Path, n: int = 2000) -> None:
    sinks = {
        "sqlite NORMAL": SQLiteSink(directory / "normal.sqlite3", synchronous="NORMAL"),
        "sqlite FULL": SQLiteSink(directory / "full.sqlite3", synchronous="FULL"),
        "jsonl (fdatasync)": JSONLSink(directory / "audit.jsonl"),
    }
    for name, sink in sinks.items():
        times = []
        for _ in range(n):
            start = time.perf_counter()
            sink.record(ENTRY)
            times.append(time.perf_counter() - start)
        sink.close()
        times.sort()
        print(f"{name:18} median {statistics.median(times) * 1000:.3f} ms"
              f"  p99 {times[int(n * 0.99)] * 1000:.3f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as temporary:
            main(Path(temporary))
