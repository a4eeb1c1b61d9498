"""SQLite files shared by threads and processes: the embedded store and the audit sink.

Each thread of each process has its own connection (a forked child opens its
own: a connection must never cross a fork); transactions are explicit, and a
busy database is waited out for ``BUSY_TIMEOUT_MS``. The file is created
readable by its owner only — both files hold patient data — and SQLite gives
its -wal and -shm files the same permissions. An existing file keeps its mode.

Writers take turns on a file lock (``flock`` on ``PATH.lock``) before they
ask SQLite for its write lock. SQLite's own wait for a busy database polls
with growing sleeps (up to 100 ms each), so under steady writes from several
processes one of them could lose the race again and again and wait a second
or more; a waiter on ``flock`` is woken by the kernel the moment the lock is
released. The lock goes with its process, however that process ends.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .files import private_file

BUSY_TIMEOUT_MS = 10_000


class ThreadConnections:
    def __init__(self, path: Path, configure: Callable[[sqlite3.Connection], None]) -> None:
        """``configure`` runs on each new connection (PRAGMAs)."""
        self.path = Path(path)
        self._configure = configure
        self._local = threading.local()
        self._connections: list[tuple[sqlite3.Connection, int]] = []
        self._lock = threading.Lock()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        # A forked child gets a lock of its own: another thread may have held this one
        # at the fork, and would never release it in the child.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (kept := this()) and kept._forked())
        create_private(self.path)

    def connection(self) -> sqlite3.Connection:
        return self._opened()[0]

    def _opened(self) -> tuple[sqlite3.Connection, int]:
        """This thread's connection and its descriptor of the writers' lock file."""
        pid, connection, lock = getattr(self._local, "opened", (None, None, -1))
        if connection is None or pid != os.getpid():  # a forked child needs its own
            connection, lock = self._connect()
            self._local.opened = (os.getpid(), connection, lock)
        return connection, lock

    @contextmanager
    def transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` (the default) writes, taking the writers' turn first;
        ``BEGIN`` reads one snapshot."""
        with self.writing() if begin != "BEGIN" else nullcontext():
            connection = self.connection()
            connection.execute(begin)
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, with the writers' turn held (see the module's notes)."""
        connection, lock = self._opened()
        fcntl.flock(lock, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            yield connection
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._connections = []  # the parent's, never to be used here

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection, lock in connections:
            connection.close()
            os.close(lock)
        self._local = threading.local()

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        # isolation_level=None: no implicit transactions; ours are explicit.
        # check_same_thread=False only so that close() may close every thread's
        # connection; each is otherwise used by its own thread alone.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._configure(connection)
        # A descriptor of its own per connection: flock excludes the threads of one
        # process from each other only through separate open files.
        lock = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._lock:
            self._connections.append((connection, lock))
        return connection, lock


def create_private(path: Path) -> None:
    private_file(path)
