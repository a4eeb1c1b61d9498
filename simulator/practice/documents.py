"""The documents behind a record's DocumentUIDs, for GetDocument.

A GetPatientRecord reply names each letter and attachment by its DocumentUID; the
file itself comes only through GetDocument (TPP spec v33.4), written to a folder as
one file or, for some formats, as several image files. Where a practice's documents
come from:

- a generated practice makes a small deterministic file for every DocumentUID of its
  records: a one-page PDF for letters and ``.pdf`` attachments, an 8x8 grey JPEG for
  ``.jpg``/``.jpeg`` ones, plain text otherwise. The same record always gives the same
  bytes (nothing is random, nothing is dated from the clock).
- a practice folder holds them beside the records, in ``documents/``: a file named
  ``<DocumentUID>.<extension>``, or a folder ``<DocumentUID>/`` of several files (a
  document SystmOne exports as several images), taken in name order. A DocumentUID
  with neither is not found, as SystmOne answers for a document it cannot extract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

#: The record items that name a document.
DOCUMENT_ITEMS = ("Letter", "Attachment")
#: A document file in a practice folder larger than this is refused at start of a read.
MAX_DOCUMENT_FILE = 64 * 1024 * 1024


@dataclass(frozen=True)
class DocumentFile:
    """One file of a document: its name (``<uid>.<extension>``) and its bytes."""

    name: str
    data: bytes


def document_item(record: etree._Element, uid: str) -> etree._Element | None:
    """The Letter or Attachment of ``record`` whose DocumentUID is ``uid``."""
    for item in record.iterfind("Clinical/Event/*[DocumentUID]"):
        if item.tag in DOCUMENT_ITEMS and (item.findtext("DocumentUID") or "").strip() == uid:
            return item
    return None


# --- a generated practice ------------------------------------------------------------

def generated_files(item: etree._Element, uid: str) -> list[DocumentFile]:
    """The file a generated record's letter or attachment is extracted as."""
    lines = _describe(item, uid)
    extension = _extension(item.findtext("FileName") or "") if item.tag == "Attachment" \
        else "pdf"
    if extension == "pdf":
        return [DocumentFile(f"{uid}.pdf", one_page_pdf(lines))]
    if extension in ("jpg", "jpeg"):
        return [DocumentFile(f"{uid}.{extension}", grey_jpeg(" / ".join(lines)))]
    return [DocumentFile(f"{uid}.txt", ("\r\n".join(lines) + "\r\n").encode("utf-8"))]


def _describe(item: etree._Element, uid: str) -> list[str]:
    """What the simulated document says: what the record says of it, and that it is made up."""
    def text(path: str) -> str:
        return " ".join((item.findtext(path) or "").split())

    lines = ["Simulated SystmOne document (fictitious)", f"DocumentUID {uid}"]
    if item.tag == "Letter":
        sender = " ".join(filter(None, (text("SenderName/Title"), text("SenderName/FirstName"),
                                         text("SenderName/Surname"))))
        lines += [f"{text('Type')} ({text('Direction')}, {text('DateSentReceived')})",
                  f"From {sender}, {text('SenderOrganisation')}".strip(", "),
                  f"To {text('RecipientOrganisation')}"]
    else:
        lines += [text("FileName"), text("Comments")]
    return [line for line in lines if line.strip()]


def _extension(file_name: str) -> str:
    return file_name.rpartition(".")[2].lower() if "." in file_name else ""


def one_page_pdf(lines: list[str]) -> bytes:
    """A valid single-page PDF 1.4 showing ``lines`` in Helvetica (ASCII only)."""
    def escaped(line: str) -> str:
        ascii_only = line.encode("ascii", "replace").decode()
        return ascii_only.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    shown = "".join(f"({escaped(line)}) Tj T* " for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 56 780 Td {shown}ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def grey_jpeg(comment: str) -> bytes:
    """A valid baseline JPEG: 8x8 pixels of mid grey, ``comment`` in a COM segment.

    One 8x8 block whose every coefficient is zero after the level shift: the DC and AC
    Huffman tables each need one code ("0": DC difference category 0, and end of block),
    so the scan is the two bits 00, padded with ones.
    """
    def segment(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload

    one_code = bytes((1,) + (0,) * 15) + b"\x00"  # one code of length 1, for symbol 0
    text = comment.encode("ascii", "replace")[:60000]
    return b"".join((
        b"\xff\xd8",  # SOI
        segment(0xFE, text),  # COM
        segment(0xDB, b"\x00" + b"\x01" * 64),  # DQT: table 0, every step 1
        segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),  # SOF0: 8x8, one component
        segment(0xC4, b"\x00" + one_code),  # DHT: DC table 0
        segment(0xC4, b"\x10" + one_code),  # DHT: AC table 0
        segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),  # SOS: component 1, tables 0/0
        b"\x3f",  # the scan: bits 00, then 1s
        b"\xff\xd9",  # EOI
    ))


# --- a practice folder -----------------------------------------------------------------

def folder_files(folder: Path, uid: str) -> list[DocumentFile] | None:
    """The document ``uid`` as a practice folder holds it (module docstring), or None."""
    documents = folder / "documents"
    if not documents.is_dir() or not _safe_name(uid):
        return None
    several = documents / uid
    if several.is_dir():
        paths = sorted(path for path in several.iterdir() if path.is_file())
        return [DocumentFile(f"{uid}-{number}{path.suffix.lower()}", _read(path))
                for number, path in enumerate(paths, start=1)] or None
    single = sorted(path for path in documents.glob(f"{uid}.*") if path.is_file())
    if not single:
        return None
    return [DocumentFile(f"{uid}{single[0].suffix.lower()}", _read(single[0]))]


def _safe_name(uid: str) -> bool:
    """A DocumentUID is a file name here: letters, digits, - and _ only."""
    return bool(uid) and all(ch.isalnum() or ch in "-_" for ch in uid)


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_DOCUMENT_FILE:
        raise OSError(f"{path} is larger than {MAX_DOCUMENT_FILE} bytes")
    return path.read_bytes()
