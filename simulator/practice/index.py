"""The practice's patient list: finding patients by identity and by PatientSearch.

Each patient is summarised once from its Demographics, so a search never
builds a full record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

from lxml import etree

from facade.protocol.functions import PatientSearchCriteria
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import text_of

from .model import RecordError, RecordSource
from .organisation import ADDRESS_FIELDS

#: Most results one search returns. TPP does not publish its cap; a search
#: narrow enough to be useful stays far below it.
MAX_SEARCH_RESULTS = 100
TELEPHONES = ("HomeTelephone", "MobileTelephone", "WorkTelephone", "AlternateTelephone")


@dataclass(frozen=True)
class PatientSummary:
    index: int
    identity: Identity
    identity_element: etree._Element  # as the record holds it, with the SRI
    first_name: str
    surname: str
    date_of_birth: dt.date | None
    sex: str
    postcode: str
    telephones: tuple[str, ...]  # digits only, in TELEPHONES order, '' where none
    raw_telephones: tuple[str, ...]  # as recorded
    address: etree._Element | None

    @property
    def preferred_telephone(self) -> str | None:
        """PatientSearch's ``Telephone``: the first number recorded, home before mobile."""
        return next((number for number in self.raw_telephones if number), None)


def summarise(response: etree._Element, index: int, source: str) -> PatientSummary:
    identity_element = response.find("Identity")
    if identity_element is None:
        raise RecordError(source, "record has no Identity")
    try:
        identity = Identity.from_element(identity_element)
    except ValueError as error:
        raise RecordError(source, str(error)) from None
    demographics = response.find("Demographics")
    raw_phones = tuple(text_of(demographics, tag) or "" for tag in TELEPHONES)
    return PatientSummary(
        index=index,
        identity=identity,
        identity_element=identity_element,
        first_name=text_of(demographics, "FirstName") or "",
        surname=text_of(demographics, "Surname") or "",
        date_of_birth=_date(text_of(demographics, "DateOfBirth")),
        sex=text_of(demographics, "Sex") or "U",
        postcode=_postcode(text_of(demographics, "Address/Postcode") or ""),
        telephones=tuple(_digits(number) for number in raw_phones),
        raw_telephones=raw_phones,
        address=_address(demographics),
    )


class PatientIndex:
    def __init__(self, source: RecordSource, source_name: str = "practice",
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.summaries: list[PatientSummary] = []
        self._by_identity: dict[Identity, PatientSummary] = {}
        describe = getattr(source, "describe", lambda index: f"{source_name} #{index}")
        total = len(source)
        for index in range(total):
            summary = summarise(source.demographics(index), index, describe(index))
            first = self._by_identity.get(summary.identity)
            if first is not None:
                raise RecordError(describe(index), f"{summary.identity.kind} "
                                  f"{summary.identity.value} is also in {describe(first.index)}")
            self.summaries.append(summary)
            self._by_identity[summary.identity] = summary
            if progress is not None:
                progress(index + 1, total)

    def __len__(self) -> int:
        return len(self.summaries)

    def find(self, identity: Identity) -> PatientSummary | None:
        return self._by_identity.get(identity)

    def search(self, criteria: PatientSearchCriteria) -> list[PatientSummary]:
        match = _matcher(criteria)
        found = [summary for summary in self.summaries if match(summary)]
        return found[:MAX_SEARCH_RESULTS]


def result_element(summary: PatientSummary) -> etree._Element:
    """One ``Result`` of a PatientSearch response."""
    result = etree.Element("Result")
    result.append(deepcopy(summary.identity_element))
    for tag, value in (("FirstName", summary.first_name), ("Surname", summary.surname),
                       ("DateOfBirth", summary.date_of_birth.isoformat()
                        if summary.date_of_birth else ""),
                       ("Sex", summary.sex)):
        etree.SubElement(result, tag).text = value
    if summary.preferred_telephone:
        etree.SubElement(result, "Telephone").text = summary.preferred_telephone
    if summary.address is not None:
        result.append(deepcopy(summary.address))
    return result


def _matcher(criteria: PatientSearchCriteria) -> Callable[[PatientSummary], bool]:
    """All given constraints must hold (TPP: each narrows the search)."""
    tests: list[Callable[[PatientSummary], bool]] = []
    if criteria.first_name:
        prefix = criteria.first_name.strip().casefold()
        tests.append(lambda s: s.first_name.casefold().startswith(prefix))
    if criteria.surname:
        surname = criteria.surname.strip().casefold()
        tests.append(lambda s: s.surname.casefold().startswith(surname))
    if criteria.date_of_birth:
        tests.append(lambda s: s.date_of_birth == criteria.date_of_birth)
    if criteria.postcode:
        tests.append(_postcode_test(criteria.postcode))
    if criteria.telephone:
        digits = _digits(criteria.telephone)
        tests.append(lambda s: bool(digits) and digits in s.telephones)
    if criteria.gender:
        tests.append(lambda s: s.sex == criteria.gender)
    return lambda summary: all(test(summary) for test in tests)


def _postcode_test(wanted: str) -> Callable[[PatientSummary], bool]:
    """A full, correctly spaced postcode matches exactly; an outward code (district) by prefix."""
    wanted = _postcode(wanted)
    if " " in wanted:
        return lambda s: s.postcode == wanted
    return lambda s: s.postcode.split(" ")[0] == wanted


def _postcode(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().upper())


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _address(demographics: etree._Element | None) -> etree._Element | None:
    address = demographics.find("Address") if demographics is not None else None
    if address is None or not any((text_of(address, tag) or "") for tag in ADDRESS_FIELDS):
        return None
    return address
