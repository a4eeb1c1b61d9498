"""The embedded store: one SQLite file in the state dir, shared by every process of a machine.

WAL lets readers go on while one process writes; ``busy_timeout`` makes a
writer wait its turn instead of failing. Each thread of each process has its
own connection (a connection must not cross threads or a fork). Every
statement is parameterised: keys are arbitrary caller strings.

The slot ledger's times are ``time.monotonic()`` microseconds. That clock is
system-wide on Linux, so all processes share it, and unlike the wall clock it
cannot jump, which would let two starts land closer than an interval. It
restarts at boot, so ledger rows carry the boot id; rows of an earlier boot
are ignored and removed.

Booking and releasing a slot (a booking never sent) each run in one
``BEGIN IMMEDIATE`` transaction, so a release's compare (is the record slot
still the one this booking wrote?) and its set cannot straddle another
process's booking.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path

from ..sqlitedb import ThreadConnections
from .slots import Booking, SlotRule, earliest_start
from .store import Store, check_ttl

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL  -- time.time() seconds, NULL for never
);
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS slot_requests (
    boot TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    PRIMARY KEY (boot, endpoint, start_us)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slot_records (
    boot TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    next_us INTEGER NOT NULL,
    PRIMARY KEY (boot, endpoint)
) WITHOUT ROWID;
"""
#: Expired values are swept after this many writes through one store.
SWEEP_EVERY = 256


class SQLiteStore(Store):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadConnections(self.path, _configure)
        self._boot = _boot_id()
        self._writes = itertools.count(1)
        self._create_schema()

    def _create_schema(self) -> None:
        # Switching to WAL does not wait for a busy database the way statements do,
        # so processes opening a new file together take the writers' turn. WAL is
        # kept in the file: later connections need not ask for it.
        with self._db.writing() as connection:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(SCHEMA)
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM slot_requests WHERE boot != ?", (self._boot,))
            connection.execute("DELETE FROM slot_records WHERE boot != ?", (self._boot,))

    # -- key/value ---------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        row = self._db.connection().execute(
            "SELECT value FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (key, time.time())).fetchone()
        return bytes(row[0]) if row else None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_ttl(ttl)
        with self._db.writing() as connection:
            connection.execute(
                "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, expires = excluded.expires",
                (key, bytes(value), _expiry(ttl)))
        self._sweep_now_and_then()

    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        check_ttl(ttl)
        # One statement, so atomic: insert, or take over a row that has expired.
        with self._db.writing() as connection:
            cursor = connection.execute(
                "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, expires = excluded.expires"
                " WHERE kv.expires IS NOT NULL AND kv.expires <= ?",
                (key, bytes(value), _expiry(ttl), time.time()))
        self._sweep_now_and_then()
        return cursor.rowcount == 1

    def delete(self, key: str, expected: bytes | None = None) -> bool:
        now = time.time()
        if expected is None:
            sql, values = "DELETE FROM kv WHERE key = ?", (key,)
        else:
            sql, values = "DELETE FROM kv WHERE key = ? AND value = ?", (key, bytes(expected))
        # An expired row counts as absent, whatever its value.
        with self._db.writing() as connection:
            cursor = connection.execute(sql + " AND (expires IS NULL OR expires > ?)",
                                        (*values, now))
        return cursor.rowcount == 1

    def sweep(self) -> int:
        """Remove expired values (reads ignore them anyway; this frees the space)."""
        with self._db.writing() as connection:
            cursor = connection.execute(
                "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))
        return cursor.rowcount

    def _sweep_now_and_then(self) -> None:
        if next(self._writes) % SWEEP_EVERY == 0:
            self.sweep()

    # -- slot ledger -------------------------------------------------------------

    def book_slot(self, endpoint: str, rule: SlotRule, full_record: bool,
                  max_wait_us: int) -> Booking:
        # BEGIN IMMEDIATE takes the write lock before reading, so no other
        # process can book between our read and our write.
        with self._db.transaction("BEGIN IMMEDIATE") as connection:
            now = _now_us()  # read under the lock: waiting for it must not count as waited
            start, record_before = self._earliest(connection, endpoint, rule, full_record, now)
            granted = start - now <= max_wait_us
            if granted:
                self._write_booking(connection, endpoint, rule, full_record, now, start)
        return Booking(granted, start, start - now, record_before)

    def peek_slot(self, endpoint: str, rule: SlotRule, full_record: bool) -> Booking:
        with self._db.transaction("BEGIN") as connection:  # one snapshot for both reads
            now = _now_us()
            start, _ = self._earliest(connection, endpoint, rule, full_record, now)
        return Booking(False, start, start - now)

    def release_slot(self, endpoint: str, rule: SlotRule, full_record: bool, start_us: int,
                     record_before_us: int) -> bool:
        # One write transaction: no booking can come between the compare and the set.
        with self._db.transaction("BEGIN IMMEDIATE") as connection:
            given = connection.execute(
                "DELETE FROM slot_requests WHERE boot = ? AND endpoint = ? AND start_us = ?",
                (self._boot, endpoint, start_us)).rowcount
            if full_record:
                given += self._restore_record(connection, endpoint,
                                              start_us + rule.record_us, record_before_us)
        return given > 0

    def _earliest(self, connection: sqlite3.Connection, endpoint: str, rule: SlotRule,
                  full_record: bool, now: int) -> tuple[int, int]:
        """The earliest start, and the record lane's next free start (0: none, or not asked)."""
        booked = [row[0] for row in connection.execute(
            "SELECT start_us FROM slot_requests WHERE boot = ? AND endpoint = ? AND start_us > ?"
            " ORDER BY start_us", (self._boot, endpoint, now - rule.request_us))]
        next_record = 0
        if full_record:
            row = connection.execute(
                "SELECT next_us FROM slot_records WHERE boot = ? AND endpoint = ?",
                (self._boot, endpoint)).fetchone()
            next_record = row[0] if row else 0
        return earliest_start(now, max(now, next_record), booked, rule.request_us), next_record

    def _restore_record(self, connection: sqlite3.Connection, endpoint: str, booked_next: int,
                        record_before: int) -> int:
        """Put back the record lane's previous value while it still holds ``booked_next``."""
        if record_before:
            sql, values = "UPDATE slot_records SET next_us = ?", (record_before,)
        else:  # there was none: an absent row is what a booking found
            sql, values = "DELETE FROM slot_records", ()
        return connection.execute(sql + " WHERE boot = ? AND endpoint = ? AND next_us = ?",
                                  (*values, self._boot, endpoint, booked_next)).rowcount

    def _write_booking(self, connection: sqlite3.Connection, endpoint: str, rule: SlotRule,
                       full_record: bool, now: int, start: int) -> None:
        # Starts an interval in the past can no longer conflict with anything.
        connection.execute(
            "DELETE FROM slot_requests WHERE boot = ? AND endpoint = ? AND start_us <= ?",
            (self._boot, endpoint, now - rule.request_us))
        connection.execute("INSERT INTO slot_requests (boot, endpoint, start_us) VALUES (?, ?, ?)",
                           (self._boot, endpoint, start))
        if full_record:
            connection.execute(
                "INSERT INTO slot_records (boot, endpoint, next_us) VALUES (?, ?, ?)"
                " ON CONFLICT (boot, endpoint) DO UPDATE SET next_us = excluded.next_us",
                (self._boot, endpoint, start + rule.record_us))

    def close(self) -> None:
        self._db.close()


def _configure(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA synchronous = NORMAL")


def _boot_id() -> str:
    """This boot's identity (Linux); elsewhere the ledger must be removed after a reboot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _now_us() -> int:
    return time.monotonic_ns() // 1000


def _expiry(ttl: float | None) -> float | None:
    return None if ttl is None else time.time() + ttl
