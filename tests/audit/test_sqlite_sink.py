"""The SQLite sink: the shared contract, plus what only it promises."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from facade.audit import sqlite_sink
from facade.audit.sink import AuditQuery, open_sink
from facade.audit.sqlite_sink import SQLiteSink

from .contract import SinkContract, entry


class TestSQLiteContract(SinkContract):
    kind = "sqlite"
    file = "audit.sqlite3"


def test_default_sink_is_sqlite_in_the_state_dir(tmp_path: Path) -> None:
    for spec in (None, ""):
        sink = open_sink(spec, tmp_path / "state")
        try:
            assert isinstance(sink, SQLiteSink)
            assert sink.path == tmp_path / "state" / "audit.sqlite3"
        finally:
            sink.close()


def test_files_are_private(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "new" / "audit.sqlite3")
    try:
        sink.record(entry())
        files = list((tmp_path / "new").iterdir())
        assert {file.name for file in files} >= {"audit.sqlite3", "audit.sqlite3-wal",
                                                 "audit.sqlite3-incoming"}
        segments = list((tmp_path / "new" / "audit.sqlite3-incoming").iterdir())
        assert segments
        for file in files + segments:  # the database, its -wal and -shm, the segments
            expected = 0o700 if file.is_dir() else 0o600
            assert stat.S_IMODE(file.stat().st_mode) == expected, file
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    finally:
        sink.close()


def test_wal_and_full_sync_by_default(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3")
    try:
        connection = sink._db.connection()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        sink.close()
    normal = SQLiteSink(tmp_path / "audit.sqlite3", synchronous="normal")
    try:
        assert normal._db.connection().execute("PRAGMA synchronous").fetchone()[0] == 1
    finally:
        normal.close()
    with pytest.raises(ValueError, match="NORMAL or FULL"):
        SQLiteSink(tmp_path / "audit.sqlite3", synchronous="OFF")


def test_searches_use_the_indexes(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3")
    try:
        connection = sink._db.connection()

        def plan(sql: str, *values: object) -> str:
            return " ".join(row[-1] for row in connection.execute(
                "EXPLAIN QUERY PLAN " + sql, values))

        assert "access_time" in plan(
            "SELECT id FROM access WHERE time_us >= ? ORDER BY time_us DESC, seq DESC", 0)
        assert "access_client" in plan("SELECT id FROM access WHERE client_id = ?", "c")
        assert "access_patient" in plan("SELECT seq FROM access_patient WHERE patient_id = ?",
                                        "p")
    finally:
        sink.close()


def test_ids_are_opaque_and_unique(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3")
    try:
        ids = [sink.record(entry(second)) for second in range(50)]
        assert len(set(ids)) == 50
        assert all(len(id) == 32 and int(id, 16) >= 0 for id in ids)
    finally:
        sink.close()


# -- the query and the spec, shared by every sink --------------------------------------

@pytest.mark.parametrize(("fields", "message"), [
    ({"outcome": "ok"}, "outcome must be one of success, failure"),
    ({"count": 501}, "count must be 0 to 500"),
    ({"count": -1}, "count must be 0 to 500"),
    ({"offset": -1}, "offset must not be negative"),
    ({"since": "yesterday"}, "not an ISO 8601 date-time"),
    ({"until": "2026-13-01"}, "not an ISO 8601 date-time"),
])
def test_bad_queries_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AuditQuery(**fields)


def test_query_defaults() -> None:
    query = AuditQuery()
    assert (query.count, query.offset, query.since, query.outcome) == (50, 0, None, None)


@pytest.mark.parametrize(("spec", "problem"), [
    ("redis://localhost", "is not a known kind"),
    ("postgres:/tmp/x", "is not a known kind"),
    ("sqlite:", "has no path"),
    ("jsonl:", "has no path"),
])
def test_unknown_specs_are_refused_in_one_line(tmp_path: Path, spec: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        open_sink(spec, tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert repr(spec) in message and problem in message
    assert "'sqlite:PATH', 'jsonl:PATH' or 'off'" in message


def test_ids_sort_in_the_order_entries_were_recorded(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3")
    try:
        ids = [sink.record(entry(second)) for second in range(20)]
        assert ids == sorted(ids)  # so the id index grows at its end
    finally:
        sink.close()


def test_open_sink_passes_the_fsync_policy_on(tmp_path: Path) -> None:
    sink = open_sink(None, tmp_path, fsync="request", fsync_interval=0.5)
    try:
        assert (sink.incoming.fsync, sink.incoming.interval) == ("request", 0.5)
    finally:
        sink.close()


def test_a_database_that_stays_locked_fails_the_statement(monkeypatch) -> None:
    """_retry_busy waits out another process's lock, but not for ever: once its attempts
    are spent (~10 s by default) the statement fails instead of silently not happening."""
    slept: list[float] = []
    monkeypatch.setattr(sqlite_sink.time, "sleep", slept.append)
    tries: list[int] = []

    def locked() -> None:
        tries.append(1)
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_sink._retry_busy(locked, attempts=3)
    assert (len(tries), len(slept)) == (3, 2)
    tries.clear()
    slept.clear()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_sink._retry_busy(locked)
    assert 9 <= sum(slept) <= 11

    def then_free() -> None:
        tries.append(1)
        if len(tries) < 3:
            raise sqlite3.OperationalError("database is locked")

    tries.clear()
    sqlite_sink._retry_busy(then_free, attempts=3)
    assert len(tries) == 3

    def broken() -> None:
        tries.append(1)
        raise sqlite3.OperationalError("no such table: access")

    tries.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        sqlite_sink._retry_busy(broken)
    assert len(tries) == 1  # not a lock: not retried
