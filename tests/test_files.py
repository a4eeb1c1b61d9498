"""Folders and files holding keys, ids, the audit and PHI are their owner's only, however
deep the state dir is made and whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from facade.files import private_dir, private_file
from simulator.store import SimulatorStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_every_missing_folder_is_made_0700(tmp_path):
    made = private_dir(tmp_path / "a" / "b" / "c")
    assert made == tmp_path / "a" / "b" / "c"
    for folder in (tmp_path / "a", tmp_path / "a" / "b", made):
        assert mode(folder) == 0o700, folder


def test_an_existing_folder_keeps_its_mode(tmp_path):
    (tmp_path / "shared").mkdir(mode=0o750)
    os.chmod(tmp_path / "shared", 0o750)
    private_dir(tmp_path / "shared" / "inner")
    assert mode(tmp_path / "shared") == 0o750 and mode(tmp_path / "shared" / "inner") == 0o700


def test_a_private_file_is_0600_and_kept(tmp_path):
    path = private_file(tmp_path / "state" / "db.sqlite3")
    assert mode(path) == 0o600 and mode(tmp_path / "state") == 0o700
    path.write_text("kept")
    private_file(path)
    assert path.read_text() == "kept"


def test_the_simulators_message_audit_is_private(tmp_path):
    store = SimulatorStore(tmp_path / "demo" / "simulator" / "simulator.sqlite3")
    store.record_message(request_uid="r", response_uid="s", device_id="d", function="F",
                         outcome="ok", error=None, request_xml=b"<x/>", response_xml=b"<y/>")
    assert mode(tmp_path / "demo") == 0o700 and mode(tmp_path / "demo" / "simulator") == 0o700
    for name in os.listdir(tmp_path / "demo" / "simulator"):
        assert mode(tmp_path / "demo" / "simulator" / name) == 0o600, name
