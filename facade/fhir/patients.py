"""Patient searches: which SystmOne calls answer them, and the FHIR filter applied after.

SystmOne's PatientSearch needs at least two criteria, matches names by their
beginning, dates of birth exactly, postcodes whole or by district, telephone
numbers against all four, gender M or F. FHIR parameters that cannot be sent
(a birthdate range, a name's ``:contains``, a value with commas) narrow the
results afterwards; they do not count towards the two.

``name`` is any part of a name, and SystmOne has no such criterion: beside two
others it narrows what they find. Beside exactly one other that is not a name
(birthdate, gender, address-postalcode, phone) it stands in for the second: the
patient list is searched twice, once with it as the surname and once as the
first name, and what either finds is kept (each search spends a request slot).

``:exact`` on family, given and name is sent as the beginning SystmOne matches
and filtered exactly (case and accents as given, FHIR's rule); ``:contains``
cannot be sent at all. Modified parameters are filtered by the search's common
predicates (search.py), which the service applies to what PatientSearch found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..ids import IdCodec
from ..mapping.declaration import Declaration, values_at
from ..protocol.functions import PatientSearchCriteria
from ..protocol.identity import Identity
from .identifiers import NHS_NUMBER_SYSTEM, patient_identity
from .outcome import FhirError
from .search import DateRange, alternatives, date_range, string_matches, tokens

SEARCHABLE_TOGETHER = ("family", "given", "birthdate (a full date)", "gender (male or female)",
                       "address-postalcode", "phone or telecom")
#: The name parameters SystmOne can be sent (as a name's beginning), and as which element.
SENT_NAMES = {"family": "Surname", "given": "FirstName"}
NAME_PARAMS = (*SENT_NAMES, "name")


@dataclass
class PatientQuery:
    """How to answer one Patient search: by identity (exempt record) or by PatientSearch
    (one call, or two when ``name`` stands in for a criterion)."""

    identity: Identity | None = None
    matches_nothing: bool = False
    criteria: list[PatientSearchCriteria] = field(default_factory=list)
    births: list[DateRange] = field(default_factory=list)
    #: Name tests SystmOne did not answer: (the paths read, the values any of which
    #: begins one of them).
    names: list[tuple[tuple[str, ...], list[str]]] = field(default_factory=list)

    def keeps(self, patient: dict) -> bool:
        birth = patient.get("birthDate")
        if self.births and not (birth and all(r.matches(birth) for r in self.births)):
            return False
        return all(any(string_matches(_strings(patient, paths), wanted) for wanted in values)
                   for paths, values in self.names)


def _strings(patient: dict, paths: tuple[str, ...]) -> list[str]:
    return [value for path in paths for value in values_at(patient, path)
            if isinstance(value, str)]


def plan(declaration: Declaration, params: dict[str, list[str]],
         codec: IdCodec) -> PatientQuery:
    if "identifier" in params or "_id" in params:
        return by_identity(params, codec)
    return _by_search(declaration, params)


def by_identity(params: dict[str, list[str]], codec: IdCodec) -> PatientQuery:
    """``_id`` and ``identifier`` (an NHS number, checked: identifiers.py), answered alone;
    two that name different patients match nothing."""
    query = PatientQuery()
    for value in params.get("_id", []):
        identity = codec.patient_identity(value)
        query.matches_nothing |= identity is None or (query.identity not in (None, identity))
        query.identity = identity
    for value in params.get("identifier", []):
        identity = patient_identity("identifier", value)
        query.matches_nothing |= query.identity not in (None, identity)
        query.identity = identity
    other = sorted(set(params) - {"identifier", "_id"})
    if other:
        raise FhirError(400, "not-supported", f"identifier and _id are answered alone; "
                                              f"remove {', '.join(other)}")
    return query


def _by_search(declaration: Declaration, params: dict[str, list[str]]) -> PatientQuery:
    query = PatientQuery()
    sent: dict[str, str | dt.date] = {}
    sent_by: set[str] = set()  # the FHIR parameters that reached SystmOne
    stand_in: str | None = None  # a name that may stand in for a second criterion
    for name, values in params.items():
        base, _, modifier = name.partition(":")
        for value in values:
            if base in NAME_PARAMS:
                if _add_name(query, declaration, sent, base, modifier, value):
                    sent_by.add(name)
                elif base == "name" and modifier in ("", "exact") and stand_in is None:
                    stand_in = _single(value)
            elif not modifier and _add(query, sent, name, value):
                sent_by.add(name)
    query.criteria = _criteria(sent, stand_in)
    if not query.criteria:
        raise FhirError(400, "invalid", _too_few(params, sent_by))
    return query


def _criteria(sent: dict, stand_in: str | None) -> list[PatientSearchCriteria]:
    """The PatientSearch calls: one with two criteria or more; two with one criterion
    that is not a name and a name to stand in as surname, then as first name; none when
    SystmOne could not be asked."""
    if len(sent) >= 2:
        return [_as_criteria(sent)]
    if len(sent) == 1 and stand_in and not set(sent) & set(SENT_NAMES.values()):
        return [_as_criteria({**sent, tag: stand_in}) for tag in ("Surname", "FirstName")]
    return []


def _as_criteria(sent: dict) -> PatientSearchCriteria:
    return PatientSearchCriteria(
        first_name=sent.get("FirstName"), surname=sent.get("Surname"),
        date_of_birth=sent.get("DateOfBirth"), postcode=sent.get("PostCode"),
        telephone=sent.get("Telephone"), gender=sent.get("Gender"))


def _add_name(query: PatientQuery, declaration: Declaration, sent: dict, base: str,
              modifier: str, value: str) -> bool:
    """A name parameter; True when it becomes a PatientSearch criterion: family or given
    (or their ``:exact``) with one value, its element not already sent. Whatever SystmOne
    is not sent as asked is filtered here (unmodified) or by the common predicates
    (modified)."""
    single = _single(value)
    tag = SENT_NAMES.get(base)
    if modifier in ("", "exact") and tag and single and tag not in sent:
        sent[tag] = single
        return True
    if not modifier:  # name, a value with commas, or a second family or given
        query.names.append((declaration.param(base).paths, alternatives(value)))
    return False


def _single(value: str) -> str | None:
    """The value as SystmOne could take it: one name (no comma alternatives), stripped."""
    parts = alternatives(value)
    return (parts[0].strip() or None) if len(parts) == 1 else None


def _add(query: PatientQuery, sent: dict, name: str, value: str) -> bool:
    """Record one parameter; True when it becomes a PatientSearch criterion.

    Criteria are sent without surrounding spaces, and one left blank is no criterion:
    SystmOne would refuse the search (and the refusal would still spend its slot).
    """
    before = len(sent)
    if name == "birthdate":
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


def _too_few(params: dict[str, list[str]], sent_by: set[str]) -> str:
    said = ("SystmOne searches its patient list only with at least two of: "
            + ", ".join(SEARCHABLE_TOGETHER)
            + " (e.g. family=Smith&birthdate=1970-01-01); or with name and one of birthdate, "
              "gender, address-postalcode, phone (two SystmOne searches: name as the surname, "
              "then as the first name); or by identifier "
              f"({NHS_NUMBER_SYSTEM}|...) or _id alone"
            + (f"; this search gives only {', '.join(sorted(sent_by))}" if sent_by else ""))
    unsendable = sorted(name for name in params if name.partition(":")[2] == "contains")
    if unsendable:
        said += (f"; {', '.join(unsendable)} cannot be sent (SystmOne matches names by their "
                 "beginning): it narrows what the others find")
    return said
