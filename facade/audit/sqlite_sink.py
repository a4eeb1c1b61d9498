"""The embedded audit sink: SQLite, fed through an incoming file, shared by every process.

Writing. ``record()`` appends the entry as one line to its process's segment in
``PATH-incoming/`` (incoming.py) and returns: a copy into the page cache, so
recording costs a request almost nothing and a process killed right after cannot
lose the entry. How soon the line reaches the disk (``fsync``: every ``interval``
seconds, or before each answer) is incoming.py's. Lines reach the index below in
batches — every ``interval`` from a thread in each writing process, and before any
``get`` or ``search`` — so a search always sees every entry recorded before it,
from any process. Taking lines in is exactly-once across processes: the offset
taken up to in each segment is stored in the same transaction as the rows, and the
entry's id is unique, so a batch retried after a crash adds nothing twice. A
segment nobody writes any more is deleted once it is all in (after the commit
that took its last lines). A round that finds nothing new in any segment, and none
finished, takes no write lock (it reads one byte at each stored offset). The index
is in WAL mode with ``synchronous = FULL`` (each batch's commit is fsynced before a
segment it emptied is deleted).

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
import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from ..sqlitedb import ThreadConnections
from .incoming import SUFFIX, IncomingSegments
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
CREATE TABLE IF NOT EXISTS taken_from (
    segment TEXT PRIMARY KEY,  -- an incoming segment's file name
    offset INTEGER NOT NULL  -- how far into it the index has taken lines
) WITHOUT ROWID;
"""
SYNCHRONOUS = "FULL"
#: Where an earlier version kept every process's lines, in one file (taken in once).
LEGACY_SUFFIX = ".incoming"


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
        self.incoming = IncomingSegments(self.path.with_name(self.path.name + "-incoming"),
                                         fsync, fsync_interval, after_sync=self.take_in)
        self._adopt_legacy_file()

    def record(self, entry: AccessRecord) -> str:
        """Durable on return (see incoming.py for how far): the line is written."""
        # Time first: new ids sort after the others, so indexing them touches the last
        # pages of the id index (kept in memory) instead of a random page each (read from
        # disk once the audit outgrows the cache: 3-4x the cost per entry, measured).
        id = f"{time.time_ns() // 1000:014x}{random.getrandbits(72):018x}"
        self.incoming.append(b'{"id":"%s",%s\n' % (id.encode(), encode(entry)[1:]))
        return id

    def take_in(self) -> int:
        """Index every whole line of every segment not indexed yet, and delete the segments
        nobody writes any more once they are all in; how many lines were taken."""
        self.incoming.clear_abandoned()
        if self._nothing_to_take(self.incoming.segments()):
            return 0
        taken = 0
        done: list[Path] = []
        with self._db.transaction() as connection:
            # Listed with the write lock held: no other process retires one meanwhile.
            segments = self.incoming.segments()
            offsets = dict(connection.execute("SELECT segment, offset FROM taken_from"))
            for path in segments:
                with self.incoming.finished(path) as finished:
                    count, offset = self._take_from(connection, path,
                                                    offsets.get(path.name, 0), finished)
                taken += count
                if finished and path.exists():
                    connection.execute("DELETE FROM taken_from WHERE segment = ?", (path.name,))
                    done.append(path)
                elif offset != offsets.get(path.name, 0):
                    connection.execute("INSERT OR REPLACE INTO taken_from VALUES (?, ?)",
                                       (path.name, offset))
            names = {path.name for path in segments}
            for gone in set(offsets) - names:  # deleted by another process after its commit
                connection.execute("DELETE FROM taken_from WHERE segment = ?", (gone,))
        for path in done:  # only now: the rows taken from it are committed
            path.unlink(missing_ok=True)
        return taken

    def _nothing_to_take(self, segments: list[Path]) -> bool:
        """Whether no segment has lines past where the index took it to, nor is finished,
        nor is gone with its offset still kept: a look without the write lock, which every
        writing process's round would otherwise take. An offset read here can only be
        behind the one read under the lock (a row deleted reads as 0), so it can make a
        round take the lock for nothing, never leave a line out."""
        if not segments:
            return True
        offsets = dict(self._db.connection().execute("SELECT segment, offset FROM taken_from"))
        if set(offsets) - {path.name for path in segments}:
            return False
        return all(self.incoming.nothing_to_take(path, offsets.get(path.name, 0))
                   for path in segments)

    def _take_from(self, connection: sqlite3.Connection, path: Path, offset: int,
                   finished: bool) -> tuple[int, int]:
        """The whole lines of one segment from ``offset``, as rows; how many, and how far
        they reach. In a segment still written, an unreadable last line may be one being
        copied in: it is left for next time. Anywhere else it is torn: skipped, logged."""
        try:
            lines, written_to = self.incoming.read(path, offset)
        except FileNotFoundError:  # retired by another thread just after its commit
            return 0, offset
        rows, patients = [], []
        for number, (line, end) in enumerate(lines):
            try:
                values = orjson.loads(line)
                row = (values["id"], instant_us(values["time"]), values["client_id"],
                       values["interaction"], values["resource_type"], values["status"], line)
                ids = list(values["patient_ids"])
            except (ValueError, TypeError, KeyError):
                if not finished and number == len(lines) - 1:
                    break
                log.error("audit: an unreadable line in %s was skipped (%d bytes)",
                          path.name, len(line))
                offset = end
                continue
            rows.append(row)
            patients.append(ids)
            offset = end
        if finished and written_to > offset:
            log.error("audit: a torn last line in %s was skipped (%d bytes)", path.name,
                      written_to - offset)
        self._insert(connection, rows, patients)
        return len(rows), offset

    @staticmethod
    def _insert(connection: sqlite3.Connection, rows: list[tuple],
                patients: list[list[str]]) -> None:
        """The rows, and their patients (each line is stored as it is: ``decode`` ignores
        its id). Rows take the next sequence numbers in order, so when none was in
        already (a batch retried after a crash) each row's patients need no lookup."""
        if not rows:
            return
        first = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM access").fetchone()[0]
        before = connection.total_changes
        connection.executemany(
            "INSERT OR IGNORE INTO access (id, time_us, client_id, interaction, resource_type,"
            " status, entry) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        if connection.total_changes - before == len(rows):
            connection.executemany(
                "INSERT OR IGNORE INTO access_patient (patient_id, seq) VALUES (?, ?)",
                [(patient, first + number) for number, ids in enumerate(patients)
                 for patient in ids])
        else:
            connection.executemany(
                "INSERT OR IGNORE INTO access_patient (patient_id, seq)"
                " SELECT ?, seq FROM access WHERE id = ?",
                [(patient, row[0]) for row, ids in zip(rows, patients, strict=True)
                 for patient in ids])

    def _adopt_legacy_file(self) -> None:
        """Lines an earlier version left in its single incoming file (every process's, not
        yet indexed) become a finished segment, taken from where that version got to."""
        legacy = self.path.with_name(self.path.name + LEGACY_SUFFIX)
        if not legacy.is_file():
            return
        with self._db.transaction() as connection:
            if not legacy.is_file():  # another process adopted it meanwhile
                return
            offset = 0
            if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'taken_in'"
                                  ).fetchone():
                offset = connection.execute("SELECT offset FROM taken_in").fetchone()[0]
            name = f"{0:020d}-legacy-{os.getpid()}{SUFFIX}"
            connection.execute("INSERT OR REPLACE INTO taken_from VALUES (?, ?)",
                               (name, min(offset, legacy.stat().st_size)))
            connection.execute("DROP TABLE IF EXISTS taken_in")
            legacy.rename(self.incoming.directory / name)

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
        self.incoming.close()  # this process's segment is finished now...
        try:
            self.take_in()  # ...so it is taken in and deleted, not left for the next start
        except (sqlite3.Error, OSError):
            log.exception("audit: taking the last lines in at close failed; the next "
                          "process to open the audit will")
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
