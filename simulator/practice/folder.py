"""A practice folder: recorded GetPatientRecord responses served as recorded.

Each ``*.xml`` file holds one patient's full record, either as a whole
``ClientIntegrationResponse`` or as just its ``Response`` element, so a reply
captured from TPP's Demo environment can be dropped in unchanged. Every file is
checked before anything is served: one bad file stops start-up with an error
naming it, and nothing is half-loaded. The documents the records name may be held
beside them in ``documents/`` (documents.py); GetDocument reads them when asked.

The folder's organisation is Tarnfield Medical Practice under codes derived
from the records it holds (``folder_organisation``): a GetPatientRecord reply
does not name the practice's ODS code (TPP spec v33.4: Demographics names the
usual GP's user name and the registration date and type, an Appointment its
site's name, an Event where it was done — none a code), so the codes come from
the patients on the list. Two folders of the same patients are one practice;
a folder with a patient more or fewer is another.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from facade.protocol import schemas
from facade.protocol.envelope import RESPONSE_ROOT
from facade.protocol.identity import Identity, IdentityError
from facade.protocol.xmlsafe import MalformedDocument, parse_document

from .documents import DocumentFile, folder_files
from .generator import default_organisation
from .model import RecordError
from .organisation import Organisation, fictitious_code

#: A recorded full record can be several megabytes; refuse anything absurd.
MAX_RECORD_FILE = 64 * 1024 * 1024


class FolderPractice:
    """RecordSource over a folder of recorded records (codes served as recorded)."""

    translates_codes = False

    def __init__(self, folder: Path, organisation: Organisation | None = None) -> None:
        self.folder = Path(folder)
        self.names: list[str] = []
        self._records: list[etree._Element] = []
        for path in _record_files(self.folder):
            self._records.append(load_record_file(path))
            self.names.append(path.name)
        self.organisation = organisation or folder_organisation(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def describe(self, index: int) -> str:
        return str(self.folder / self.names[index])

    def demographics(self, index: int) -> etree._Element:
        return self._records[index]

    def record(self, index: int) -> etree._Element:
        return self._records[index]

    def document_files(self, uid: str, item: etree._Element) -> list[DocumentFile] | None:
        """From ``documents/`` beside the records (see documents.py); None when absent."""
        return folder_files(self.folder, uid)


def folder_organisation(records: list[etree._Element]) -> Organisation:
    """Tarnfield under codes derived from the sorted identities of ``records`` (see the
    module's docstring): the same folder, or a copy, always names the same codes."""
    identities = sorted({_identity_key(record) for record in records})
    practice = "practice folder: " + ",".join(identities)
    organisation = default_organisation()
    return organisation.with_codes({site.id: fictitious_code(practice, site.id)
                                    for site in organisation.sites})


def _identity_key(record: etree._Element) -> str:
    element = record.find("Identity")  # required by the schema
    try:
        identity = Identity.from_element(element)
    except IdentityError:  # not one patient's: the element as written stands for it
        return etree.tostring(element, method="c14n").decode()
    return f"{identity.kind}:{identity.value}"


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
