"""What the processes the tests start write to their logs, kept for the PHI scan.

A test that starts ``facade``, gunicorn or a simulator in a process of its own hands
what that process logged to ``keep``, saying which generated practice it served (when
not the session's ``practice``). tests/test_logs_phi.py scans every kept log, last,
for that practice's identifiers and for tokens, as it scans the in-process logs.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratedSpec:
    """A generated practice as the command line names it."""

    patients: int
    seed: int
    as_of: dt.date | None = None


@dataclass(frozen=True)
class ProcessLog:
    name: str
    text: str
    practice: GeneratedSpec | None  # None: the session's practice
    test: str


KEPT: list[ProcessLog] = []


def keep(name: str, text: str | bytes | None, practice: GeneratedSpec | None = None) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text:
        KEPT.append(ProcessLog(name, text, practice, os.environ.get("PYTEST_CURRENT_TEST", "")))


def spec_from_arguments(args: list[str]) -> GeneratedSpec | None:
    """The practice a ``facade simulator``/``facade demo`` command line generates (the
    simulator's defaults: 100 patients, seed 1, histories ending today)."""
    def value(flag: str) -> str | None:
        return args[args.index(flag) + 1] if flag in args else None

    if value("--practice") is not None:
        return None
    as_of = value("--as-of")
    return GeneratedSpec(int(value("--patients") or 100), int(value("--seed") or 1),
                         dt.date.fromisoformat(as_of) if as_of else None)
