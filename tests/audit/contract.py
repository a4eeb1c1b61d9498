"""The contract every audit sink keeps, run once per backend by subclassing ``SinkContract``.

A subclass sets ``kind`` (the ``open_sink`` spec prefix) and ``file`` (the
file name in the test's directory).
"""

from __future__ import annotations

import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from facade.audit.record import AccessRecord
from facade.audit.sink import AuditQuery, AuditSink, format_instant, instant_us, open_sink

from . import workers

BASE_US = instant_us("2026-11-01T12:00:00Z")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def entry(second: float = 0, **changes) -> AccessRecord:
    """An entry ``second`` seconds after noon, 1 Nov 2026."""
    base = AccessRecord(
        time=format_instant(BASE_US + round(second * 1_000_000)), client_id="client-a",
        scopes="system/Patient.rs system/Observation.rs", interaction="read",
        resource_type="Patient", patient_ids=("p1",), status=200, request_uids=("uid-1",),
        latency_ms=12.25, parameters=(), error="", request_id="req-1")
    return replace(base, **changes)


class SinkContract:
    kind: str
    file: str

    @pytest.fixture
    def spec(self, tmp_path: Path) -> str:
        return f"{self.kind}:{tmp_path / 'state' / self.file}"

    @pytest.fixture
    def sink(self, spec: str, tmp_path: Path):
        sink = open_sink(spec, tmp_path)
        yield sink
        sink.close()

    # -- record and get ----------------------------------------------------------

    def test_get_returns_what_was_recorded(self, sink: AuditSink) -> None:
        first = entry(patient_ids=("p1", "p2"), request_uids=("u1", "u2"),
                      parameters=("identifier", "_count"), error="not-found", status=404)
        second = entry(1, client_id="", scopes="", interaction="token", resource_type="",
                       patient_ids=(), request_uids=(), latency_ms=0.0)
        ids = [sink.record(first), sink.record(second)]
        assert len(set(ids)) == 2
        assert all(FHIR_ID.fullmatch(id) for id in ids)
        assert sink.get(ids[0]) == first
        assert sink.get(ids[1]) == second

    @pytest.mark.parametrize("id", ["", "nope", "b-1", "b99999", "../etc", "L1", "0" * 32])
    def test_get_unknown_or_malformed_id_is_none(self, sink: AuditSink, id: str) -> None:
        sink.record(entry())
        assert sink.get(id) is None

    def test_ids_are_case_sensitive(self, sink: AuditSink) -> None:
        """A FHIR id is case-sensitive: the same letters in another case are another id."""
        id = sink.record(entry())
        assert any(character.isalpha() for character in id)
        assert sink.get(id.swapcase()) is None and sink.get(id.upper()) is None
        assert sink.get(id) == entry()

    def test_entries_outlive_the_sink(self, spec: str, tmp_path: Path) -> None:
        sink = open_sink(spec, tmp_path)
        id = sink.record(entry())
        sink.close()
        reopened = open_sink(spec, tmp_path)
        try:
            assert reopened.get(id) == entry()
            assert reopened.search(AuditQuery())[1] == 1
        finally:
            reopened.close()

    # -- search ------------------------------------------------------------------

    def test_newest_first_by_time_then_insertion(self, sink: AuditSink) -> None:
        # Recorded out of time order, as a slow request is recorded after a quick later one.
        seconds = [5, 1, 3, 3, 9, 0, 3]
        ids = [sink.record(entry(second, request_id=f"r{n}")) for n, second in enumerate(seconds)]
        rows, total = sink.search(AuditQuery())
        assert total == len(seconds)
        expected = sorted(range(len(seconds)), key=lambda n: (seconds[n], n), reverse=True)
        assert [id for id, _ in rows] == [ids[n] for n in expected]
        assert [row.request_id for _, row in rows] == [f"r{n}" for n in expected]

    def test_filters(self, sink: AuditSink) -> None:
        entries = {
            "a-read": entry(0, patient_ids=("p1",)),
            "a-search": entry(1, interaction="search-type", patient_ids=("p1", "p10")),
            "a-obs": entry(2, resource_type="Observation", patient_ids=("p10",)),
            "b-403": entry(3, client_id="client-b", status=403, patient_ids=()),
            "b-500": entry(4, client_id="client-b", status=500, interaction="search-type"),
            "anon-401": entry(5, client_id="", scopes="", status=401, patient_ids=()),
            "token-400": entry(6, client_id="client-b", interaction="token", resource_type="",
                               status=400, patient_ids=()),
        }
        ids = {sink.record(value): name for name, value in entries.items()}

        def found(**filters) -> list[str]:
            rows, total = sink.search(AuditQuery(**filters))
            assert total == len(rows)
            return sorted(ids[id] for id, _ in rows)

        assert found() == sorted(entries)
        assert found(client_id="client-b") == ["b-403", "b-500", "token-400"]
        assert found(client_id="") == ["anon-401"]
        # Exact patient match: p1 is not a prefix match for p10.
        assert found(patient_id="p1") == ["a-read", "a-search", "b-500"]
        assert found(patient_id="p10") == ["a-obs", "a-search"]
        assert found(patient_id="p") == []
        assert found(interaction="search-type") == ["a-search", "b-500"]
        assert found(resource_type="Observation") == ["a-obs"]
        assert found(resource_type="") == ["token-400"]
        assert found(outcome="success") == ["a-obs", "a-read", "a-search"]
        assert found(outcome="failure") == ["anon-401", "b-403", "b-500", "token-400"]
        assert found(outcome="client-error") == ["anon-401", "b-403", "token-400"]
        assert found(outcome="server-error") == ["b-500"]
        assert found(client_id="client-b", outcome="client-error",
                     interaction="token") == ["token-400"]

    def test_time_bounds_are_inclusive(self, sink: AuditSink) -> None:
        ids = [sink.record(entry(second)) for second in range(5)]

        def found(since: str | None = None, until: str | None = None) -> list[str]:
            return [id for id, _ in sink.search(AuditQuery(since=since, until=until))[0]]

        assert found(since=entry(1).time, until=entry(3).time) == ids[3:0:-1]
        assert found(since=entry(3.000001).time) == [ids[4]]
        assert found(until=entry(0.999999).time) == [ids[0]]
        # Any offset, any number of fractional digits: the same instants.
        assert found(since="2026-11-01T13:00:02+01:00", until="2026-11-01T12:00:02Z") == [ids[2]]
        assert found(since="2026-11-01T12:00:04.5") == []

    def test_paging(self, sink: AuditSink) -> None:
        ids = [sink.record(entry(second)) for second in range(7)][::-1]
        pages = [sink.search(AuditQuery(count=3, offset=offset)) for offset in (0, 3, 6, 9)]
        assert [total for _, total in pages] == [7] * 4
        assert [[id for id, _ in rows] for rows, _ in pages] == [ids[0:3], ids[3:6], ids[6:], []]
        assert sink.search(AuditQuery(count=0, client_id="client-a")) == ([], 7)
        assert sink.search(AuditQuery(count=2, offset=1, until=entry(3).time))[0][0][0] == ids[4]

    @pytest.mark.parametrize("offset", [2**63 - 1, 2**63, 10**30])
    def test_an_offset_past_every_entry_finds_none_however_large(self, sink: AuditSink,
                                                                 offset: int) -> None:
        """SQLite cannot bind an integer past 2**63 - 1: it was an OverflowError (500)."""
        sink.record(entry())
        assert sink.search(AuditQuery(offset=offset)) == ([], 1)

    # -- durability and concurrency ------------------------------------------------

    def test_entries_survive_sigkill_right_after_record(self, spec: str) -> None:
        context = multiprocessing.get_context("spawn")
        reported: list[str] = []
        for count in (1, 2, 5, 20):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=workers.record_then_die,
                                    args=(spec, count, f"kill{count}", send))
            child.start()
            send.close()
            child.join(timeout=60)
            assert child.exitcode == -9  # killed, not a clean exit
            while True:
                try:
                    reported.append(receive.recv())
                except EOFError:  # the child's end closed when it died
                    break
            assert len(reported) == sum(n for n in (1, 2, 5, 20) if n <= count)
        sink = open_sink(spec, Path("."))
        try:
            assert all(sink.get(id) is not None for id in reported)
            rows, total = sink.search(AuditQuery(count=500))
            assert total == len(reported) == 28
            assert {id for id, _ in rows} == set(reported)
        finally:
            sink.close()

    def test_processes_and_threads_recording_at_once(self, spec: str) -> None:
        processes, threads, per_thread = 3, 4, 100
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=context,
                                 initializer=workers.take_start_line,
                                 initargs=(context.Barrier(processes),)) as pool:
            results = list(pool.map(workers.record_from_threads, [spec] * processes,
                                    [threads] * processes, [per_thread] * processes,
                                    [f"w{n}" for n in range(processes)]))
        ids = [id for result in results for id in result]
        assert len(ids) == len(set(ids)) == processes * threads * per_thread
        sink = open_sink(spec, Path("."))
        try:
            stored = []
            for offset in range(0, len(ids), 500):
                stored += [id for id, _ in sink.search(AuditQuery(count=500, offset=offset))[0]]
            assert sorted(stored) == sorted(ids)
            last = f"w{processes - 1}-t{threads - 1}-{per_thread - 1}"
            assert sink.get(ids[-1]).request_id == last
            # Each thread's entries are newest first in the order it recorded them.
            mine = sink.search(AuditQuery(client_id="w0-t0", count=500))[0]
            assert [row.request_id for _, row in mine] == [
                f"w0-t0-{n}" for n in reversed(range(per_thread))]
        finally:
            sink.close()

    def test_a_forked_child_records_through_an_inherited_sink(self, sink: AuditSink) -> None:
        sink.record(entry(0))
        child = multiprocessing.get_context("fork").Process(
            target=lambda: sink.record(entry(1, request_id="from-child")))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        sink.record(entry(2))
        rows, total = sink.search(AuditQuery())
        assert total == 3
        assert [row.request_id for _, row in rows] == ["req-1", "from-child", "req-1"]
