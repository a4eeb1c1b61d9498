"""GeneratedPractice: the generated practice list that the simulator serves.

It ties the other modules together: it builds a patient's demographics on
demand and, only when the full record is asked for, the profile, the event
timeline and the Clinical and NonClinical XML, caching recent records.
"""

from __future__ import annotations

import datetime as dt
import functools
import random

from lxml import etree

from ..documents import DocumentFile, generated_files
from ..organisation import Organisation
from .history import build_timeline
from .identifiers import MAX_PATIENTS
from .items import Pending, Staff
from .person import Person, demographics_element, identity_element, make_person
from .profile import clinical_profile
from .record_xml import clinical_element, non_clinical_element
from .sample_organisation import generated_organisation


class GeneratedPractice:
    """A generated practice list that satisfies ``model.RecordSource``."""

    translates_codes = True  # held in CTV3 (part SNOMED CT) + Multilex, translated on request

    def __init__(self, patients: int, seed: int, as_of: dt.date | None = None,
                 history_scale: float = 1.0) -> None:
        if not 0 <= patients <= MAX_PATIENTS:
            raise ValueError(f"patients must be between 0 and {MAX_PATIENTS}")
        if history_scale < 0:
            raise ValueError("history_scale must not be negative")
        self.organisation: Organisation = generated_organisation(patients, seed)
        self.patients = patients
        self.seed = seed
        self.as_of = as_of or dt.date.today()
        self.history_scale = history_scale
        self._gps = tuple(user for user in self.organisation.users if user.is_gp)
        self._cached_record = functools.lru_cache(maxsize=64)(self._build_record)

    def __len__(self) -> int:
        return self.patients

    def demographics(self, index: int) -> etree._Element:
        return _demographics_response(self._person(index))

    def record(self, index: int) -> etree._Element:
        return self._cached_record(self._checked(index))

    def document_files(self, uid: str, item: etree._Element) -> list[DocumentFile]:
        """Every document of a generated record has a small deterministic file."""
        return generated_files(item, uid)

    def _build_record(self, index: int) -> etree._Element:
        person = self._person(index)
        response = _demographics_response(person)
        rng = random.Random(f"{self.seed}:{index}:clinical")
        profile = clinical_profile(person, rng, self.as_of)
        staff = Staff.of(self.organisation)
        care = random.Random(f"{self.seed}:{index}:care")
        pending = Pending()
        timeline = build_timeline(person, profile, rng, staff, self.as_of, self.history_scale,
                                  care, pending)
        response.append(clinical_element(timeline, person))
        response.append(non_clinical_element(person, rng, staff, self.as_of, pending))
        return response

    def _person(self, index: int) -> Person:
        return make_person(self.seed, self._checked(index), self.as_of, self._gps)

    def _checked(self, index: int) -> int:
        if not 0 <= index < self.patients:
            raise IndexError(f"patient index {index} out of range 0..{self.patients - 1}")
        return index


def _demographics_response(person: Person) -> etree._Element:
    response = etree.Element("Response")
    response.append(identity_element(person))
    response.append(demographics_element(person))
    return response
