"""What the run is doing, on one line of a terminal: phase, step, requests sent, and when
SystmOne's next request and record slots are free. Silent when stderr is not a terminal."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable


class Progress:
    def __init__(self, sent: Callable[[], int],
                 next_free: Callable[[], tuple[float, float]] | None = None,
                 stream=None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.sent = sent
        self.next_free = next_free
        self.phase, self.step = "setup", ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="assure-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join(2)
            self.stream.write("\r" + " " * self._width() + "\r")
            self.stream.flush()

    def enter(self, phase: str) -> None:
        self.phase, self.step = phase, ""

    def announce(self, step: str) -> None:
        self.step = step

    def line(self) -> str:
        parts = [f"[{self.phase}]" + (f" {self.step}" if self.step else ""),
                 f"{self.sent()} SystmOne requests sent"]
        if self.next_free is not None:
            try:
                request, record = self.next_free()
                parts.append(f"next free slot: request {request:.1f} s, record {record:.1f} s")
            except Exception:  # the ledger is being closed: say nothing about it
                pass
        return " · ".join(parts)

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            text = self.line()[: self._width()]
            self.stream.write("\r" + text.ljust(self._width()))
            self.stream.flush()

    @staticmethod
    def _width() -> int:
        return shutil.get_terminal_size((100, 20)).columns - 1
