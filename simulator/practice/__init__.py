"""The simulated practice: an organisation, its patient list and their records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lxml import etree

from facade.protocol.functions import PatientSearchCriteria
from facade.protocol.identity import Identity

from .documents import DocumentFile, document_item
from .index import PatientIndex, PatientSummary
from .model import RecordError, RecordSource
from .organisation import Organisation

__all__ = ["Practice", "RecordError", "folder_practice", "generated_practice"]


class Practice:
    """What the simulator's functions read: records plus the index over them."""

    def __init__(self, source: RecordSource, name: str = "practice",
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.source = source
        self.index = PatientIndex(source, name, progress)

    @property
    def organisation(self) -> Organisation:
        return self.source.organisation

    @property
    def translates_codes(self) -> bool:
        return self.source.translates_codes

    def __len__(self) -> int:
        return len(self.index)

    def find(self, identity: Identity) -> PatientSummary | None:
        return self.index.find(identity)

    def search(self, criteria: PatientSearchCriteria) -> list[PatientSummary]:
        return self.index.search(criteria)

    def record(self, patient: PatientSummary) -> etree._Element:
        return self.source.record(patient.index)

    def document(self, patient: PatientSummary, uid: str) -> list[DocumentFile] | None:
        """The file(s) of the document ``uid`` of the patient's record; None when the
        record names no such document or the practice does not hold its file. A
        document of another patient's record is not found: GetDocument names both."""
        item = document_item(self.record(patient), uid)
        return self.source.document_files(uid, item) if item is not None else None


def generated_practice(patients: int, seed: int, *, as_of=None, history_scale: float = 1.0,
                       progress: Callable[[int, int], None] | None = None) -> Practice:
    from .generator import GeneratedPractice

    return Practice(GeneratedPractice(patients, seed, as_of=as_of, history_scale=history_scale),
                    f"generated practice (seed {seed})", progress)


def folder_practice(folder: Path, progress: Callable[[int, int], None] | None = None) -> Practice:
    from .folder import FolderPractice

    source = FolderPractice(folder)
    practice = Practice(source, str(folder), progress)
    return practice
