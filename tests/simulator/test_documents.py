"""GetDocument in the simulator, over TCP with the real client: the document's file(s)
written into WriteTo and named in the reply (TPP spec v33.4, "GetDocument"), from a
generated practice (small deterministic files) and from a practice folder's
``documents/`` (one file, or a folder of several images); SystmOne's errors for a
folder it cannot write to and a document it cannot extract."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from facade.protocol import schemas
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import parse_document
from facade.upstream.errors import PermanentError
from simulator.practice import folder_practice, generated_practice
from simulator.practice.documents import grey_jpeg, one_page_pdf
from tests.conftest import AS_OF

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"
#: From tests/fixtures/demo-practice/abel-agnes.xml, written by hand.
ABEL = Identity.nhs_number("9991012346")
ABEL_LETTER, ABEL_ECHO = "e2d4a10000000000", "e2d4a10100000000"
ADLEY_SCAN = "a3e5b20100000000"  # Clara Adley's dating scan, another patient's


def documents_of(practice, patient) -> dict[str, str]:
    """DocumentUID → item name (Letter or Attachment) of a patient's record."""
    record = practice.record(patient)
    return {item.findtext("DocumentUID"): item.tag
            for item in record.iterfind("Clinical/Event/*[DocumentUID]")}


def pdf_is_well_formed(data: bytes) -> None:
    """Header, trailer, and every xref offset pointing at its object (PDF 1.4, 7.5.4)."""
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    start = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    assert data[start:start + 5] == b"xref\n"
    entries = re.findall(rb"(\d{10}) 00000 n ", data[start:])
    for number, offset in enumerate(entries, start=1):
        assert data[int(offset):].startswith(b"%d 0 obj\n" % number)


def jpeg_is_well_formed(data: bytes) -> None:
    """SOI, then marker segments whose lengths chain up to the scan, then EOI (T.81 B)."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    at, markers = 2, []
    while data[at] == 0xFF and data[at + 1] != 0xDA:
        markers.append(data[at + 1])
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    assert data[at:at + 2] == b"\xff\xda"
    assert {0xDB, 0xC0, 0xC4} <= set(markers)  # tables and a baseline frame


def test_a_generated_letter_is_written_as_one_pdf_and_named(simulator, practice, tmp_path):
    patient, uid = next((p, uid) for p in practice.index.summaries
                        for uid, tag in documents_of(practice, p).items() if tag == "Letter")
    client = simulator.client()
    files = client.get_document(patient.identity, uid, str(tmp_path))
    assert files == [str(tmp_path / f"{uid}.pdf")]
    data = Path(files[0]).read_bytes()
    pdf_is_well_formed(data)
    assert uid.encode() in data
    reply = simulator.messages(1, function="GetDocument")[-1]
    schemas.validate(parse_document(reply.response_xml), "GetDocument.response")
    assert parse_document(reply.response_xml).findtext("Response/RecordState") == "Closed"


def test_generated_documents_are_the_same_bytes_every_time(tmp_path):
    first = generated_practice(40, seed=7, as_of=AS_OF)
    again = generated_practice(40, seed=7, as_of=AS_OF)
    found = 0
    for patient in first.index.summaries:
        for uid in documents_of(first, patient):
            files = first.document(patient, uid)
            assert files == again.document(again.find(patient.identity), uid)
            found += len(files)
    assert found > 10


def test_a_generated_photo_is_a_jpeg(practice):
    for patient in practice.index.summaries:
        for item in practice.record(patient).iterfind("Clinical/Event/Attachment"):
            if item.findtext("FileName").endswith(".jpg"):
                [file] = practice.document(patient, item.findtext("DocumentUID"))
                assert file.name.endswith(".jpg")
                jpeg_is_well_formed(file.data)
                return
    jpeg_is_well_formed(grey_jpeg("no photo in this practice"))


def test_the_writers_make_well_formed_files():
    pdf_is_well_formed(one_page_pdf(["(brackets) and \\ backslash", "é non-ASCII"]))
    jpeg_is_well_formed(grey_jpeg("comment"))


def test_another_patients_document_is_not_found(start_simulator, tmp_path):
    live = start_simulator(folder_practice(DEMO))
    write_to = tmp_path / "write-to"
    write_to.mkdir()
    with pytest.raises(PermanentError, match=f"No document {ADLEY_SCAN}"):
        live.client().get_document(ABEL, ADLEY_SCAN, str(write_to))
    assert list(write_to.iterdir()) == []


def test_a_folder_without_documents_answers_not_found(start_simulator, tmp_path):
    live = start_simulator(folder_practice(DEMO))
    with pytest.raises(PermanentError, match="No document"):
        live.client().get_document(ABEL, ABEL_LETTER, str(tmp_path))


def test_a_write_to_folder_that_does_not_exist_is_an_error(simulator, practice, tmp_path):
    patient, uid = next((p, uid) for p in practice.index.summaries
                        for uid in documents_of(practice, p))
    with pytest.raises(PermanentError, match="does not exist or cannot be written"):
        simulator.client().get_document(patient.identity, uid, str(tmp_path / "missing"))


def test_a_practice_folder_serves_its_documents_one_file_or_several(start_simulator,
                                                                    tmp_path):
    folder = tmp_path / "practice"
    shutil.copytree(DEMO, folder)
    documents = folder / "documents"
    documents.mkdir()
    (documents / f"{ABEL_ECHO}.PDF").write_bytes(b"%PDF-1.4 echo report")
    (documents / ABEL_LETTER).mkdir()  # a letter scanned as two pages
    (documents / ABEL_LETTER / "page2.tif").write_bytes(b"II*\x00page two")
    (documents / ABEL_LETTER / "page1.tif").write_bytes(b"II*\x00page one")
    (documents / "notes.txt").write_text("not a document of any record")
    written = tmp_path / "write-to"
    written.mkdir()
    client = start_simulator(folder_practice(folder)).client()

    [echo] = client.get_document(ABEL, ABEL_ECHO, str(written))
    assert Path(echo) == written / f"{ABEL_ECHO}.pdf"
    assert Path(echo).read_bytes() == b"%PDF-1.4 echo report"

    pages = client.get_document(ABEL, ABEL_LETTER, str(written))
    assert [Path(page).name for page in pages] == [f"{ABEL_LETTER}-1.tif",
                                                   f"{ABEL_LETTER}-2.tif"]
    assert [Path(page).read_bytes() for page in pages] == [b"II*\x00page one",
                                                           b"II*\x00page two"]
