"""The audit's incoming segments and how the SQLite sink takes their lines in."""

from __future__ import annotations

import fcntl
import gc
import io
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from facade.audit import incoming as incoming_module
from facade.audit.incoming import (
    ABANDONED_AFTER,
    MAKING_SUFFIX,
    SEGMENT_BYTES,
    SUFFIX,
    IncomingSegments,
)
from facade.audit.sink import AuditQuery
from facade.audit.sqlite_sink import SQLiteSink

from .contract import entry


def test_request_policy_returns_only_after_an_fdatasync(tmp_path: Path, monkeypatch) -> None:
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    incoming = IncomingSegments(tmp_path / "in", fsync="request", interval=5)
    try:
        incoming.append(b"one\n")
        assert synced  # the syncing thread ran for us, long before its 5 s round
        (segment,) = incoming.segments()
        assert incoming.read(segment, 0) == ([(b"one", 4)], 4)
    finally:
        incoming.close()


def test_interval_policy_syncs_within_the_interval(tmp_path: Path, monkeypatch) -> None:
    synced = threading.Event()
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.set(), real(fd)))
    incoming = IncomingSegments(tmp_path / "in", fsync="interval", interval=0.05)
    try:
        incoming.append(b"one\n")
        assert not synced.is_set()  # the request did not wait for the disk
        assert synced.wait(2)
    finally:
        incoming.close()


def test_a_sync_failure_fails_the_waiting_requests(tmp_path: Path, monkeypatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    incoming = IncomingSegments(tmp_path / "in", fsync="request", interval=5)
    monkeypatch.setattr(os, "fdatasync", broken)
    try:
        with pytest.raises(OSError, match="could not be synced"):
            incoming.append(b"one\n")
    finally:
        monkeypatch.undo()
        incoming.close()


@pytest.mark.parametrize(("fsync", "interval", "message"), [
    ("never", 0.2, "fsync must be one of interval, request"),
    ("interval", 0, "interval must be over 0"),
    ("interval", 61, "interval must be over 0"),
])
def test_bad_policies_are_refused(tmp_path: Path, fsync: str, interval: float,
                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IncomingSegments(tmp_path / "in", fsync=fsync, interval=interval)


def test_a_segment_is_allocated_whole_and_private(tmp_path: Path) -> None:
    incoming = IncomingSegments(tmp_path / "in")
    try:
        incoming.append(b"one\n")
        (segment,) = incoming.segments()
        assert segment.stat().st_size == SEGMENT_BYTES
        assert segment.stat().st_blocks * 512 >= SEGMENT_BYTES  # on disk now, not at a fault
        assert segment.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "in").stat().st_mode & 0o777 == 0o700
    finally:
        incoming.close()


def test_a_line_being_written_is_left_for_next_time(tmp_path: Path) -> None:
    segment = tmp_path / f"x{SUFFIX}"
    segment.write_bytes(b"whole\nhalf" + bytes(100))
    assert IncomingSegments.read(segment, 0) == ([(b"whole", 6)], 10)
    assert IncomingSegments.read(segment, 6) == ([], 10)


def test_lines_across_the_read_chunk_are_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(incoming_module, "_FIRST_READ", 4)
    monkeypatch.setattr(incoming_module, "_MOST_READ", 8)  # "second line" is longer
    segment = tmp_path / f"x{SUFFIX}"
    segment.write_bytes(b"first\nsecond line\nthird\n" + bytes(30))
    assert IncomingSegments.read(segment, 0) == (
        [(b"first", 6), (b"second line", 18), (b"third", 24)], 24)


def test_a_file_with_no_zeros_is_read_to_its_end(tmp_path: Path) -> None:
    segment = tmp_path / f"x{SUFFIX}"  # an earlier version's incoming file, adopted
    segment.write_bytes(b"one\ntwo\ntor")
    assert IncomingSegments.read(segment, 0) == ([(b"one", 4), (b"two", 8)], 11)


def test_a_segment_is_finished_only_once_its_writer_lets_go(tmp_path: Path) -> None:
    incoming = IncomingSegments(tmp_path / "in", interval=60)
    incoming.append(b"one\n")
    (segment,) = incoming.segments()
    with IncomingSegments.finished(segment) as finished:
        assert not finished  # this process still writes it
    incoming.close()
    with IncomingSegments.finished(segment) as finished:
        assert finished


def test_a_full_segment_gives_way_to_a_new_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(incoming_module, "SEGMENT_BYTES", 64)
    incoming = IncomingSegments(tmp_path / "in", interval=60)
    try:
        for number in range(10):
            incoming.append(b"line %02d of twenty\n" % number)  # 20 bytes: 3 per segment
        segments = incoming.segments()
        assert len(segments) == 4
        incoming.sync()  # the full ones are synced and let go
        finished = []
        for segment in segments:
            with IncomingSegments.finished(segment) as done:
                finished.append(done)
        assert finished == [True, True, True, False]
        lines = [line for segment in segments for line, _ in incoming.read(segment, 0)[0]]
        assert lines == [b"line %02d of twenty" % number for number in range(10)]
    finally:
        incoming.close()


def test_lines_reach_the_index_without_a_search(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.05)
    try:
        id = sink.record(entry())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = sink._db.connection().execute("SELECT 1 FROM access WHERE id = ?",
                                                (id,)).fetchone()
            if row:
                break
            time.sleep(0.02)
        assert row, "the syncing thread did not take the line in"
    finally:
        sink.close()


def test_a_torn_line_of_a_dead_writer_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    try:
        first = sink.record(entry(1))
        dead = sink.incoming.directory / f"00000000000000000001-999999-1{SUFFIX}"
        line = sink.incoming.read(sink.incoming.segments()[0], 0)[0][0][0]
        dead.write_bytes(line.replace(first.encode(), b"f" * len(first)) + b'\n{"id":"torn"'
                         + bytes(64))  # what a process killed mid-copy leaves
        last = sink.record(entry(2))
        rows, total = sink.search(AuditQuery())
        assert total == 3 and [id for id, _ in rows] == [last, first, "f" * len(first)]
        assert not dead.exists()  # all in, and nobody writes it: retired
    finally:
        sink.close()


def test_an_unreadable_last_line_of_a_live_segment_waits(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    try:
        sink.record(entry(1))
        live = sink.incoming.directory / f"00000000000000000001-1-1{SUFFIX}"
        fd = os.open(live, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # its writer is alive
        os.write(fd, b'{"id":"half\n' + bytes(64))  # seen before the rest of the copy
        try:
            assert sink.take_in() == 1
            (offset,) = sink._db.connection().execute(
                "SELECT offset FROM taken_from WHERE segment = ?", (live.name,)).fetchone() \
                or (0,)
            assert offset == 0  # left for the next round
        finally:
            os.close(fd)
    finally:
        sink.close()


def test_taking_in_twice_adds_nothing_twice(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    try:
        ids = {sink.record(entry(second)) for second in range(5)}
        assert sink.take_in() == 5
        with sink._db.transaction() as connection:  # as if a crash lost the offsets
            connection.execute("DELETE FROM taken_from")
        assert sink.take_in() == 5  # read again...
        rows, total = sink.search(AuditQuery(patient_id="p1"))
        assert total == 5 and {id for id, _ in rows} == ids  # ...but stored once
    finally:
        sink.close()


def test_segments_retired_while_threads_record_lose_nothing(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(incoming_module, "SEGMENT_BYTES", 4096)  # a few entries' worth
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.01)
    ids: list[str] = []

    def record(thread: int) -> None:
        for number in range(150):
            ids.append(sink.record(entry(thread * 1000 + number)))

    try:
        threads = [threading.Thread(target=record, args=(thread,)) for thread in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _, total = sink.search(AuditQuery(count=0))
        assert total == 600
        assert all(sink.get(id) is not None for id in ids[::37])
        deadline = time.monotonic() + 5  # the syncing thread lets the full ones go...
        while len(sink.incoming.segments()) > 1 and time.monotonic() < deadline:
            sink.take_in()  # ...and once all in, they are retired
            time.sleep(0.02)
        assert len(sink.incoming.segments()) == 1
    finally:
        sink.close()


def test_an_earlier_versions_incoming_file_is_taken_in(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    sink = SQLiteSink(path)
    kept = sink.record(entry(1))
    line = sink.incoming.read(sink.incoming.segments()[0], 0)[0][0][0]
    sink.close()
    old = line.replace(kept.encode(), b"a" * len(kept))
    taken = line.replace(kept.encode(), b"b" * len(kept))
    path.with_name(path.name + ".incoming").write_bytes(taken + b"\n" + old + b"\n")
    with sink._db.transaction() as connection:  # where that version had got to
        connection.execute("CREATE TABLE taken_in (one INTEGER PRIMARY KEY, offset INTEGER)")
        connection.execute("INSERT INTO taken_in VALUES (1, ?)", (len(taken) + 1,))
    sink = SQLiteSink(path)
    try:
        assert sink.get("a" * len(kept)) is not None  # not yet indexed then: now it is
        assert sink.get("b" * len(kept)) is None  # indexed then (by that version)
        assert not path.with_name(path.name + ".incoming").exists()
    finally:
        sink.close()


def test_a_sink_dropped_without_close_takes_its_thread_along(tmp_path: Path) -> None:
    def syncing() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread.name == "audit-sync"}

    before = syncing()
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=0.02)
    sink.record(entry())
    (its_thread,) = syncing() - before
    del sink
    deadline = time.monotonic() + 5
    while its_thread.is_alive() and time.monotonic() < deadline:
        gc.collect()  # the sink and its segments refer to each other
        time.sleep(0.02)
    assert not its_thread.is_alive()


def test_close_waits_for_the_syncing_thread(tmp_path: Path) -> None:
    incoming = IncomingSegments(tmp_path / "in", interval=0.01)
    incoming.append(b"one\n")
    thread = incoming._thread
    incoming.close()
    assert thread is not None and not thread.is_alive()


def test_a_read_of_an_idle_segment_is_a_page_not_a_chunk(tmp_path: Path, monkeypatch) -> None:
    segment = tmp_path / f"x{SUFFIX}"
    segment.write_bytes(b"one\n" + bytes(SEGMENT_BYTES - 4))
    sizes: list[int] = []

    class Counting(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            sizes.append(size)
            return super().read(size)

    monkeypatch.setattr(incoming_module, "open", lambda path, mode: Counting(path),
                        raising=False)
    assert IncomingSegments.read(segment, 4) == ([], 4)
    assert sizes == [incoming_module._FIRST_READ]


def _flock_calling(monkeypatch, between) -> None:
    """``between()`` runs once, at the first flock: the writer's, on the file it has just
    made for its segment and before it holds it."""
    real = fcntl.flock
    called: list[bool] = []

    def flock(fd: int, operation: int) -> None:
        if not called:
            called.append(True)
            between(fd)
        real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)


def test_a_segment_is_never_retired_between_being_made_and_locked(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Another process taking lines in between the writer making its segment's file and
    locking it must not take the segment for finished and delete it: its writer would
    then write lines into a deleted file, never indexed."""
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    seen_between: list[list[str]] = []

    def take_in_now(fd: int) -> None:
        seen_between.append([path.name for path in sink.incoming.segments()])
        sink.take_in()

    try:
        _flock_calling(monkeypatch, take_in_now)
        id = sink.record(entry())
        monkeypatch.undo()
        assert sink.get(id) is not None
        assert seen_between == [[]]  # not to be seen before its writer holds it
        (segment,) = sink.incoming.segments()
        assert segment == sink.incoming._segment.path
    finally:
        sink.close()


def _age(path: Path) -> None:
    old = time.time() - ABANDONED_AFTER - 1
    os.utime(path, (old, old))


@pytest.mark.parametrize("clearing", ["done", "under way"])
def test_a_segment_cleared_away_under_a_stalled_writer_is_made_again(
        tmp_path: Path, monkeypatch, caplog, clearing: str) -> None:
    """A writer that stalls for ABANDONED_AFTER between making its file and locking it
    finds the index cleared the file away (deleted, or still holding it): it makes another
    instead of failing the request."""
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    held: list[int] = []

    def clear_away(fd: int) -> None:
        (making,) = sink.incoming.directory.glob(f"*{MAKING_SUFFIX}")
        _age(making)
        if clearing == "done":
            sink.incoming._cleared_at = float("-inf")
            sink.take_in()
            assert not making.exists()
        else:  # the index has just locked it, and not deleted it yet
            held.append(os.open(making, os.O_RDONLY))
            real_flock(held[0], fcntl.LOCK_EX | fcntl.LOCK_NB)

    real_flock = fcntl.flock
    try:
        _flock_calling(monkeypatch, clear_away)
        id = sink.record(entry())
        monkeypatch.undo()
        assert "making another" in caplog.text
        assert sink.get(id) is not None
        (segment,) = sink.incoming.segments()
        assert segment.name.endswith(f"-2{SUFFIX}")  # the second one made
    finally:
        for fd in held:
            os.close(fd)
        sink.close()


def test_a_half_made_segment_is_cleared_once_abandoned(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    directory = sink.incoming.directory
    abandoned, young, held = (directory / f"{name}{MAKING_SUFFIX}"
                              for name in ("1-1-1", "1-2-1", "1-3-1"))
    for path in (abandoned, young, held):
        path.write_bytes(b'{"id":"never indexed"}\n')  # nothing is: no line is written there
    _age(abandoned)
    _age(held)
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer stalled: making it still
    try:
        sink.record(entry())
        assert sink.take_in() == 1
        assert not abandoned.exists()
        assert young.exists() and held.exists()
        _age(young)
        assert sink.take_in() == 0
        assert young.exists()  # looked for at most every ABANDONED_AFTER
        sink.incoming._cleared_at = float("-inf")
        sink.take_in()
        assert not young.exists() and held.exists()
    finally:
        os.close(fd)
        sink.close()


def test_an_idle_round_takes_no_write_lock(tmp_path: Path, monkeypatch) -> None:
    sinks = [SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60) for _ in range(2)]
    transactions: list[bool] = []
    real = sinks[0]._db.transaction

    def counted(*args):
        transactions.append(True)
        return real(*args)

    try:
        for sink in sinks:
            sink.record(entry())
        assert sinks[0].take_in() == 2
        monkeypatch.setattr(sinks[0]._db, "transaction", counted)
        assert sinks[0].take_in() == 0
        assert transactions == []  # nothing new anywhere, nothing finished
        sinks[1].record(entry(1))
        assert sinks[0].take_in() == 1
        assert len(transactions) == 1
        sinks[1].incoming.close()  # finished: to be retired
        assert sinks[0].take_in() == 0
        assert len(transactions) == 2
        assert len(sinks[0].incoming.segments()) == 1
        assert sinks[0].take_in() == 0
        assert len(transactions) == 2
    finally:
        monkeypatch.undo()
        for sink in sinks:
            sink.close()


def test_a_segment_that_cannot_be_made_leaves_the_full_one_synced_once(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(incoming_module, "SEGMENT_BYTES", 64)
    incoming = IncomingSegments(tmp_path / "in", interval=60)
    real = os.posix_fallocate
    try:
        for number in range(3):
            incoming.append(b"line %02d of twenty\n" % number)  # the first segment, full

        def full_disk(fd: int, offset: int, length: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "posix_fallocate", full_disk)
        with pytest.raises(OSError, match="No space"):
            incoming.append(b"line 03 of twenty\n")
        with pytest.raises(OSError, match="No space"):
            incoming.append(b"line 03 of twenty\n")
        monkeypatch.setattr(os, "posix_fallocate", real)
        incoming.append(b"line 03 of twenty\n")
        incoming.sync()  # the full one is synced and let go, once
        assert list(incoming.directory.glob(f"*{MAKING_SUFFIX}")) == []
        first, second = incoming.segments()
        with IncomingSegments.finished(first) as finished:
            assert finished
        assert [line for line, _ in incoming.read(second, 0)[0]] == [b"line 03 of twenty"]
    finally:
        incoming.close()


class _Watched(threading.Condition):
    """The segments' condition, counting who starts to wait on it (by thread name): the
    syncing thread between its rounds, a request for the sync of its line."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = threading.Condition()
        self._waits: dict[str, int] = {}

    def wait(self, timeout: float | None = None) -> bool:
        with self._seen:
            name = threading.current_thread().name
            self._waits[name] = self._waits.get(name, 0) + 1
            self._seen.notify_all()
        return super().wait(timeout)

    def waited(self, name: str, times: int) -> bool:
        """Whether ``name`` has started its ``times``-th wait (within 2 s): holding the
        condition then means it is waiting, for a notify or its timeout."""
        with self._seen:
            return self._seen.wait_for(lambda: self._waits.get(name, 0) >= times, 2)


def _first_sync_held(monkeypatch) -> tuple[list[int], threading.Event, threading.Event]:
    """fdatasync recorded, the first call held until ``release`` is set (``entered`` says
    it has begun)."""
    calls: list[int] = []
    entered, release = threading.Event(), threading.Event()
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            entered.set()
            release.wait(5)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return calls, entered, release


def test_a_request_written_during_a_sync_is_synced_at_once_not_next_interval(
        tmp_path: Path, monkeypatch) -> None:
    """With fsync="request" no append returns before an fdatasync that began after its
    line was written; a request that asks while a sync is under way (nobody waiting on
    the condition to hear it) is still synced as soon as that one ends, not an interval
    later."""
    calls, entered, release = _first_sync_held(monkeypatch)
    incoming = IncomingSegments(tmp_path / "in", fsync="request", interval=60)
    incoming._state = watched = _Watched()  # before the syncing thread is started

    def request(line: bytes) -> threading.Thread:
        thread = threading.Thread(target=incoming.append, args=(line,),
                                  name=line.decode().strip())
        thread.start()
        return thread

    first = second = None
    try:
        first = request(b"first\n")
        assert entered.wait(2), "the syncing thread did not sync for the waiting request"
        second = request(b"second\n")  # written after that sync began: not covered by it
        assert watched.waited("second", 1)  # it has asked (notified), and waits
        assert first.is_alive() and second.is_alive()  # neither answered before its sync
        release.set()
        first.join(2)
        second.join(2)
        assert not first.is_alive()
        assert not second.is_alive(), "the second request waited for the next interval"
        assert len(calls) == 2
    finally:
        release.set()
        incoming.close()
        for thread in (first, second):
            if thread is not None:
                thread.join(5)


def test_the_interval_policy_neither_waits_for_a_sync_nor_syncs_on_demand(
        tmp_path: Path, monkeypatch) -> None:
    """With fsync="interval" an append returns while a sync is under way, and a line
    written meanwhile waits for the next round (here: a notify standing for the interval
    elapsing) instead of being synced at once."""
    calls, entered, release = _first_sync_held(monkeypatch)
    incoming = IncomingSegments(tmp_path / "in", fsync="interval", interval=60)
    incoming._state = watched = _Watched()

    def interval_elapses() -> None:
        with watched:
            watched.notify_all()

    try:
        incoming.append(b"first\n")
        assert watched.waited("audit-sync", 1)
        assert calls == []
        interval_elapses()
        assert entered.wait(2)
        second = threading.Thread(target=incoming.append, args=(b"second\n",))
        second.start()
        second.join(2)
        assert not second.is_alive()  # returned with the sync still held
        release.set()
        assert watched.waited("audit-sync", 2)  # the round is over: waiting again...
        assert len(calls) == 1  # ...without having synced the second line on its own
        interval_elapses()
        assert watched.waited("audit-sync", 3)
        assert len(calls) == 2
    finally:
        release.set()
        incoming.close()


def test_a_round_with_nothing_new_written_makes_no_fdatasync(tmp_path: Path,
                                                             monkeypatch) -> None:
    """fdatasync only when something was written since the last one: an idle writer's
    rounds (every 0.2 s by default, in every worker) cost the disk nothing."""
    calls: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    incoming = IncomingSegments(tmp_path / "in", interval=60)
    incoming._state = watched = _Watched()
    try:
        incoming.sync()
        assert calls == []
        incoming.append(b"one\n")
        assert watched.waited("audit-sync", 1)
        incoming.sync()  # which wakes the syncing thread for a round of its own...
        assert watched.waited("audit-sync", 2)
        assert len(calls) == 1  # ...with nothing left to sync
        incoming.sync()
        assert len(calls) == 1
        incoming.append(b"two\n")
        incoming.sync()
        assert watched.waited("audit-sync", 3)
        assert len(calls) == 2
    finally:
        incoming.close()


def test_a_segment_takes_the_8_mb_the_security_docs_state(tmp_path: Path) -> None:
    """docs/security.md tells operators each worker's segment is 8 MB, allocated on disk
    when made: what a deployment must leave free per worker."""
    incoming = IncomingSegments(tmp_path / "in", interval=60)
    try:
        incoming.append(b"one\n")
        (segment,) = incoming.segments()
        assert segment.stat().st_size == 8 * 1024 * 1024
    finally:
        incoming.close()


def test_a_segment_retired_by_another_round_under_this_one_counts_no_line(
        tmp_path: Path, monkeypatch) -> None:
    """Another thread's round may retire a segment (delete it, just after its commit)
    between this round listing it and reading it: nothing is taken from it, and nothing
    is counted or stored for it."""
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    gone = sink.incoming.directory / f"00000000000000000001-999999-1{SUFFIX}"
    real = sink.incoming.segments
    monkeypatch.setattr(sink.incoming, "segments", lambda: [gone, *real()])
    try:
        sink.record(entry(1))
        assert sink.take_in() == 1
        rows = sink._db.connection().execute("SELECT segment FROM taken_from").fetchall()
        assert gone.name not in {name for name, in rows}
    finally:
        monkeypatch.undo()
        sink.close()


def test_a_round_with_no_segment_at_all_asks_the_database_nothing(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """No process has written: every get and search (take_in first) skips even the read
    of the stored offsets."""
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    asked: list[str] = []
    monkeypatch.setattr(sink._db, "connection", lambda: asked.append("read"))
    monkeypatch.setattr(sink._db, "transaction", lambda *args: asked.append("write"))
    try:
        assert sink.incoming.segments() == []
        assert sink.take_in() == 0
        assert asked == []
    finally:
        monkeypatch.undo()
        sink.close()


def test_only_a_torn_line_is_reported_as_lost(tmp_path: Path, caplog) -> None:
    """An error says an entry was lost: a dead writer's torn last line. A segment retired
    whole, or a live one whose last line is still being copied in, is no error."""
    def errors() -> int:
        return sum(1 for record in caplog.records if record.levelno >= logging.ERROR)

    caplog.set_level(logging.WARNING, logger="facade.audit")
    sink = SQLiteSink(tmp_path / "audit.sqlite3", fsync_interval=60)
    directory = sink.incoming.directory
    try:
        first = sink.record(entry(1)).encode()
        line = sink.incoming.read(sink.incoming.segments()[0], 0)[0][0][0]
        whole = directory / f"00000000000000000001-999998-1{SUFFIX}"  # a writer's, closed
        whole.write_bytes(line.replace(first, b"a" * len(first)) + b"\n" + bytes(64))
        live = directory / f"00000000000000000001-999997-1{SUFFIX}"
        fd = os.open(live, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # its writer is alive, half way through a copy
        os.write(fd, line.replace(first, b"b" * len(first))[:40] + bytes(64))
        try:
            assert sink.take_in() == 2
            assert not whole.exists()  # retired, all in
            assert errors() == 0
        finally:
            os.close(fd)  # now its writer is gone: the half line is torn
        assert sink.take_in() == 0
        assert not live.exists()
        assert errors() == 1
    finally:
        sink.close()
