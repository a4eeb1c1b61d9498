"""From FHIR questions to SystmOne calls and back: the data service behind the API.

Every upstream call goes through ``SystmOneClient.call`` after taking a slot
from the ``Pacer``. Patient reads and identifier searches use a
Demographics-only GetPatientRecord (exempt from the 30-second rule); other
Patient searches use PatientSearch; Observations need the clinical record,
which is kept for ``record_ttl`` seconds so that paging and repeated
searches do not spend the scarce full-record slot again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lxml import etree

from .ids import IdCodec
from .mapping.registry import map_resource, map_resources
from .protocol.functions import PatientSearchCriteria, RecordFilter
from .protocol.identity import Identity
from .upstream.client import SystmOneClient
from .upstream.errors import PermanentError
from .upstream.pacing import Pacer

NOT_FOUND_TEXTS = ("no patient", "not found", "does not exist")


@dataclass(frozen=True)
class Fetched:
    element: etree._Element
    at: float  # time.time() when it left SystmOne


class RecordService:
    def __init__(self, client: SystmOneClient, codec: IdCodec, pacer: Pacer,
                 record_ttl: float) -> None:
        self.client = client
        self.codec = codec
        self.pacer = pacer
        self.record_ttl = record_ttl
        self._records: dict[Identity, Fetched] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # -- Patients ----------------------------------------------------------------

    def patient(self, identity: Identity) -> dict | None:
        """The full UK Core Patient, or None when SystmOne has no such record."""
        self.pacer.acquire()
        try:
            record = self.client.get_patient_record(identity, RecordFilter.demographics_only())
        except PermanentError as error:
            if _means_not_found(error.message):
                return None
            raise
        return self._patient_resource(record, time.time())

    def search_patients(self, criteria: PatientSearchCriteria) -> list[dict]:
        """SUBSETTED Patients from SystmOne's PatientSearch summary."""
        self.pacer.acquire()
        fetched_at = time.time()
        return [self._patient_resource(result, fetched_at)
                for result in self.client.patient_search(criteria)]

    def _patient_resource(self, element: etree._Element, fetched_at: float) -> dict:
        identity = Identity.from_element(element.find("Identity"))
        return map_resource("patient", element, id=self.codec.patient_id(identity),
                            last_updated=_instant(fetched_at))

    # -- Observations ------------------------------------------------------------

    def observations(self, identity: Identity) -> list[dict] | None:
        """Every Observation in the patient's record, or None when there is no record."""
        fetched = self._clinical_record(identity)
        if fetched is None:
            return None
        patient_reference = {"reference": f"Patient/{self.codec.patient_id(identity)}"}
        resources = map_resources("observation", fetched.element, patient=patient_reference)
        for resource in resources:
            item_key = resource["id"]
            resource["id"] = self.codec.observation_id(identity, item_key)
            resource.setdefault("meta", {})["lastUpdated"] = _instant(fetched.at)
        return resources

    def _clinical_record(self, identity: Identity) -> Fetched | None:
        with self._lock:
            cached = self._records.get(identity)
            if cached is not None and time.time() - cached.at < self.record_ttl:
                return cached
        self.pacer.acquire(full_record=True)
        try:
            record = self.client.get_patient_record(identity)
        except PermanentError as error:
            if _means_not_found(error.message):
                return None
            raise
        fetched = Fetched(record, time.time())
        with self._lock:
            self._records[identity] = fetched
        return fetched


def _means_not_found(message: str) -> bool:
    return any(text in message.lower() for text in NOT_FOUND_TEXTS)


def _instant(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
