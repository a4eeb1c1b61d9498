"""Binary: a document a patient's record names, fetched from SystmOne when it is read.

The Binary id carries the patient and the DocumentUID (IdCodec.document_id), so the
service's policy applies before SystmOne is asked anything: the read is noted for the
audit against that patient, and a caller confined to another patient is refused (403).
The fetch itself (GetDocument, the files it writes) is facade/documents.py's. Made anew
on every read, a Binary's version is its content's hash (versions.py) and nothing more:
no meta.lastUpdated, so a conditional read goes by its ETag alone.
"""

from __future__ import annotations

import base64

from .. import versions
from ..mapping.declaration import DOCUMENT, Declaration
from .outcome import FhirError

__all__ = ["DOCUMENT", "DocumentSource"]


class DocumentSource:
    lists_patients = False

    def __init__(self, records, documents) -> None:
        self.records = records  # records.RecordService: the codec and the mappings
        self.documents = documents  # documents.DocumentFetcher, None: not served here

    def owner_of(self, declaration: Declaration, resource_id: str) -> str | None:
        found = self.records.codec.document_of(resource_id)
        return self.records.codec.patient_id(found[0]) if found is not None else None

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        identity, uid = self.records.codec.document_of(resource_id)
        if self.documents is None:
            raise FhirError(501, "not-supported", "Documents are not served by this deployment")
        document = self.documents.fetch(identity, uid)
        if document is None:
            return None
        patient = {"reference": f"Patient/{self.records.codec.patient_id(identity)}"}
        return versions.versioned(self.records.mappings.map_document(
            declaration.type.lower(), id=resource_id, patient=patient,
            content_type=document.content_type,
            data=base64.b64encode(document.data).decode("ascii")))

    def search(self, declaration: Declaration, request, controls, fresh: bool):
        raise FhirError(405, "not-supported", f"{declaration.type} is read by id only")
