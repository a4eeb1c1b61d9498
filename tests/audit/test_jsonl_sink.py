"""The JSON-lines sink: the shared contract, plus its file format and torn lines."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from facade.audit.jsonl_sink import JSONLSink
from facade.audit.sink import AuditQuery, open_sink

from .contract import SinkContract, entry


class TestJSONLContract(SinkContract):
    kind = "jsonl"
    file = "audit.jsonl"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "audit.jsonl"


@pytest.fixture
def sink(path: Path):
    sink = open_sink(f"jsonl:{path}", Path("."))
    assert isinstance(sink, JSONLSink)
    yield sink
    sink.close()


def test_one_json_object_per_line_with_its_offset_as_id(sink: JSONLSink, path: Path) -> None:
    ids = [sink.record(entry(second, patient_ids=("p1", "p2"))) for second in range(3)]
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    offset = 0
    for id, line in zip(ids, lines, strict=True):
        assert id == f"b{offset}"
        value = orjson.loads(line)
        assert value["id"] == id and value["patient_ids"] == ["p1", "p2"]
        offset += len(line)


def test_file_is_private_and_created_at_open(path: Path) -> None:
    sink = JSONLSink(path)
    try:
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        sink.close()


def test_an_id_in_the_middle_of_a_line_finds_nothing(sink: JSONLSink) -> None:
    sink.record(entry(0))
    second = sink.record(entry(1))
    offset = int(second[1:])
    assert sink.get(second) == entry(1)
    for near in (offset - 1, offset + 1, 1):
        assert sink.get(f"b{near}") is None


def test_torn_and_foreign_lines_are_skipped(sink: JSONLSink, path: Path) -> None:
    first = sink.record(entry(0))
    with path.open("ab") as file:
        file.write(b"not json\n")  # a line some other tool wrote
        file.write(b'{"id": "b1", "time": "2026')  # a writer killed mid-line
    second = sink.record(entry(1))
    assert path.read_bytes().count(b"\n") == 4  # the torn line was ended, not glued onto
    assert sink.get(second) == entry(1)
    rows, total = sink.search(AuditQuery())
    assert total == 2
    assert [id for id, _ in rows] == [second, first]
