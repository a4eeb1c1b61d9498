"""Work done in separate processes by the audit sink tests (spawned, so importable)."""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from facade.audit.record import AccessRecord
from facade.audit.sink import format_instant, open_sink

#: Set in each pool process: the barrier all processes reach before recording.
_start_line: Any = None


def take_start_line(barrier: Any) -> None:
    """The pool initializer: keep the shared barrier."""
    global _start_line
    _start_line = barrier


def entry(tag: str, number: int) -> AccessRecord:
    return AccessRecord(
        time=format_instant(time.time_ns() // 1000), client_id=tag, scopes="system/Patient.rs",
        interaction="read", resource_type="Patient", patient_ids=(f"{tag}-p{number}",),
        status=200, request_uids=(f"{tag}-uid{number}",), latency_ms=1.0,
        request_id=f"{tag}-{number}")


def record_then_die(spec: str, count: int, tag: str, report: Connection) -> None:
    """Record ``count`` entries, sending each id as soon as ``record()`` returns; then
    SIGKILL this process at once: no close(), no atexit, no interpreter shutdown."""
    sink = open_sink(spec, Path("."))
    for number in range(count):
        report.send(sink.record(entry(tag, number)))  # a synchronous write to the pipe
    os.kill(os.getpid(), signal.SIGKILL)


def record_from_threads(spec: str, threads: int, per_thread: int, tag: str) -> list[str]:
    """``threads`` threads of this process recording ``per_thread`` entries each, all at once
    and at once with the other pool processes (which would otherwise start staggered)."""
    sink = open_sink(spec, Path("."))
    _start_line.wait(timeout=60)
    start = threading.Barrier(threads)
    ids: list[list[str]] = [[] for _ in range(threads)]

    def work(thread: int) -> None:
        start.wait(timeout=60)
        for number in range(per_thread):
            ids[thread].append(sink.record(entry(f"{tag}-t{thread}", number)))

    workers = [threading.Thread(target=work, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sink.close()
    return [id for thread_ids in ids for id in thread_ids]
