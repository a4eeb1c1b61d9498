"""The simulator's durable state: its message audit and its device registry.

One SQLite database in the simulator's state dir (WAL, so ``facade simulator
audit`` can read while the simulator writes). The audit is the stand-in for
SystmOne's *Audit > Client Integration* screen: every message with its ids,
outcome, and the XML received and returned.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from facade.files import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    request_uid TEXT NOT NULL,
    response_uid TEXT NOT NULL,
    device_id TEXT NOT NULL,
    function TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    request_xml BLOB,
    response_xml BLOB,
    response_size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_function ON messages (function);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    device_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('approved', 'blocked')),
    created TEXT NOT NULL
);
"""
#: Outcomes: the reply was a result, an error envelope, or nothing at all
#: (throttled); or the sender disconnected before the request's turn.
OUTCOMES = ("success", "error", "dropped", "abandoned")
#: Responses are kept whole up to this size (a full record can be megabytes).
MAX_STORED_RESPONSE = 256 * 1024


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: str
    request_uid: str
    response_uid: str
    device_id: str
    function: str
    outcome: str
    error: str | None
    request_xml: bytes
    response_xml: bytes
    response_size: int


class SimulatorStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_file(self.path)
        self._local = threading.local()
        with self._connection() as connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    # -- message audit ---------------------------------------------------------

    def record_message(self, *, request_uid: str, response_uid: str, device_id: str,
                       function: str, outcome: str, error: str | None,
                       request_xml: bytes, response_xml: bytes | None) -> None:
        response = response_xml or b""
        self._connection().execute(
            "INSERT INTO messages (time, request_uid, response_uid, device_id, function, outcome,"
            " error, request_xml, response_xml, response_size) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (_now(), request_uid, response_uid, device_id, function, outcome, error,
             request_xml, response[:MAX_STORED_RESPONSE], len(response)))

    def messages(self, *, function: str | None = None, outcome: str | None = None,
                 last: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first; ``last`` keeps the newest N."""
        where, values = [], []
        if function:
            where.append("function = ?")
            values.append(function)
        if outcome:
            where.append("outcome = ?")
            values.append(outcome)
        sql = "SELECT * FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if last is not None:
            sql += " LIMIT ?"
            values.append(last)
        rows = self._connection().execute(sql, values).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]

    # -- device registry (SystmOne's Device Manager) ---------------------------

    def register_device(self, device_version: str, status: str) -> str:
        device_id = secrets.token_hex(8)
        self._connection().execute(
            "INSERT INTO devices (device_id, device_version, status, created) VALUES (?,?,?,?)",
            (device_id, device_version, status, _now()))
        return device_id

    def device_status(self, device_id: str) -> str | None:
        row = self._connection().execute(
            "SELECT status FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return row[0] if row else None

    def set_device_status(self, device_id: str, status: str) -> bool:
        cursor = self._connection().execute(
            "UPDATE devices SET status = ? WHERE device_id = ?", (status, device_id))
        return cursor.rowcount == 1

    def devices(self) -> list[tuple[str, str, str, str]]:
        return self._connection().execute(
            "SELECT device_id, device_version, status, created FROM devices ORDER BY created"
        ).fetchall()

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="milliseconds")
