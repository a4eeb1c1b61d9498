"""Answering GetPatientRecord: a stored record cut down by the Filter, in the asked-for scheme.

Filter semantics, from TPP's specification:

* no Filter, or a Filter naming no data type: the whole record;
* type flags (``Medication``, ``Narrative``...) and the valued ``ClinicalCode``
  / ``Numeric`` filters select Event items; ``ClinicalCodes`` selects every
  coded item and overrides ``ClinicalCode``; ``Demographics`` selects the
  Demographics block; ``Appointments`` / ``Visits`` / ``Tasks`` the
  NonClinical items;
* effective dates keep items whose effective period overlaps the range (most
  items are effective from recording onwards; medication from start to end);
* entry dates keep items entered in the range (the Event's DateTime);
* ``UserNameDoneBy`` keeps data recorded by those users, and always data whose
  recording user is unknown.

Demographics, Clinical and NonClinical are absent when not requested.
"""

from __future__ import annotations

import datetime as dt
from copy import deepcopy

from lxml import etree

from facade.protocol.envelope import OutputScheme
from facade.protocol.functions import RecordFilter

from . import concepts

#: Which Filter flag selects each kind of Event item.
ITEM_FLAGS = {
    "ClinicalCode": "ClinicalCodes",
    "Medication": "Medication",
    "RepeatMedication": "Medication",
    "DrugSensitivity": "Sensitivities",
    "Vaccination": "Vaccinations",
    "Report": "Results",
    "Letter": "Letters",
    "Attachment": "Attachments",
    "Narrative": "Narrative",
    "Reminder": "Reminders",
    "Recall": "Recalls",
    "Referral": "Referrals",
    "Relationship": "Relationships",
    "CarePlan": "CarePlans",
    "PatientPlan": "CarePlans",
    "Activity": "Activity",
}
NON_CLINICAL_FLAGS = {"Appointment": "Appointments", "Visit": "Visits", "Task": "Tasks"}
_FOREVER = dt.date.max


def render_record(record: etree._Element, record_filter: RecordFilter | None,
                  scheme: OutputScheme, translate_codes: bool, record_state: str) -> etree._Element:
    """The ``Response`` element GetPatientRecord returns for ``record``."""
    selection = _Selection(record_filter)
    body = etree.Element("Response")
    body.append(deepcopy(record.find("Identity")))
    demographics = record.find("Demographics")
    if demographics is not None and selection.wants("Demographics"):
        body.append(deepcopy(demographics))
    if selection.wants_clinical:
        body.append(_clinical(record.find("Clinical"), selection))
    if selection.wants_non_clinical:
        body.append(_non_clinical(record.find("NonClinical"), selection))
    etree.SubElement(body, "RecordState").text = record_state
    if translate_codes:
        translate(body, scheme)
    return body


class _Selection:
    def __init__(self, record_filter: RecordFilter | None) -> None:
        self.filter = record_filter or RecordFilter()
        self.everything = not self.filter.selects_types
        flags = self.filter.flags
        self.wants_clinical = self.everything or bool(
            flags & set(ITEM_FLAGS.values()) or self.filter.clinical_codes or self.filter.numerics)
        self.wants_non_clinical = self.everything or bool(flags & set(NON_CLINICAL_FLAGS.values()))
        #: Nothing to cut: every item of every event, as stored.
        self.keeps_all = self.everything and not self.filter.narrows_by_date_or_user
        self._codes = _code_set(self.filter.clinical_codes)
        self._numerics = _code_set(self.filter.numerics)
        self._users = set(self.filter.done_by)

    def wants(self, flag: str) -> bool:
        return self.everything or flag in self.filter.flags

    def keeps_event(self, event: etree._Element) -> bool:
        user = event.get("UserName")
        if self._users and user and user not in self._users:
            return False
        entered = _day(event.get("DateTime"))
        low, high = self.filter.min_entry, self.filter.max_entry
        return entered is None or ((low is None or entered >= low)
                                   and (high is None or entered <= high))

    def keeps_item(self, item: etree._Element, event_day: dt.date | None) -> bool:
        return self._type_selected(item) and self._effective(item, event_day)

    def _type_selected(self, item: etree._Element) -> bool:
        flag = ITEM_FLAGS.get(item.tag)
        if self.everything or (flag is not None and flag in self.filter.flags):
            return True
        if item.tag != "ClinicalCode":
            return False
        code = item.find("Code")
        key = (code.get("Scheme", ""), code.get("Code", "")) if code is not None else None
        if key in self._codes:
            return True
        return key in self._numerics and item.find("Value") is not None

    def _effective(self, item: etree._Element, event_day: dt.date | None) -> bool:
        return self.effective_between(*_effective_period(item, event_day))

    def effective_between(self, start: dt.date | None, end: dt.date) -> bool:
        """Does an effective period overlap the filter's effective-date range?"""
        low, high = self.filter.min_effective, self.filter.max_effective
        if start is None:
            return True
        return (high is None or start <= high) and (low is None or end >= low)


def _clinical(clinical: etree._Element | None, selection: _Selection) -> etree._Element:
    if clinical is not None and selection.keeps_all:
        return deepcopy(clinical)
    out = etree.Element("Clinical")
    for event in clinical.iterchildren("Event") if clinical is not None else ():
        if not selection.keeps_event(event):
            continue
        day = _day(event.get("DateTime"))
        items = [child for child in event
                 if isinstance(child.tag, str) and child.tag != "LinkedProblemUID"
                 and selection.keeps_item(child, day)]
        if not items:
            continue
        kept = etree.SubElement(out, "Event", dict(event.attrib))
        kept.extend(deepcopy(item) for item in items)
        kept.extend(deepcopy(link) for link in event.iterchildren("LinkedProblemUID"))
    return out


def _non_clinical(non_clinical: etree._Element | None, selection: _Selection) -> etree._Element:
    out = etree.Element("NonClinical")
    for item in non_clinical if non_clinical is not None else ():
        if not isinstance(item.tag, str):
            continue
        flag = NON_CLINICAL_FLAGS.get(item.tag)
        if not (selection.everything or (flag and flag in selection.filter.flags)):
            continue
        when = _day(item.findtext("DateTime"))
        if selection.effective_between(when, when or _FOREVER):
            out.append(deepcopy(item))
    return out


def _effective_period(item: etree._Element, event_day: dt.date | None
                      ) -> tuple[dt.date | None, dt.date]:
    if item.tag in ("Medication", "RepeatMedication"):
        start = _day(item.findtext("StartDate")) or event_day
        return start, _day(item.findtext("EndDate")) or _FOREVER
    return event_day, _FOREVER


def _code_set(ctv3_codes: tuple[str, ...]) -> set[tuple[str, str]]:
    """Filters name CTV3 codes; records may hold either scheme, so match both."""
    keys = set()
    for code in ctv3_codes:
        keys.add(("CTV3", code))
        concept = concepts.BY_CTV3.get(code)
        if concept is not None:
            keys.add(("Snomed", concept.snomed))
    return keys


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10]) if text else None
    except ValueError:
        return None


# --- coding schemes -------------------------------------------------------------

def translate(body: etree._Element, scheme: OutputScheme) -> None:
    """Rewrite codes and drugs in place into the asked-for schemes, as SystmOne does.

    Records hold CTV3 codes and codes entered natively in SNOMED CT. Asked for
    SNOMED CT, CTV3 codes with a known pair are translated; asked for CTV3 (the
    default), SNOMED CT codes with a known pair are translated back. A code with
    no pair in the table stays as recorded, in its own scheme (SystmOne does the
    same), and so do codes in an unknown scheme.
    """
    wanted = scheme.effective_codes
    for code in body.iter("Code"):
        recorded = code.get("Scheme")
        if recorded == wanted:
            continue
        value = code.get("Code", "")
        if recorded == "CTV3" and wanted == "Snomed":
            concept = concepts.BY_CTV3.get(value)
            if concept is not None:
                code.set("Scheme", "Snomed")
                code.set("Code", concept.snomed)
                code.set("Term", concept.snomed_term)
        elif recorded == "Snomed" and wanted == "CTV3":
            concept = concepts.BY_SNOMED.get(value)
            if concept is not None and concept.ctv3 is not None:
                code.set("Scheme", "CTV3")
                code.set("Code", concept.ctv3)
                code.set("Term", concept.ctv3_term or "")
    if scheme.effective_drugs == "Dmd":
        for drug in body.iter("Drug"):
            known = concepts.DRUG_BY_MULTILEX.get(drug.get("ProductID", ""))
            if drug.get("Scheme") == "Multilex" and known is not None:
                drug.set("Scheme", "Dmd")
                drug.set("ProductID", known.dmd)
                drug.set("Name", known.name)
                drug.attrib.pop("PackID", None)
