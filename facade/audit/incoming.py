"""The audit's incoming file: where the request path writes an entry, one line each.

Writing an access record must cost a request next to nothing, yet no answered
request may lose its record. A request therefore only appends its line to
this file with one ``write()`` (``O_APPEND``: the lines of every thread and
process land whole, one after another) before its answer goes out. From that
moment the entry is the kernel's: killing the process cannot lose it. The
index the audit is searched through (SQLite) takes the lines in later, in
large batches, off the request path (``sqlite_sink``).

How soon the file reaches the disk is a setting (``fsync``):

- ``interval`` (the default): a thread in each writing process ``fdatasync``s
  the file every ``interval`` seconds when something was written, so an OS
  crash or power loss can lose at most that long's entries;
- ``request``: ``append`` returns only after an ``fdatasync`` that started after
  the line was written (one sync for every request waiting on it), so even a
  power loss loses nothing answered. Each answer then waits for the disk.

The file is emptied once its lines are in the index (``truncate``); appenders
hold a shared ``flock`` while writing, so emptying, which takes it exclusively,
never loses a line written meanwhile.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
FSYNC_POLICIES = ("interval", "request")
_CHUNK = 1 << 20


class IncomingFile:
    def __init__(self, path: Path, fsync: str = "interval", interval: float = 0.2,
                 after_sync: Callable[[], None] | None = None) -> None:
        """``after_sync`` runs in the syncing thread after each periodic round (the sink
        takes the lines into its index there)."""
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        if not 0 < interval <= 60:
            raise ValueError(f"the fsync interval must be over 0 and at most 60 s, not {interval}")
        self.path = Path(path)
        self.fsync = fsync
        self.interval = interval
        self._after_sync = after_sync
        self._state = threading.Condition()
        self._pid: int | None = None
        self._fd = -1
        self._written = 0  # lines written by this process
        self._synced = 0  # of those, how many an fdatasync has covered
        self._closed = False
        self._failure: OSError | None = None  # the last fdatasync's, until one succeeds
        self._indexed_at = float("-inf")
        self._open()

    # -- the request path ------------------------------------------------------------

    def append(self, line: bytes) -> None:
        """Write one line (``line`` ends with a newline); durable as ``fsync`` says."""
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            if os.write(fd, line) != len(line):  # a regular file takes it whole or fails
                raise OSError(f"short write to {self.path}")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if self.fsync == "interval":
            # Unlocked: a count lost to a race between threads still leaves it above
            # what was synced, and that is all the syncing thread looks at.
            self._written += 1
            return
        with self._state:
            self._written += 1
            ticket = self._written
            self._state.notify_all()
            while self._synced < ticket:
                if self._failure is not None:
                    raise OSError(f"the audit could not be synced: {self._failure}")
                self._state.wait()

    # -- the index's side -----------------------------------------------------------

    def read(self, offset: int) -> tuple[list[bytes], int]:
        """The complete lines from ``offset`` on, and the offset after the last of them
        (a line still being written is left for next time)."""
        lines: list[bytes] = []
        with open(self.path, "rb") as file:
            file.seek(offset)
            while chunk := file.read(_CHUNK):
                end = chunk.rfind(b"\n") + 1
                if end == 0:
                    break
                lines.extend(chunk[:end].splitlines())
                offset += end
                if end < len(chunk):
                    file.seek(offset)
        return lines, offset

    def size(self) -> int:
        return os.fstat(self._open()).st_size

    def emptied_if(self, still_at: Callable[[int], bool]) -> bool:
        """Empty the file if ``still_at(size)`` says every line up to its size is indexed,
        asked with every appender held off, so nothing can be written in between."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if not still_at(size):
                return False
            os.ftruncate(fd, 0)
            os.fsync(fd)
            return True
        finally:
            os.close(fd)  # and so the lock

    def sync(self) -> None:
        """Make every line written so far by this process durable now."""
        with self._state:
            target = self._written
        if target > self._synced:
            try:
                os.fdatasync(self._open())
            except OSError as error:
                with self._state:
                    self._failure = error
                    self._state.notify_all()
                raise
            with self._state:
                self._synced = max(self._synced, target)
                self._failure = None
                self._state.notify_all()

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify_all()
        if self._pid == os.getpid() and self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1

    # -- per process ------------------------------------------------------------------

    def _open(self) -> int:
        pid = os.getpid()
        if self._pid != pid:  # first use, or a forked child: its own descriptor and thread
            with self._state:
                if self._pid != pid:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    self._written = self._synced = 0
                    self._pid = pid
                    threading.Thread(target=self._sync_forever, name="audit-sync",
                                     daemon=True).start()
        return self._fd

    def _sync_forever(self) -> None:
        while True:
            with self._state:
                if self.fsync == "request":  # at once when someone waits
                    self._state.wait_for(lambda: self._closed or self._written > self._synced,
                                         timeout=self.interval)
                else:
                    self._state.wait(self.interval)
                if self._closed or self._pid != os.getpid():
                    return
            try:
                self.sync()
                now = time.monotonic()
                if self._after_sync is not None and now - self._indexed_at >= self.interval:
                    self._indexed_at = now
                    self._after_sync()
            except Exception:  # logged, and tried again next round
                log.exception("audit: syncing or indexing %s failed", self.path.name)
