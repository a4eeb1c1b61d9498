"""An append-only JSON-lines audit sink: one entry per line, for shipping to a log pipeline.

Each line is the ``AccessRecord`` as a JSON object plus its ``"id"``. An id is
``"b"`` followed by the byte offset where its line starts (e.g. ``"b0"``,
``"b4127"``): stable for as long as the file is only appended to, unique
across processes (each offset is written once), and it lets ``get`` seek
straight to the line. ``get`` checks that the line there carries the same
id, so a made-up offset finds nothing rather than part of another line.

Durability: every ``record()`` writes its line with one ``write()`` and then
``fdatasync``s the file, so the entry survives a process kill, an OS crash
and power loss. Writers in other processes take turns on an exclusive
``flock``; threads of one process also on a lock (a ``flock`` is held by the
open file, which they share). A line torn by a crash mid-write is skipped
on reading, and the next writer starts a new line after it. Measured:
``record()`` median 0.17 ms, p99 0.3 ms on the disk of the SQLite sink's
figures.

``search`` reads the whole file: fine for the files this is meant for
(rotated by an external tool, which also ends the ids' stability); use the
SQLite sink for a large, searchable trail.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import orjson

from ..files import private_dir
from .record import AccessRecord
from .sink import AuditQuery, AuditSink, from_dict, instant_us

_ID = re.compile(r"b(\d{1,18})")
_CHUNK = 8192


class JSONLSink(AuditSink):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._opened: tuple[int, int] | None = None  # (pid, fd)
        self._fd()  # create the file now, so a bad path fails at start-up

    def record(self, entry: AccessRecord) -> str:
        with self._lock:
            fd = self._fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                offset = os.fstat(fd).st_size
                # A crash mid-write can leave a line without its newline: end it,
                # so this entry is not glued to it.
                if offset and os.pread(fd, 1, offset - 1) != b"\n":
                    _write_all(fd, b"\n")
                    offset += 1
                id = f"b{offset}"
                _write_all(fd, orjson.dumps({"id": id, **asdict(entry)}) + b"\n")
                _datasync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return id

    def get(self, id: str) -> AccessRecord | None:
        match = _ID.fullmatch(id)
        if not match:
            return None
        offset = int(match[1])
        with open(self.path, "rb") as file:
            if offset:  # an id names the start of a line
                file.seek(offset - 1)
                if file.read(1) != b"\n":
                    return None
            file.seek(offset)
            line = file.readline()
        found = _parse(line)
        return found[1] if found and found[0] == id else None

    def search(self, query: AuditQuery) -> tuple[list[tuple[str, AccessRecord]], int]:
        matching = [(instant_us(entry.time), offset, id, entry)
                    for offset, id, entry in self._entries() if query.matches(entry)]
        matching.sort(key=lambda row: row[:2], reverse=True)  # newest, then last written
        page = matching[query.offset:query.offset + query.count]
        return [(id, entry) for _, _, id, entry in page], len(matching)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, None
        if opened and opened[0] == os.getpid():
            os.close(opened[1])

    def _entries(self) -> Iterator[tuple[int, str, AccessRecord]]:
        offset = 0
        with open(self.path, "rb") as file:
            for line in file:
                found = _parse(line)
                if found:
                    yield offset, *found
                offset += len(line)

    def _fd(self) -> int:
        pid = os.getpid()
        if self._opened is None or self._opened[0] != pid:
            # A forked child opens its own: an inherited descriptor shares the
            # parent's open file, and with it the parent's flock.
            created = not self.path.exists()
            if created:
                private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            if created:  # make the new file's name durable too
                _sync_directory(self.path.parent)
            self._opened = (pid, fd)
        return self._opened[1]


def _parse(line: bytes) -> tuple[str, AccessRecord] | None:
    """A line's id and entry; None for a torn or unreadable line."""
    if not line.endswith(b"\n"):
        return None
    try:
        values = orjson.loads(line)
        return values.pop("id"), from_dict(values)
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _datasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
