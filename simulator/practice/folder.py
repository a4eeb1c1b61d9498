"""A practice folder: recorded GetPatientRecord responses served as recorded.

Each ``*.xml`` file holds one patient's full record, either as a whole
``ClientIntegrationResponse`` or as just its ``Response`` element, so a reply
captured from TPP's Demo environment can be dropped in unchanged. Every file is
checked before anything is served: one bad file stops start-up with an error
naming it, and nothing is half-loaded.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from facade.protocol import schemas
from facade.protocol.envelope import RESPONSE_ROOT
from facade.protocol.xmlsafe import MalformedDocument, parse_document

from .generator import default_organisation
from .model import RecordError
from .organisation import Organisation

#: A recorded full record can be several megabytes; refuse anything absurd.
MAX_RECORD_FILE = 64 * 1024 * 1024


class FolderPractice:
    """RecordSource over a folder of recorded records (codes served as recorded)."""

    translates_codes = False

    def __init__(self, folder: Path, organisation: Organisation | None = None) -> None:
        self.folder = Path(folder)
        self.organisation = organisation or default_organisation()
        self.names: list[str] = []
        self._records: list[etree._Element] = []
        for path in _record_files(self.folder):
            self._records.append(load_record_file(path))
            self.names.append(path.name)

    def __len__(self) -> int:
        return len(self._records)

    def describe(self, index: int) -> str:
        return str(self.folder / self.names[index])

    def demographics(self, index: int) -> etree._Element:
        return self._records[index]

    def record(self, index: int) -> etree._Element:
        return self._records[index]


def _record_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise RecordError(str(folder), "practice folder does not exist or is not a directory")
    files = sorted(path for path in folder.iterdir()
                   if path.suffix.lower() == ".xml" and path.is_file())
    if not files:
        raise RecordError(str(folder), "practice folder holds no *.xml files")
    return files


def load_record_file(path: Path) -> etree._Element:
    """The record's ``Response`` element (without RecordState), checked against the schema."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RecordError(str(path), f"cannot read: {error.strerror}") from None
    try:
        root = parse_document(data, MAX_RECORD_FILE)
    except MalformedDocument as error:
        raise RecordError(str(path), str(error)) from None
    response = _response_element(root, path)
    try:
        schemas.validate(response, "patient-record")
    except schemas.SchemaViolation as error:
        raise RecordError(str(path), f"not a SystmOne patient record: {error}") from None
    for state in response.findall("RecordState"):
        response.remove(state)
    return response


def _response_element(root: etree._Element, path: Path) -> etree._Element:
    if root.tag == RESPONSE_ROOT:
        function = root.findtext("Function")
        if function and function.strip() != "GetPatientRecord":
            raise RecordError(str(path), f"holds a {function.strip()} response, "
                                         "not GetPatientRecord")
        response = root.find("Response")
        if response is None:
            raise RecordError(str(path), f"{RESPONSE_ROOT} has no Response element")
    elif root.tag == "Response":
        response = root
    else:
        raise RecordError(str(path), f"root element is {root.tag!r}; expected "
                                     f"{RESPONSE_ROOT} or Response")
    if response.find("ErrorMessage") is not None:
        raise RecordError(str(path), "holds an error response, not a patient record")
    # Detach from any envelope so the record stands alone.
    record = etree.fromstring(etree.tostring(response))
    _strip_indentation(record)
    return record


def _strip_indentation(record: etree._Element) -> None:
    """Drop whitespace-only text between elements (a recorded file's indentation).

    Served replies then stay on one line, as SystmOne writes them; text inside
    leaf elements (a narrative line, task content) is kept exactly.
    """
    for element in record.iter():
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
