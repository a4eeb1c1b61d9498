"""Patient searches: which SystmOne call answers them, and the FHIR filter applied after.

SystmOne's PatientSearch needs at least two criteria, matches names by their
beginning, dates of birth exactly, postcodes whole or by district, telephone
numbers against all four, gender M or F. FHIR parameters that cannot be sent
(a birthdate range, ``name``) narrow the results afterwards; they do not count
towards the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..ids import IdCodec
from ..protocol.functions import PatientSearchCriteria
from ..protocol.identity import Identity, nhs_number_is_valid
from .outcome import FhirError
from .search import DateRange, date_range, string_matches, tokens

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
SEARCHABLE_TOGETHER = ("family", "given", "birthdate (a full date)", "gender (male or female)",
                       "address-postalcode", "phone or telecom")


@dataclass
class PatientQuery:
    """How to answer one Patient search: by identity (exempt record) or by PatientSearch."""

    identity: Identity | None = None
    matches_nothing: bool = False
    criteria: PatientSearchCriteria | None = None
    births: list[DateRange] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def keeps(self, patient: dict) -> bool:
        birth = patient.get("birthDate")
        if self.births and not (birth and all(r.matches(birth) for r in self.births)):
            return False
        name_parts = [part for name in patient.get("name", []) for part in
                      [name.get("family", ""), *name.get("given", []), name.get("text", "")]]
        return all(string_matches(name_parts, wanted) for wanted in self.names)


def plan(params: dict[str, list[str]], codec: IdCodec) -> PatientQuery:
    if "identifier" in params or "_id" in params:
        return _by_identity(params, codec)
    return _by_search(params)


def _by_identity(params: dict[str, list[str]], codec: IdCodec) -> PatientQuery:
    query = PatientQuery()
    for value in params.get("_id", []):
        identity = codec.patient_identity(value)
        query.matches_nothing |= identity is None or (query.identity not in (None, identity))
        query.identity = identity
    for value in params.get("identifier", []):
        token = tokens("identifier", value)
        if len(token) != 1:
            raise FhirError(400, "not-supported", "identifier: give one NHS number")
        system, number = token[0].system, token[0].code.replace(" ", "")
        if system not in (None, NHS_NUMBER_SYSTEM) or not nhs_number_is_valid(number):
            query.matches_nothing = True
            continue
        identity = Identity.nhs_number(number)
        query.matches_nothing |= query.identity not in (None, identity)
        query.identity = identity
    other = sorted(set(params) - {"identifier", "_id"})
    if other:
        raise FhirError(400, "not-supported", f"identifier and _id are answered alone; "
                                              f"remove {', '.join(other)}")
    return query


def _by_search(params: dict[str, list[str]]) -> PatientQuery:
    query = PatientQuery()
    sent: dict[str, str | dt.date] = {}
    sent_by: set[str] = set()  # the FHIR parameters that reached SystmOne
    for name, values in params.items():
        for value in values:
            if _add(query, sent, name, value):
                sent_by.add(name)
    if len(sent) < 2:
        raise FhirError(400, "invalid",
                        "SystmOne searches its patient list only with at least two of: "
                        + ", ".join(SEARCHABLE_TOGETHER)
                        + " (e.g. family=Smith&birthdate=1970-01-01), or by identifier "
                          "(https://fhir.nhs.uk/Id/nhs-number|...) or _id alone"
                        + (f"; this search gives only {', '.join(sorted(sent_by))}"
                           if sent_by else ""))
    query.criteria = PatientSearchCriteria(
        first_name=sent.get("FirstName"), surname=sent.get("Surname"),
        date_of_birth=sent.get("DateOfBirth"), postcode=sent.get("PostCode"),
        telephone=sent.get("Telephone"), gender=sent.get("Gender"))
    return query


def _add(query: PatientQuery, sent: dict, name: str, value: str) -> bool:
    """Record one parameter; True when it becomes a PatientSearch criterion.

    Criteria are sent without surrounding spaces, and one left blank is no criterion:
    SystmOne would refuse the search (and the refusal would still spend its slot).
    """
    before = len(sent)
    if name == "family":
        _criterion(sent, "Surname", value)
    elif name == "given":
        _criterion(sent, "FirstName", value)
    elif name == "name":
        query.names.append(value)
    elif name == "birthdate":
        births = date_range(name, value)
        query.births.append(births)
        if births.exact_date:
            sent["DateOfBirth"] = births.exact_date
    elif name == "gender":
        gender = {"male": "M", "female": "F"}.get(tokens(name, value)[0].code)
        if gender is None:
            raise FhirError(400, "not-supported",
                            f"gender: SystmOne searches male or female, not {value!r}")
        sent["Gender"] = gender
    elif name == "address-postalcode":
        _criterion(sent, "PostCode", value.upper())
    elif name in ("phone", "telecom"):
        _criterion(sent, "Telephone", tokens(name, value)[0].code)
    return len(sent) > before


def _criterion(sent: dict, tag: str, value: str) -> None:
    if value.strip():
        sent[tag] = value.strip()

