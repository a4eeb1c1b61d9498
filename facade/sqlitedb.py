"""SQLite files shared by threads and processes: the embedded store and the audit sink.

Each thread of each process has its own connection (a forked child opens its
own: a connection must never cross a fork); transactions are explicit, and a
busy database is waited out for ``BUSY_TIMEOUT_MS``. The file is created
readable by its owner only — both files hold patient data — and SQLite gives
its -wal and -shm files the same permissions. An existing file keeps its mode.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


class ThreadConnections:
    def __init__(self, path: Path, configure: Callable[[sqlite3.Connection], None]) -> None:
        """``configure`` runs on each new connection (PRAGMAs)."""
        self.path = Path(path)
        self._configure = configure
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        create_private(self.path)

    def connection(self) -> sqlite3.Connection:
        pid, connection = getattr(self._local, "connection", (None, None))
        if connection is None or pid != os.getpid():  # a forked child needs its own
            connection = self._connect()
            self._local.connection = (os.getpid(), connection)
        return connection

    @contextmanager
    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        connection = self.connection()
        connection.execute(begin)
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; ours are explicit.
        # check_same_thread=False only so that close() may close every thread's
        # connection; each is otherwise used by its own thread alone.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._configure(connection)
        with self._lock:
            self._connections.append(connection)
        return connection


def create_private(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
