"""What the simulator serves: an organisation and the patient records on its list.

Records are XML, exactly as GetPatientRecord returns them (the content of the
``Response`` element: Identity, Demographics, Clinical, NonClinical), whether
they were generated or loaded from a practice folder. One code path filters and
renders both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from .organisation import Organisation


class RecordSource(Protocol):
    """A practice's records, addressed by position (0..len-1)."""

    organisation: Organisation
    #: True when records are held in CTV3/Multilex and may be translated to
    #: SNOMED/dm+d on request (as SystmOne does); False serves codes as recorded.
    translates_codes: bool

    def __len__(self) -> int: ...

    def demographics(self, index: int) -> etree._Element:
        """A ``Response`` element holding only Identity and Demographics (cheap)."""

    def record(self, index: int) -> etree._Element:
        """The full ``Response`` element: Identity, Demographics, Clinical, NonClinical.

        Callers must not modify the returned element.
        """

    def document_files(self, uid: str, item: etree._Element) -> list | None:
        """The file(s) GetDocument extracts for the letter or attachment ``item`` (whose
        DocumentUID is ``uid``), as ``documents.DocumentFile``; None when not held."""


@dataclass(frozen=True)
class RecordError(Exception):
    """A practice record that cannot be served; names where it came from."""

    source: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"
