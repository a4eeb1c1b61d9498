"""Helpers shared by the benchmarks: processes, ports, tables, result files."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_facade(*args: str, port: int, timeout: float = 60) -> tuple[subprocess.Popen, float]:
    """Start ``facade ARGS`` and wait until ``port`` accepts; returns it and seconds taken."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "facade", *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"facade {' '.join(args)} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    process.kill()
    raise RuntimeError(f"facade {' '.join(args)} did not listen on {port} in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def print_table(columns: list[str], rows: list[list]) -> None:
    widths = [max(len(str(c)), *(len(_cell(r[i])) for r in rows)) for i, c in enumerate(columns)]
    print("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                    for i, (c, w) in enumerate(zip(columns, widths, strict=True))))
    for row in rows:
        print("  ".join(f"{_cell(v):<{w}}" if i == 0 else f"{_cell(v):>{w}}"
                        for i, (v, w) in enumerate(zip(row, widths, strict=True))))


def _cell(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_result(name: str, result: dict) -> Path:
    result = {"benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              **result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
