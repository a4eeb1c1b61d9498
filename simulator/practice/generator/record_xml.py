"""The Clinical and NonClinical XML: one writer per kind of recording item.

Kept apart from the builders so that how a record is written can be read (and
checked against the schema) without the generation logic; the NonClinical part
also books the coming appointments.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Callable

from lxml import etree

from ..concepts import Drug, in_scheme
from .dates import SNOMED_ERA, SURGERY_CLOSES, SURGERY_OPENS
from .identifiers import APPOINTMENT_UID, EVENT_UID, TASK_UID, VISIT_UID, _uid
from .items import (
    ActivityItem,
    AttachmentItem,
    CarePlanItem,
    CodeItem,
    EventSpec,
    LetterItem,
    MedicationItem,
    NarrativeItem,
    PatientPlanItem,
    Pending,
    RecallItem,
    ReferralItem,
    RelationshipItem,
    ReminderItem,
    RepeatItem,
    ReportItem,
    SensitivityItem,
    Staff,
    VaccinationItem,
)
from .person import Person, _child

#: [design] The percentage of events entered since SNOMED_ERA whose codes are SNOMED CT.
SNOMED_SHARE = 45


def entered_in_snomed(person: Person, event: EventSpec) -> bool:
    """Is the event's coded data held in SNOMED CT? Fixed per event, drawing no random numbers."""
    if event.when.date() < SNOMED_ERA:
        return False
    return zlib.crc32(f"{person.sri}:{event.order}".encode()) % 100 < SNOMED_SHARE


def clinical_element(events: list[EventSpec], person: Person) -> etree._Element:
    clinical = etree.Element("Clinical")
    for number, event in enumerate(events, start=1):
        element = etree.SubElement(clinical, "Event", {
            "DateTime": event.when.isoformat(timespec="seconds"),
            "UserName": event.user.user_name,
            "DoneBy": event.user.done_by,
            "DoneAt": event.done_at,
        })
        if event.linked_referral is not None:
            element.set("LinkedReferralUID", event.linked_referral)
        element.set("EventUID", _uid(person.sri, number, EVENT_UID))
        snomed = entered_in_snomed(person, event)
        for item in event.items:
            if isinstance(item, CodeItem):
                _write_code(element, item, snomed)
            elif isinstance(item, NarrativeItem):
                _write_narrative(element, item, snomed)
            else:
                _ITEM_WRITERS[type(item)](element, item)
        for problem_uid in event.linked_problems:
            _child(element, "LinkedProblemUID", problem_uid)
    return clinical


def _write_code(event: etree._Element, item: CodeItem, snomed: bool = False) -> None:
    code = etree.SubElement(event, "ClinicalCode")
    scheme, value, term, units = in_scheme(item.concept, snomed)
    etree.SubElement(code, "Code", {"Scheme": scheme, "Code": value, "Term": term})
    episodicity = item.episodicity or ("New" if item.problem_uid is not None else None)
    if episodicity is not None:
        _child(code, "Episodicity", episodicity)
    if item.value is not None:
        _child(code, "Value", item.value)
        if units:
            _child(code, "Units", units)
    if item.comparator is not None:
        _child(code, "Comparator", item.comparator)
    if item.problem_uid is not None:
        _child(code, "ProblemUID", item.problem_uid)
        _child(code, "ProblemSeverity", item.severity)
        if item.end_date is not None:
            _child(code, "ProblemEndDate", item.end_date.isoformat())
    if item.free_text:
        _child(code, "FreeText", item.free_text)
    if item.linked_problem is not None:
        _child(code, "LinkedProblemUID", item.linked_problem)


def _write_drug(parent: etree._Element, drug: Drug) -> None:
    etree.SubElement(parent, "Drug", {"Scheme": "Multilex", "ProductID": drug.multilex,
                                      "Name": drug.name})


def _write_medication(event: etree._Element, item: MedicationItem) -> None:
    medication = etree.SubElement(event, "Medication")
    _child(medication, "MedicationType", "NHS medication")
    _write_drug(medication, item.drug)
    _child(medication, "Dose", item.dose)
    _child(medication, "Quantity", item.quantity)
    _child(medication, "StartDate", item.start.isoformat())
    _child(medication, "EndDate", item.end.isoformat())
    _child(medication, "EndReason")
    if item.linked_problem is not None:
        _child(medication, "LinkedProblemUID", item.linked_problem)


def _write_repeat(event: etree._Element, item: RepeatItem) -> None:
    repeat = etree.SubElement(event, "RepeatMedication")
    _write_drug(repeat, item.drug)
    _child(repeat, "Dose", item.dose)
    _child(repeat, "Quantity", item.quantity)
    _child(repeat, "StartDate", item.start.isoformat())
    _child(repeat, "ReviewDate", item.review.isoformat())
    _child(repeat, "MaxIssues", str(item.max_issues))
    _child(repeat, "IssueDurationDays", str(item.issue_days))


def _write_narrative(event: etree._Element, item: NarrativeItem, snomed: bool = False) -> None:
    """Lines as typed; coded lines name the code as entered, e.g. "D: Hypertension (XE0Ub)"."""
    narrative = etree.SubElement(event, "Narrative")
    for concept in item.coded:
        _, value, term, _ = in_scheme(concept, snomed)
        _child(narrative, "Line", f"D: {term} ({value})")
    for line in item.lines:
        _child(narrative, "Line", line)


def _texts(parent: etree._Element, pairs) -> None:
    for tag, text in pairs:
        _child(parent, tag, text)


def _write_name(parent: etree._Element, tag: str, name: tuple[str, str, str]) -> None:
    _texts(_child(parent, tag), zip(("Title", "FirstName", "Surname"), name, strict=True))


def _write_sensitivity(event: etree._Element, item: SensitivityItem) -> None:
    sensitivity = etree.SubElement(event, "DrugSensitivity")
    _child(sensitivity, "Type", "Drug" if item.drug else "Ingredient")
    if item.drug is not None:
        _write_drug(sensitivity, item.drug)
    for ingredient in item.ingredients:  # for a drug: its ingredients, Details its name
        etree.SubElement(sensitivity, "Ingredient", {
            "Scheme": "Multilex", "IngredientID": ingredient.multilex, "Name": ingredient.name,
            "Details": item.drug.name if item.drug else ingredient.details})
    _child(sensitivity, "FreeText", item.reaction)
    if item.end is not None:
        _child(sensitivity, "EndDate", item.end.isoformat())
    elif item.ended_unknown:
        _child(sensitivity, "EndedWithUnknownDate")


def _write_vaccination(event: etree._Element, item: VaccinationItem) -> None:
    _texts(etree.SubElement(event, "Vaccination"), (
        ("Name", item.name), ("Contents", item.contents), ("BatchNumber", item.batch),
        ("Notes", item.notes), ("PartType", item.part), ("Dosage", item.dosage)))


def _write_report(event: etree._Element, item: ReportItem) -> None:
    report = etree.SubElement(event, "Report")
    _texts(report, (("BatteryHeaders", item.batteries), ("IssueDate", item.issued.isoformat()),
                    ("Result", item.result)))
    if item.actions:
        actions = _child(report, "FollowUpActions")
        for action in item.actions:
            _child(_child(actions, "FollowUpAction"), "Action", action)
    _texts(report, (("Comments", item.comments), ("CollectionDate", item.collected.isoformat()),
                    ("Type", item.kind)))


def _write_letter(event: etree._Element, item: LetterItem) -> None:
    letter = etree.SubElement(event, "Letter")
    _write_name(letter, "RecipientName", item.recipient)
    _child(letter, "RecipientOrganisation", item.recipient_organisation)
    _write_name(letter, "SenderName", item.sender)
    _child(letter, "SenderOrganisation", item.sender_organisation)
    _texts(_child(letter, "SenderAddress"), item.sender_address)
    _texts(letter, (("DocumentUID", item.document_uid), ("Type", item.kind),
                    ("Direction", item.direction),
                    ("DateSentReceived", item.sent.isoformat(timespec="seconds"))))


def _write_attachment(event: etree._Element, item: AttachmentItem) -> None:
    _texts(etree.SubElement(event, "Attachment"), (
        ("FileName", item.file_name), ("FileSize", f"{item.size} bytes"),
        ("DocumentUID", item.document_uid), ("Comments", item.comments)))


def _write_recall(event: etree._Element, item: RecallItem) -> None:
    _texts(etree.SubElement(event, "Recall"), (
        ("RecallDate", item.due.isoformat()), ("Type", item.kind), ("Comments", item.comments),
        ("Status", item.status)))


def _write_reminder(event: etree._Element, item: ReminderItem) -> None:
    _texts(etree.SubElement(event, "Reminder"),
           (("FreeText", item.text), ("Severity", item.severity)))


def _write_referral(event: etree._Element, item: ReferralItem) -> None:
    referral = etree.SubElement(event, "Referral")
    _texts(referral, (("ReferralUID", item.uid), ("Direction", item.direction),
                      ("Service", item.service), ("ReferredTo", item.organisation),
                      ("Reason", item.reason), ("Urgency", item.urgency),
                      ("Status", item.status)))
    if item.end is not None:
        _child(referral, "EndDate", item.end.isoformat())


def _write_relationship(event: etree._Element, item: RelationshipItem) -> None:
    relationship = etree.SubElement(event, "Relationship")
    _texts(relationship, (("Title", item.title), ("FirstName", item.first_name),
                          ("Surname", item.surname)))
    _texts(_child(relationship, "Address"), item.address)
    _texts(relationship, (("Telephone", item.telephone), ("WorkContact", ""),
                          ("EndDate", "9999-12-31"),  # TPP's "not ended", as in its template
                          ("DateOfBirth", item.date_of_birth.isoformat()), ("Type", item.kind)))


def _write_instructions(parent: etree._Element, tag: str, instructions) -> None:
    holder = _child(parent, tag)
    for order, (text, responsibility) in enumerate(instructions, start=1):
        instruction = _child(holder, "Instruction")
        _texts(instruction, (("InstructionText", text), ("Order", str(order))))
        if responsibility:
            _child(instruction, "Responsibility", responsibility)


def _write_care_plan(event: etree._Element, item: CarePlanItem) -> None:
    plan = etree.SubElement(event, "CarePlan")
    _texts(plan, (("CarePlanName", item.name), ("Description", item.description),
                  ("Category", item.category), ("SubCategory", item.subcategory),
                  ("Aim", item.aim), ("ReviewDate", item.review.isoformat())))
    _write_instructions(plan, "Instructions", item.instructions)


def _write_patient_plan(event: etree._Element, item: PatientPlanItem) -> None:
    plan = etree.SubElement(event, "PatientPlan")
    _child(plan, "Name", item.name)
    _write_instructions(plan, "Items", ((text, "") for text in item.instructions))


def _write_activity(event: etree._Element, item: ActivityItem) -> None:
    _texts(etree.SubElement(event, "Activity"), (
        ("Performed", item.performed), ("With", item.with_whom), ("Method", item.method),
        ("Duration", str(item.minutes))))


_ITEM_WRITERS: dict[type, Callable[[etree._Element, object], None]] = {
    CodeItem: _write_code, MedicationItem: _write_medication, RepeatItem: _write_repeat,
    NarrativeItem: _write_narrative, SensitivityItem: _write_sensitivity,
    VaccinationItem: _write_vaccination, ReportItem: _write_report, LetterItem: _write_letter,
    AttachmentItem: _write_attachment, RecallItem: _write_recall, ReminderItem: _write_reminder,
    ReferralItem: _write_referral, RelationshipItem: _write_relationship,
    CarePlanItem: _write_care_plan, PatientPlanItem: _write_patient_plan,
    ActivityItem: _write_activity,
}


def non_clinical_element(person: Person, rng: random.Random, staff: Staff,
                         as_of: dt.date, pending: Pending | None = None) -> etree._Element:
    """Appointments booked in the coming six weeks, then pending visits and open tasks."""
    non_clinical = etree.Element("NonClinical")
    booked = rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]
    days = sorted(rng.sample(range(1, 43), booked))
    for number, offset in enumerate(days, start=1):
        day = as_of + dt.timedelta(days=offset)
        day += dt.timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)
        with_gp = rng.random() < 0.65
        user = person.usual_gp if with_gp and rng.random() < 0.7 else rng.choice(
            staff.gps if with_gp else staff.nurses)
        slot = rng.randrange(SURGERY_OPENS + 30, SURGERY_CLOSES - 40, 10)
        when = dt.datetime.combine(day, dt.time(slot // 60, slot % 60))
        appointment = etree.SubElement(non_clinical, "Appointment")
        for tag, text in (("DateTime", when.isoformat(timespec="seconds")),
                          ("Duration", "10.0" if with_gp else "15.0"),
                          ("Clinician", f"{user.surname.upper()}, {user.first_name}"),
                          ("UserName", user.user_name),
                          ("Site", staff.sites[0].name),
                          ("ClinicType", "Session" if with_gp else "Nurse Clinic"),
                          ("AppointmentUID", _uid(person.sri, number, APPOINTMENT_UID)),
                          ("Status", "Booked")):
            _child(appointment, tag, text)
    pending = pending or Pending()
    for number, visit in enumerate(pending.visits, start=1):
        user = visit.user
        _texts(etree.SubElement(non_clinical, "Visit"), (
            ("DateTime", visit.when.isoformat(timespec="seconds")),
            ("Duration", f"{visit.minutes}.0"),
            ("Clinician", f"{user.surname.upper()}, {user.first_name}"),
            ("UserName", user.user_name), ("VisitUID", _uid(person.sri, number, VISIT_UID)),
            ("Status", "Booked"), ("Comments", visit.comments)))
    for number, task in enumerate(pending.tasks, start=1):
        _texts(etree.SubElement(non_clinical, "Task"), (
            ("TaskUID", _uid(person.sri, number, TASK_UID)),
            ("DateTime", task.when.isoformat(timespec="seconds")), ("TaskType", task.kind),
            ("Status", task.status), ("Content", task.content)))
    return non_clinical
