"""The embedded audit sink: SQLite, fed through an incoming file, shared by every process.

Writing. ``record()`` appends the entry as one line to ``PATH.incoming``
(incoming.py) and returns: a single ``write()``, so recording costs a request
almost nothing and a process killed right after cannot lose the entry. How
soon the line reaches the disk (``fsync``: every ``interval`` seconds, or
before each answer) is incoming.py's. Lines reach the index below in batches
— every ``interval`` from a thread in each writing process, and before any
``get`` or ``search`` — so a search always sees every entry recorded before
it, from any process. Taking lines in is exactly-once across processes: the
offset taken up to is stored in the same transaction as the rows, and the
entry's id is unique, so a batch retried after a crash adds nothing twice.
The incoming file is emptied once it is all in (and larger than
``EMPTY_AFTER``). The index is in WAL mode with ``synchronous = FULL`` (each
batch's commit is fsynced before its lines may be emptied out of the
incoming file).

Schema. The whole entry is kept as JSON, so the sink reads back exactly what
it was given; the columns beside it exist to be filtered and ordered on. The
patients of an entry are rows of a child table, so "entries about patient X"
is an exact indexed match. ``seq`` is the order lines were written in,
breaking ties in time; ``id`` is the time it was recorded (microseconds) and
72 random bits, in hex: unique across processes without coordination, and
revealing nothing about the entry beyond its time, nor how many there are.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from ..sqlitedb import ThreadConnections
from .incoming import IncomingFile
from .record import AccessRecord
from .sink import OUTCOMES, AuditQuery, AuditSink, decode, encode, instant_us

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS access (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time_us INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    interaction TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    status INTEGER NOT NULL,
    entry BLOB NOT NULL  -- the AccessRecord as JSON (its line, id included)
);
CREATE INDEX IF NOT EXISTS access_time ON access (time_us, seq);
CREATE INDEX IF NOT EXISTS access_client ON access (client_id, time_us, seq);
CREATE TABLE IF NOT EXISTS access_patient (
    patient_id TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES access (seq),
    PRIMARY KEY (patient_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS taken_in (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    offset INTEGER NOT NULL  -- how far into the incoming file the index has taken lines
);
"""
SYNCHRONOUS = "FULL"
#: The incoming file is emptied when it is all indexed and larger than this.
EMPTY_AFTER = 4 << 20


class SQLiteSink(AuditSink):
    def __init__(self, path: Path, *, synchronous: str = SYNCHRONOUS,
                 fsync: str = "interval", fsync_interval: float = 0.2) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous.upper()
        self._db = ThreadConnections(self.path, self._configure)
        with self._db.transaction() as connection:
            # Every statement of the schema is IF NOT EXISTS, and the transaction
            # waits out the busy timeout, so processes may open a new file together.
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute("INSERT OR IGNORE INTO taken_in (one, offset) VALUES (1, 0)")
        self.incoming = IncomingFile(self.path.with_name(self.path.name + ".incoming"),
                                     fsync, fsync_interval, after_sync=self.take_in)

    def record(self, entry: AccessRecord) -> str:
        """Durable on return (see incoming.py for how far): the line is written."""
        # Time first: new ids sort after the others, so indexing them touches the last
        # pages of the id index (kept in memory) instead of a random page each (read from
        # disk once the audit outgrows the cache: 3-4x the cost per entry, measured).
        id = f"{time.time_ns() // 1000:014x}{random.getrandbits(72):018x}"
        self.incoming.append(b'{"id":"%s",%s\n' % (id.encode(), encode(entry)[1:]))
        return id

    def take_in(self) -> int:
        """Index every complete line of the incoming file not indexed yet; how many."""
        taken_up_to = self._db.connection().execute("SELECT offset FROM taken_in").fetchone()[0]
        if taken_up_to == self.incoming.size():
            return 0  # the usual case between batches: no write lock, no commit
        with self._db.transaction() as connection:
            offset = connection.execute("SELECT offset FROM taken_in").fetchone()[0]
            if offset > self.incoming.size():  # emptied after a crash before the offset was
                offset = 0                     # reset: the unique ids keep this exactly-once
            lines, offset = self.incoming.read(offset)
            taken = self._insert(connection, lines)
            connection.execute("UPDATE taken_in SET offset = ?", (offset,))
        if offset > EMPTY_AFTER:
            self.incoming.emptied_if(self._emptied_at)
        return taken

    def _emptied_at(self, size: int) -> bool:
        """With every appender held off: take in the rest, and let the file be emptied."""
        with self._db.transaction() as connection:
            offset = connection.execute("SELECT offset FROM taken_in").fetchone()[0]
            lines, offset = self.incoming.read(offset)
            self._insert(connection, lines)
            if offset != size:  # a torn last line: keep it for a look, do not empty
                connection.execute("UPDATE taken_in SET offset = ?", (offset,))
                return False
            connection.execute("UPDATE taken_in SET offset = 0")
        return True

    def _insert(self, connection: sqlite3.Connection, lines: list[bytes]) -> int:
        """The lines as rows; each line is stored as it is (``decode`` ignores its id)."""
        rows, patients = [], []
        for line in lines:
            try:
                values = orjson.loads(line)
                row = (values["id"], instant_us(values["time"]), values["client_id"],
                       values["interaction"], values["resource_type"], values["status"], line)
                patients.extend((patient, values["id"]) for patient in values["patient_ids"])
            except (ValueError, TypeError, KeyError):
                log.error("audit: an unreadable line in %s was skipped (%d bytes)",
                          self.incoming.path.name, len(line))
                continue
            rows.append(row)
        connection.executemany(
            "INSERT OR IGNORE INTO access (id, time_us, client_id, interaction, resource_type,"
            " status, entry) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        connection.executemany(
            "INSERT OR IGNORE INTO access_patient (patient_id, seq)"
            " SELECT ?, seq FROM access WHERE id = ?", patients)
        return len(rows)

    def get(self, id: str) -> AccessRecord | None:
        self.take_in()
        row = self._db.connection().execute(
            "SELECT entry FROM access WHERE id = ?", (id,)).fetchone()
        return decode(row[0]) if row else None

    def search(self, query: AuditQuery) -> tuple[list[tuple[str, AccessRecord]], int]:
        self.take_in()
        where, values = _where(query)
        # One read transaction: the page and the total come from the same snapshot.
        with self._db.transaction("BEGIN") as connection:
            total = connection.execute(f"SELECT count(*) FROM access{where}", values).fetchone()[0]
            rows = connection.execute(
                f"SELECT id, entry FROM access{where} ORDER BY time_us DESC, seq DESC"
                " LIMIT ? OFFSET ?", (*values, query.count, _at_most_int64(query.offset))
            ).fetchall()
        return [(id, decode(entry)) for id, entry in rows], total

    def close(self) -> None:
        self.incoming.close()
        self._db.close()

    def _configure(self, connection: sqlite3.Connection) -> None:
        # journal_mode = WAL is kept in the file, so this is a no-op after the
        # first connection; it does not wait for a busy database, hence the retry.
        if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            _retry_busy(lambda: connection.execute("PRAGMA journal_mode = WAL"))
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")


#: SQLite's largest integer: a bigger Python int cannot be bound at all (OverflowError).
_INT64_MAX = 2**63 - 1


def _at_most_int64(offset: int) -> int:
    """An offset past every row, however large it was asked, still finds no row."""
    return min(offset, _INT64_MAX)


def _where(query: AuditQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    values: list[object] = []
    for column, value in (("client_id", query.client_id), ("interaction", query.interaction),
                          ("resource_type", query.resource_type)):
        if value is not None:
            clauses.append(f"{column} = ?")
            values.append(value)
    if query.patient_id is not None:
        clauses.append("seq IN (SELECT seq FROM access_patient WHERE patient_id = ?)")
        values.append(query.patient_id)
    if query.outcome is not None:
        clauses.append("status BETWEEN ? AND ?")
        values.extend(OUTCOMES[query.outcome])
    if query.since is not None:
        clauses.append("time_us >= ?")
        values.append(query.since_us)
    if query.until is not None:
        clauses.append("time_us <= ?")
        values.append(query.until_us)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


def _retry_busy(statement: Callable[[], object], attempts: int = 200) -> None:
    """Run ``statement``, retrying while another process holds the database (up to ~10 s)."""
    for attempt in range(attempts):
        try:
            statement()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
