"""An assurance run against the built-in simulator on a compressed clock, shared by the
tests that read its evidence pack (one run: it takes seconds, not milliseconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facade.cli import main
from tests.conftest import AS_OF

#: SystmOne's 1 s and 30 s, compressed twentyfold and sixtyfold.
REQUEST_INTERVAL, RECORD_INTERVAL = "0.05", "0.5"
#: The session's practice (tests/conftest.py), so the whole-run log scan knows its patients.
PRACTICE = ("--patients", "40", "--seed", "7", "--as-of", AS_OF.isoformat())


def assure(tmp: Path, *extra: str):
    return CliRunner().invoke(main, [
        "assure", "--report", str(tmp / "report"), "--state-dir", str(tmp / "state"),
        "--request-interval", REQUEST_INTERVAL, "--record-interval", RECORD_INTERVAL,
        *PRACTICE, *extra])


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """The evidence pack of one run: its folder, report.json and the command's result."""
    tmp = tmp_path_factory.mktemp("assure")
    result = assure(tmp)
    folder = tmp / "report"
    report = json.loads((folder / "report.json").read_text()) \
        if (folder / "report.json").exists() else None
    return folder, report, result
