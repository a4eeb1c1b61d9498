"""The audit's incoming segments: where the request path writes an entry, one line each.

Writing an access record must cost a request next to nothing, yet no answered
request may lose its record. Each process therefore appends to a segment file of
its own, mapped into its memory: recording a line is a copy into the kernel's page
cache under a lock of the process's own — no system call, no lock shared with other
processes, no file size to update — done before the answer goes out. From that
moment the line is the kernel's: killing the process cannot lose it. The index the
audit is searched through (SQLite) takes the lines in later, in large batches, off
the request path (``sqlite_sink``), from every process's segments.

How soon a segment reaches the disk is a setting (``fsync``):

- ``interval`` (the default): a thread in each writing process ``fdatasync``s its
  segment every ``interval`` seconds when something was written, so an OS crash or
  power loss can lose at most that long's entries;
- ``request``: ``append`` returns only after an ``fdatasync`` that started after the
  line was written (one sync for every request waiting on it), so even a power loss
  loses nothing answered. Each answer then waits for the disk.

A segment is ``SEGMENT_BYTES`` long, allocated on disk when it is made (a full disk
fails the request then, never later); after its last line come zero bytes, which no
line holds. Its writer holds an exclusive ``flock`` on it for as long as it writes
there: a segment nobody holds is finished (full, or its process gone), and once all
taken in it is deleted (``finished``). So that the index never sees a segment its
writer does not hold yet, a segment is made under another name (``MAKING_SUFFIX``),
locked, allocated and mapped, and only then renamed to its own; a process killed while
making one leaves a file under that name, with no line in it, which the index deletes
once it is older than ``ABANDONED_AFTER`` (``clear_abandoned``). A line's newline is
stored after the rest of it, so a line is whole once its newline is seen; a process
killed in the middle of a copy leaves a last line without one, which the index skips
when it retires the segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
FSYNC_POLICIES = ("interval", "request")
SEGMENT_BYTES = 8 << 20
SUFFIX = ".lines"
#: A segment's name while it is made: the index looks for SUFFIX only.
MAKING_SUFFIX = ".making"
#: A file still being made this long after it was is its writer's leftover (the writer
#: was killed): making a segment takes well under a millisecond.
ABANDONED_AFTER = 10.0
#: How many segments a writer tries to make when the index clears one away under it
#: (which takes a writer stalled for ABANDONED_AFTER between two system calls).
_MAKING_ATTEMPTS = 3
#: Reading a segment starts with a page (all an idle or lightly written one needs) and
#: doubles up to this while what it reads is all lines.
_FIRST_READ = 1 << 12
_MOST_READ = 1 << 20


@dataclass
class _Progress:
    """What this process wrote and synced: shared with the syncing thread, which holds
    this (and the lock) but only a weak reference to the segments, so that segments
    dropped without close() take their thread along."""

    written: int = 0  # lines written by this process
    synced: int = 0  # of those, how many an fdatasync has covered
    closed: bool = False
    failure: OSError | None = None  # the last fdatasync's, until one succeeds


class _ClearedAway(OSError):
    """The index took a segment being made for abandoned, its writer having stalled."""


class _Segment:
    """The segment this process writes: its descriptor (holding the flock) and mapping."""

    def __init__(self, path: Path) -> None:
        """Made under its MAKING_SUFFIX name and renamed to ``path`` only once locked,
        allocated and mapped: a file the index sees under ``path`` is held by its writer,
        never one the index could take for finished and delete under it."""
        self.path = path
        making = path.with_suffix(MAKING_SUFFIX)
        self.fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        mapped: mmap.mmap | None = None
        try:
            _lock_made(self.fd)
            os.posix_fallocate(self.fd, 0, SEGMENT_BYTES)
            mapped = mmap.mmap(self.fd, SEGMENT_BYTES)
            os.rename(making, path)  # the lock stays with the open file
        except BaseException:
            if mapped is not None:
                mapped.close()
            os.close(self.fd)
            making.unlink(missing_ok=True)
            raise
        self.map = mapped
        self.end = 0

    def room_for(self, size: int) -> bool:
        return self.end + size <= SEGMENT_BYTES

    def write(self, line: bytes) -> None:
        """``line`` ends with its newline, stored last (see the module docstring)."""
        end = self.end + len(line)
        self.map[self.end:end - 1] = line[:-1]
        self.map[end - 1] = 10
        self.end = end

    def close(self) -> None:
        """Unmapped and released: the segment is finished, for the index to retire."""
        with contextlib.suppress(ValueError, BufferError):
            self.map.close()
        os.close(self.fd)


def _lock_made(fd: int) -> None:
    """Lock a file just made for a segment. Nobody else holds it, unless its writer stalled
    long enough for the index to take it for abandoned (``clear_abandoned``): the index
    holds it then, or has deleted it already."""
    if not _locked_here(fd) or os.fstat(fd).st_nlink == 0:
        raise _ClearedAway("the index cleared the segment being made away")


def _locked_here(fd: int) -> bool:
    """Take the file's exclusive lock if nobody holds it (released when ``fd`` closes)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _clear_if_abandoned(path: Path) -> None:
    """Delete a segment being made if nobody holds it. Its writer renames it only while
    holding it, and never makes that name again: once this holds it, the name is the
    abandoned file's, or gone (renamed before: FileNotFoundError)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if not _locked_here(fd):  # being made still, by a writer that stalled
            return
        path.unlink()
        log.warning("audit: deleted %s, left by a writer killed while making it", path.name)
    finally:
        os.close(fd)  # and so the lock


class IncomingSegments:
    def __init__(self, directory: Path, fsync: str = "interval", interval: float = 0.2,
                 after_sync: Callable[[], None] | None = None) -> None:
        """``after_sync`` runs in the syncing thread after each periodic round (the sink
        takes the lines into its index there)."""
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        if not 0 < interval <= 60:
            raise ValueError(f"the fsync interval must be over 0 and at most 60 s, not {interval}")
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self.fsync = fsync
        self.interval = interval
        self._after_sync = after_sync
        self._state = threading.Condition()
        self._writing = threading.Lock()
        self._progress = _Progress()
        self._pid: int | None = None
        self._segment: _Segment | None = None
        self._unsynced: list[_Segment] = []  # full segments waiting for their last sync
        self._made = 0
        self._thread: threading.Thread | None = None
        self._indexed_at = float("-inf")
        self._cleared_at = float("-inf")
        this = weakref.ref(self)  # a forked child starts afresh (see _forked)
        os.register_at_fork(after_in_child=lambda: (kept := this()) and kept._forked())

    # -- the request path ------------------------------------------------------------

    def append(self, line: bytes) -> None:
        """Write one line (``line`` ends with a newline, and holds no zero byte); durable
        as ``fsync`` says."""
        if len(line) > SEGMENT_BYTES or not line.endswith(b"\n"):
            raise ValueError("an audit line ends with a newline and fits a segment")
        with self._writing:
            segment = self._segment
            # A forked child starts with none (_forked): no getpid() system call here.
            if segment is None or not segment.room_for(len(line)):
                segment = self._next_segment()
            segment.write(line)
            progress = self._progress
            progress.written += 1
            ticket = progress.written
        if self.fsync == "interval":
            return
        with self._state:
            self._state.notify_all()
            while progress.synced < ticket:
                if progress.failure is not None:
                    raise OSError(f"the audit could not be synced: {progress.failure}")
                self._state.wait()

    def _next_segment(self) -> _Segment:
        """A new segment of this process's (called holding ``_writing``); a full one is
        synced and released by the syncing thread."""
        pid = os.getpid()
        if self._pid != pid:
            self._start(pid)
        elif self._segment is not None:
            # Handed over once: should making the next one fail (a full disk), the next
            # append must not hand it to the syncing thread again (closed twice).
            self._unsynced.append(self._segment)
            self._segment = None
        for _ in range(_MAKING_ATTEMPTS - 1):
            try:
                return self._make_segment(pid)
            except _ClearedAway:
                log.warning("audit: a segment being made was taken for abandoned (its "
                            "writer stalled); making another")
        return self._make_segment(pid)

    def _make_segment(self, pid: int) -> _Segment:
        self._made += 1  # a name of its own each time: one cleared away is never reused
        name = f"{time.time_ns():020d}-{pid}-{self._made}{SUFFIX}"
        self._segment = _Segment(self.directory / name)
        return self._segment

    def _start(self, pid: int) -> None:
        self._pid = pid
        self._thread = threading.Thread(
            target=_sync_while_kept, name="audit-sync", daemon=True,
            args=(weakref.ref(self), self._state, self._progress, self.fsync == "request",
                  self.interval))
        self._thread.start()

    # -- the index's side -----------------------------------------------------------

    def segments(self) -> list[Path]:
        """Every segment in the directory, any process's, oldest first."""
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    @staticmethod
    def read(path: Path, offset: int) -> tuple[list[tuple[bytes, int]], int]:
        """The whole lines of a segment from ``offset`` on, each with the offset after it,
        and where what was written ends (a line still being written, or torn, lies
        between the last line's end and that)."""
        lines: list[tuple[bytes, int]] = []
        position = offset
        size = _FIRST_READ
        with open(path, "rb") as file:
            while True:
                file.seek(position)
                chunk = file.read(size)
                written = chunk.find(b"\0")
                data = chunk if written < 0 else chunk[:written]
                whole = data.rfind(b"\n") + 1
                for line in data[:whole].split(b"\n")[:-1]:
                    position += len(line) + 1
                    lines.append((line, position))
                if written >= 0 or len(chunk) < size:
                    return lines, position + len(data) - whole
                # Beyond the cap only for a line longer than a chunk.
                size = size * 2 if whole == 0 else min(size * 2, _MOST_READ)

    @staticmethod
    @contextlib.contextmanager
    def finished(path: Path) -> Iterator[bool]:
        """Whether no process writes ``path`` any more (its writer released it, or is
        gone); while the block runs none can start to (a writer never takes a segment
        back)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield False
            return
        try:
            yield _locked_here(fd)
        finally:
            os.close(fd)  # and so the lock

    @staticmethod
    def nothing_to_take(path: Path, offset: int) -> bool:
        """Whether the index has nothing to do in ``path`` for now: no byte is written
        past ``offset`` (lines are written one after another, and zeros follow the last),
        and its writer still holds it. A look at one byte and the lock, where taking lines
        in takes the database's write lock."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # retired by another process since it was listed
            return True
        try:
            if os.pread(fd, 1, offset) not in (b"", b"\0"):
                return False
            return not _locked_here(fd)  # locked here: finished, to be retired
        finally:
            os.close(fd)  # and so the lock

    def clear_abandoned(self) -> None:
        """Delete the files writers killed while making a segment left (no line was ever
        written to one), at most every ``ABANDONED_AFTER``: they are rare. One younger
        than that may be one being made now; one locked is being made, however old."""
        now = time.monotonic()
        if now - self._cleared_at < ABANDONED_AFTER:
            return
        self._cleared_at = now
        for path in self.directory.glob(f"*{MAKING_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):  # made, or cleared, meanwhile
                if time.time() - path.stat().st_mtime >= ABANDONED_AFTER:
                    _clear_if_abandoned(path)

    def sync(self) -> None:
        """Make every line written so far by this process durable now, and release the
        full segments it has left."""
        progress = self._progress
        with self._writing:
            target = progress.written
            full, self._unsynced = self._unsynced, []
            current = self._segment
        if target <= progress.synced and not full:
            return
        try:
            for segment in [*full, *([current] if current is not None else [])]:
                os.fdatasync(segment.fd)
        except OSError as error:
            with self._writing:  # tried again next round
                self._unsynced[:0] = full
            with self._state:
                progress.failure = error
                self._state.notify_all()
            raise
        for segment in full:
            segment.close()
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
        if self._pid == os.getpid():
            with contextlib.suppress(OSError):
                self.sync()
            with self._writing:
                for segment in [*self._unsynced, *([self._segment] if self._segment else [])]:
                    segment.close()
                self._segment, self._unsynced = None, []

    # -- per process ------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child: another thread of the parent may have held a lock at the
        fork, and would never release it here; the segments are the parent's (closing
        the child's copies of their descriptors leaves the parent's flocks held)."""
        self._state = threading.Condition()
        self._writing = threading.Lock()
        self._progress = _Progress(closed=self._progress.closed)
        for segment in [*self._unsynced, *([self._segment] if self._segment else [])]:
            segment.close()
        self._pid, self._segment, self._unsynced, self._thread = None, None, [], None

    def _sync_and_index(self) -> None:
        try:
            self.sync()
            now = time.monotonic()
            if self._after_sync is not None and now - self._indexed_at >= self.interval:
                self._indexed_at = now
                self._after_sync()
        except Exception:  # logged, and tried again next round
            log.exception("audit: syncing or indexing %s failed", self.directory.name)


def _sync_while_kept(segments: weakref.ref[IncomingSegments], state: threading.Condition,
                     progress: _Progress, on_demand: bool, interval: float) -> None:
    """The syncing thread: every ``interval`` (and, ``on_demand``, as soon as a request
    waits), while the segments are open and anyone else still holds them."""
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
        kept = segments()
        if kept is None or kept._pid != pid:
            return
        kept._sync_and_index()
        del kept  # no reference held while waiting
