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

The file is emptied once its lines are in the index (``emptied_if``);
appenders hold a shared ``flock`` while writing, so emptying, which takes it
exclusively, never loses a line written meanwhile. A line torn by a power cut
is ended with a newline by the next process to open the file (the index skips
it, logging that it did), so it never swallows the line after it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
FSYNC_POLICIES = ("interval", "request")
_CHUNK = 1 << 20


@dataclass
class _Progress:
    """What this process wrote and synced: shared with the syncing thread, which holds
    this (and the lock) but only a weak reference to the file, so that a file dropped
    without close() takes its thread along."""

    written: int = 0  # lines written by this process
    synced: int = 0  # of those, how many an fdatasync has covered
    closed: bool = False
    failure: OSError | None = None  # the last fdatasync's, until one succeeds


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
        self._progress = _Progress()
        self._pid: int | None = None
        self._fd = -1
        self._thread: threading.Thread | None = None
        self._indexed_at = float("-inf")
        this = weakref.ref(self)  # a forked child starts afresh (see _forked)
        os.register_at_fork(after_in_child=lambda: (kept := this()) and kept._forked())
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
        progress = self._progress
        if self.fsync == "interval":
            # Unlocked: a count lost to a race between threads still leaves it above
            # what was synced, and that is all the syncing thread looks at.
            progress.written += 1
            return
        with self._state:
            progress.written += 1
            ticket = progress.written
            self._state.notify_all()
            while progress.synced < ticket:
                if progress.failure is not None:
                    raise OSError(f"the audit could not be synced: {progress.failure}")
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
        progress = self._progress
        with self._state:
            target = progress.written
        if target > progress.synced:
            try:
                os.fdatasync(self._open())
            except OSError as error:
                with self._state:
                    progress.failure = error
                    self._state.notify_all()
                raise
            with self._state:
                progress.synced = max(progress.synced, target)
                progress.failure = None
                self._state.notify_all()

    def close(self) -> None:
        with self._state:
            self._progress.closed = True
            self._state.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)  # a round in progress finishes before the index closes
        if self._pid == os.getpid() and self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1

    # -- per process ------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child: another thread of the parent may have held the lock at the
        fork, and would never release it here; the descriptor and counts are the parent's."""
        self._state = threading.Condition()
        self._progress = _Progress(closed=self._progress.closed)
        if self._fd >= 0:
            os.close(self._fd)
        self._pid, self._fd, self._thread = None, -1, None

    def _open(self) -> int:
        pid = os.getpid()
        if self._pid != pid:  # first use, or a forked child: its own descriptor and thread
            with self._state:
                if self._pid != pid:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    self._end_a_torn_line()
                    self._pid = pid
                    self._thread = threading.Thread(
                        target=_sync_while_kept, name="audit-sync", daemon=True,
                        args=(weakref.ref(self), self._state, self._progress,
                              self.fsync == "request", self.interval))
                    self._thread.start()
        return self._fd

    def _end_a_torn_line(self) -> None:
        """A power cut in the middle of a write can leave the last line without its
        newline: end it, or the next line would be glued to it (and both lost to the
        index). With every appender held off, so the last byte is really the last."""
        reader = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(reader, fcntl.LOCK_EX)
            size = os.fstat(reader).st_size
            if size and os.pread(reader, 1, size - 1) != b"\n":
                os.write(self._fd, b"\n")
        finally:
            os.close(reader)

    def _sync_and_index(self) -> None:
        try:
            self.sync()
            now = time.monotonic()
            if self._after_sync is not None and now - self._indexed_at >= self.interval:
                self._indexed_at = now
                self._after_sync()
        except Exception:  # logged, and tried again next round
            log.exception("audit: syncing or indexing %s failed", self.path.name)


def _sync_while_kept(file: weakref.ref[IncomingFile], state: threading.Condition,
                     progress: _Progress, on_demand: bool, interval: float) -> None:
    """The syncing thread: every ``interval`` (and, ``on_demand``, as soon as a request
    waits), while the file is open and anyone else still holds it."""
    pid = os.getpid()
    while True:
        with state:
            if on_demand:
                state.wait_for(lambda: progress.closed or progress.written > progress.synced,
                               timeout=interval)
            else:
                state.wait(interval)
            if progress.closed:
                return
        kept = file()
        if kept is None or kept._pid != pid:
            return
        kept._sync_and_index()
        del kept  # no reference held while waiting
