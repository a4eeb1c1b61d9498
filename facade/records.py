"""From FHIR questions to SystmOne calls and back: the data service behind the API.

Every upstream call goes through ``SystmOneClient.call`` after taking a slot
from the ``Pacer``. Patient reads and identifier searches use a
Demographics-only GetPatientRecord (exempt from the 30-second rule); other
Patient searches use PatientSearch; Observations need the clinical record,
which is kept for ``record_ttl`` seconds so that paging and repeated
searches do not spend the scarce full-record slot again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from lxml import etree

from .ids import IdCodec
from .mapping.fidelity import fidelity
from .mapping.registry import DEFAULT, MappingRegistry
from .protocol.functions import PatientSearchCriteria, RecordFilter
from .protocol.identity import Identity
from .upstream.client import SystmOneClient
from .upstream.errors import PermanentError, UpstreamError
from .upstream.pacing import Pacer, Throttled

log = logging.getLogger(__name__)
NOT_FOUND_TEXTS = ("no patient", "not found", "does not exist")
ORGANISATION_TTL = 3600.0


@dataclass(frozen=True)
class Fetched:
    element: etree._Element
    at: float  # time.time() when it left SystmOne
    resources: list[dict] | None = None  # what it mapped to, validated once


class RecordService:
    def __init__(self, client: SystmOneClient, codec: IdCodec, pacer: Pacer,
                 record_ttl: float, mappings: MappingRegistry = DEFAULT) -> None:
        self.client = client
        self.mappings = mappings
        self.codec = codec
        self.pacer = pacer
        self.record_ttl = record_ttl
        self._records: dict[Identity, Fetched] = {}
        self._organisation: Fetched | None = None
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
        return self.mappings.map_resource(
            "patient", element, id=self.codec.patient_id(identity),
            last_updated=_instant(fetched_at), **self._general_practitioner(element))

    # -- the practice ------------------------------------------------------------

    def _general_practitioner(self, record: etree._Element) -> dict:
        """References to the practice (by ODS code) and the usual GP, when SystmOne names them."""
        organisation = self._organisation_metadata()
        if organisation is None:
            return {}
        references = {}
        site = next(iter(organisation.xpath("Site[PrimarySite] | Site[CurrentSite]")), None)
        if site is not None:
            references["practice"] = self.mappings.reference("PRACTICE", site)
        user_name = (record.findtext("Demographics/UsualGPUserName") or "").strip()
        user = next(iter(organisation.xpath("User[normalize-space(UserName) = $name]",
                                            name=user_name)), None) if user_name else None
        if user is not None:
            references["usual_gp"] = self.mappings.reference("CLINICIAN", user)
        return references

    def _organisation_metadata(self) -> etree._Element | None:
        """GetOrganisationMetaData, fetched once an hour; None if SystmOne will not say."""
        with self._lock:
            cached = self._organisation
        if cached is not None and time.time() - cached.at < ORGANISATION_TTL:
            return cached.element
        try:
            self.pacer.acquire()
            body = self.client.get_organisation_metadata()
        except (UpstreamError, Throttled):
            return cached.element if cached is not None else None
        with self._lock:
            self._organisation = Fetched(body, time.time())
        return body

    # -- Observations ------------------------------------------------------------

    def observations(self, identity: Identity) -> list[dict] | None:
        """Every Observation in the patient's record, or None when there is no record.

        Mapped and validated once per fetched record; later pages and searches reuse them.
        Callers must not modify the returned resources.
        """
        with self._lock:
            cached = self._records.get(identity)
        if cached is not None and time.time() - cached.at < self.record_ttl:
            return cached.resources
        fetched = self._clinical_record(identity)
        return fetched.resources if fetched is not None else None

    def _map_observations(self, identity: Identity, record: etree._Element,
                          fetched_at: float) -> list[dict]:
        patient_reference = {"reference": f"Patient/{self.codec.patient_id(identity)}"}
        resources = self.mappings.map_resources("observation", record,
                                                patient=patient_reference)
        log.info("clinical fidelity: %s", fidelity(record, resources).log_line())
        for resource in resources:
            item_key = resource["id"]
            resource["id"] = self.codec.observation_id(identity, item_key)
            resource.setdefault("meta", {})["lastUpdated"] = _instant(fetched_at)
        return resources

    def _clinical_record(self, identity: Identity) -> Fetched | None:
        self.pacer.acquire(full_record=True)
        try:
            record = self.client.get_patient_record(identity)
        except PermanentError as error:
            if _means_not_found(error.message):
                return None
            raise
        fetched_at = time.time()
        fetched = Fetched(record, fetched_at,
                          self._map_observations(identity, record, fetched_at))
        with self._lock:
            self._records[identity] = fetched
        return fetched


def _means_not_found(message: str) -> bool:
    return any(text in message.lower() for text in NOT_FOUND_TEXTS)


def _instant(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
