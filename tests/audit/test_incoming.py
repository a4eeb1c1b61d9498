"""The audit's incoming file and how the SQLite sink takes its lines in."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

from facade.audit import sqlite_sink
from facade.audit.incoming import IncomingFile
from facade.audit.sink import AuditQuery
from facade.audit.sqlite_sink import SQLiteSink

from .contract import entry


def test_request_policy_returns_only_after_an_fdatasync(tmp_path: Path, monkeypatch) -> None:
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    incoming = IncomingFile(tmp_path / "in", fsync="request", interval=5)
    try:
        incoming.append(b"one\n")
        assert synced  # the syncing thread ran for us, long before its 5 s round
        assert incoming.read(0) == ([b"one"], 4)
    finally:
        incoming.close()


def test_interval_policy_syncs_within_the_interval(tmp_path: Path, monkeypatch) -> None:
    synced = threading.Event()
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.set(), real(fd)))
    incoming = IncomingFile(tmp_path / "in", fsync="interval", interval=0.05)
    try:
        incoming.append(b"one\n")
        assert not synced.is_set()  # the request did not wait for the disk
        assert synced.wait(2)
    finally:
        incoming.close()


def test_a_sync_failure_fails_the_waiting_requests(tmp_path: Path, monkeypatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    incoming = IncomingFile(tmp_path / "in", fsync="request", interval=5)
    monkeypatch.setattr(os, "fdatasync", broken)
    try:
        with pytest.raises(OSError, match="could not be synced"):
            incoming.append(b"one\n")
    finally:
        monkeypatch.undo()
        incoming.close()


@pytest.mark.parametrize(("fsync", "interval", "message"), [
    ("never", 0.2, "fsync must be one of interval, request"),
    ("interval", 0, "interval must be over 0"),
    ("interval", 61, "interval must be over 0"),
])
def test_bad_policies_are_refused(tmp_path: Path, fsync: str, interval: float,
                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IncomingFile(tmp_path / "in", fsync=fsync, interval=interval)


def test_a_line_being_written_is_left_for_next_time(tmp_path: Path) -> None:
    incoming = IncomingFile(tmp_path / "in")
    try:
        with open(tmp_path / "in", "ab") as file:
            file.write(b"whole\nhalf")
        assert incoming.read(0) == ([b"whole"], 6)
        assert incoming.read(6) == ([], 6)
    finally:
        incoming.close()


def test_lines_reach_the_index_without_a_search(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.05)
    try:
        id = sink.record(entry())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = sink._db.connection().execute("SELECT 1 FROM access WHERE id = ?",
                                                (id,)).fetchone()
            if row:
                break
            time.sleep(0.02)
        assert row, "the syncing thread did not take the line in"
    finally:
        sink.close()


def test_a_torn_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    try:
        first = sink.record(entry(1))
        with open(sink.incoming.path, "ab") as file:
            file.write(b'{"id":"torn","time":\n')  # what a power cut mid-write could leave
        last = sink.record(entry(2))
        rows, total = sink.search(AuditQuery())
        assert total == 2 and [id for id, _ in rows] == [last, first]
    finally:
        sink.close()


def test_taking_in_twice_adds_nothing_twice(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    try:
        ids = {sink.record(entry(second)) for second in range(5)}
        assert sink.take_in() == 5
        with sink._db.transaction() as connection:  # as if a crash lost the offset
            connection.execute("UPDATE taken_in SET offset = 0")
        assert sink.take_in() == 5  # read again...
        rows, total = sink.search(AuditQuery(patient_id="p1"))
        assert total == 5 and {id for id, _ in rows} == ids  # ...but stored once
    finally:
        sink.close()


def test_emptied_while_threads_record_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_sink, "EMPTY_AFTER", 2000)  # a few entries' worth
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.01)
    ids: list[str] = []

    def record(thread: int) -> None:
        for number in range(150):
            ids.append(sink.record(entry(thread * 1000 + number)))

    try:
        threads = [threading.Thread(target=record, args=(thread,)) for thread in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _, total = sink.search(AuditQuery(count=0))
        assert total == 600
        assert all(sink.get(id) is not None for id in ids[::37])
        assert sink.incoming.size() < 2000 + 4 * 1000  # it was emptied along the way
    finally:
        sink.close()


def test_a_sink_dropped_without_close_takes_its_thread_along(tmp_path: Path) -> None:
    def syncing() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread.name == "audit-sync"}

    before = syncing()
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.02)
    sink.record(entry())
    (its_thread,) = syncing() - before
    del sink
    deadline = time.monotonic() + 5
    while its_thread.is_alive() and time.monotonic() < deadline:
        gc.collect()  # the sink and its file refer to each other
        time.sleep(0.02)
    assert not its_thread.is_alive()


def test_a_line_torn_by_a_crash_is_ended_before_the_next_is_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    SQLiteSink(path).close()
    with open(path.with_name(path.name + ".incoming"), "ab") as file:
        file.write(b'{"id":"torn","ti')  # the power went off mid-write
    sink = SQLiteSink(path)  # a process starting after the crash
    try:
        id = sink.record(entry())
        assert [found for found, _ in sink.search(AuditQuery())[0]] == [id]
    finally:
        sink.close()


def test_close_waits_for_the_syncing_thread(tmp_path: Path) -> None:
    incoming = IncomingFile(tmp_path / "in", interval=0.01)
    incoming.append(b"one\n")
    thread = incoming._thread
    incoming.close()
    assert thread is not None and not thread.is_alive()
