"""Tasks, appointments, relationships and care plans, against hand-written expectations.

Expected values come from FHIR R4's value sets and UK Core's PersonRelationshipType
(tests/ukcore/expectations.py, written by hand from REF/valuesets), and from TPP's
specification: never from mappings/. Each table case includes a word no map knows (a
relationship type, a task or appointment status), to show what is served then.
"""

from __future__ import annotations

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT, map_resources
from tests.ukcore import expectations as ux
from tests.ukcore.rules import all_problems

PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"


def record(clinical: str = "", non_clinical: str = "") -> etree._Element:
    return etree.fromstring(
        "<Response><Clinical><Event DateTime=\"2025-03-03T10:00:00\" DoneBy=\"SMITH, Jo \" "
        f"EventUID=\"e000000000000001\">{clinical}</Event></Clinical>"
        f"<NonClinical>{non_clinical}</NonClinical></Response>")


def mapped(name: str, element: etree._Element) -> list[dict]:
    found = map_resources(name, element, patient=PATIENT, last_updated="2026-01-15T09:00:00Z",
                          __xpath__={"today": TODAY})
    assert not all_problems(found), all_problems(found)
    return found


def task(status: str) -> str:
    return (f"<Task><TaskUID>a000000000000001</TaskUID><DateTime>2026-01-12T15:33:41"
            f"</DateTime><TaskType>Call patient</TaskType><Status>{status}</Status>"
            "<Content>Call back.</Content></Task>")


def appointment(status: str, when: str = "2026-02-02T14:15:00", minutes: str = "10.0",
                uid: str = "b000000000000001") -> str:
    return (f"<Appointment><DateTime>{when}</DateTime><Duration>{minutes}</Duration>"
            "<Clinician>KHAN, Sara</Clinician><Site>Surgery</Site><ClinicType>Session"
            f"</ClinicType><AppointmentUID>{uid}</AppointmentUID><Status>{status}</Status>"
            "</Appointment>")


def relationship(kind: str, end: str = "9999-12-31") -> str:
    return (f"<Relationship><FirstName>Ann</FirstName><Surname>Lee</Surname>"
            f"<Telephone>0113 496 0000</Telephone><EndDate>{end}</EndDate>"
            f"<Type>{kind}</Type></Relationship>")


# --- Task ---------------------------------------------------------------------------------

# FHIR R4 task-status: "ready" — ready to be performed, no action yet taken (assignment a
# given); "in-progress"; "requested" — ready to be acted upon, action sought (the least a
# status SystmOne does not name can say of an open task: TPP extracts only open ones).
@pytest.mark.parametrize(("status", "expected"), [
    ("Not Started", "ready"), ("Started", "in-progress"), ("STARTED", "in-progress"),
    ("In progress", "in-progress"), ("On hold", "on-hold"), ("Completed", "completed"),
    ("Complete", "completed"), ("Cancelled", "cancelled"), ("Rejected", "rejected"),
    ("Awaiting reply", "requested"),
])
def test_task_status_and_systmones_word(status, expected):
    (made,) = mapped("task", record(non_clinical=task(status)))
    assert made["status"] == expected
    assert made["businessStatus"] == {"text": status}
    assert made["intent"] == "order"
    assert made["for"] == PATIENT and made["authoredOn"] == "2026-01-12T15:33:41+00:00"
    assert made["meta"]["profile"] == [ux.PROFILES["Task"]]


# --- Appointment -----------------------------------------------------------------------------

# FHIR R4 appointmentstatus: TPP names "booked, DNA or cancelled"; DNA is noshow. A word no
# map knows stays a booking (SystmOne lists pending ones only) and is said in the comment.
# arrived: "has arrived and is waiting to be seen"; checked-in: "the encounter may begin";
# fulfilled: "this appointment has completed and may have resulted in an encounter".
@pytest.mark.parametrize(("status", "expected", "comment"), [
    ("Booked", "booked", None), ("DNA", "noshow", None), ("Cancelled", "cancelled", None),
    ("Arrived", "arrived", None), ("Waiting", "arrived", None),
    ("In progress", "checked-in", None), ("Seen", "fulfilled", None),
    ("Finished", "fulfilled", None), ("Did not attend", "noshow", None),
    ("Cancelled by patient", "cancelled", None), ("Cancelled by unit", "cancelled", None),
    ("Cancelled by other service", "cancelled", None),
    ("Provisional hold", "booked", "Status in SystmOne: Provisional hold"),
])
def test_appointment_status(status, expected, comment):
    (made,) = mapped("appointment", record(non_clinical=appointment(status)))
    assert made["status"] == expected
    assert made.get("comment") == comment
    assert made["meta"]["profile"] == [ux.PROFILES["Appointment"]]


def test_appointment_times_participants_and_clock_change():
    # 29 March 2026: clocks go forward at 01:00 GMT. 00:50 GMT + 20 minutes is 02:10 BST.
    (made,) = mapped("appointment", record(non_clinical=appointment(
        "Booked", "2026-03-29T00:50:00", "20.0")))
    assert (made["start"], made["end"]) == ("2026-03-29T00:50:00+00:00",
                                           "2026-03-29T02:10:00+01:00")
    assert made["minutesDuration"] == 20
    patient, clinician, site = made["participant"]
    assert patient == {"actor": PATIENT, "status": "accepted"}
    assert clinician["actor"] == {"display": "KHAN, Sara"}
    assert clinician["type"][0]["coding"][0]["code"] == "ATND"  # v3 ParticipationType
    assert site["actor"] == {"display": "Surgery"}


def test_a_visit_is_a_home_visit_appointment():
    visit = ("<Visit><DateTime>2026-01-20T12:30:00</DateTime><Duration>30.0</Duration>"
             "<Clinician>LITTLER, Drew</Clinician><VisitUID>c000000000000001</VisitUID>"
             "<Status>Booked</Status><Comments>Housebound - chest review</Comments></Visit>")
    (made,) = mapped("appointment", record(non_clinical=visit))
    assert made["serviceType"] == [{"text": "Home visit"}]
    assert made["description"] == "Housebound - chest review"
    assert made["end"] == "2026-01-20T13:00:00+00:00"


def test_an_appointment_keeps_its_id_when_others_are_booked_before_it():
    """Keyed by its AppointmentUID, not its place in the list."""
    alone = mapped("appointment", record(non_clinical=appointment("Booked")))
    later = mapped("appointment", record(non_clinical=appointment(
        "Booked", uid="b000000000000009") + appointment("Booked")))
    assert alone[0]["id"] == later[1]["id"] != later[0]["id"]
    assert alone[0]["identifier"] == later[1]["identifier"]


# --- RelatedPerson ---------------------------------------------------------------------------

@pytest.mark.parametrize("word", sorted(ux.RELATIONSHIP_WORDS))
def test_relationship_types_from_uk_cores_value_set(word):
    (made,) = mapped("relatedperson", record(clinical=relationship(word)))
    system, code = ux.RELATIONSHIP_WORDS[word]
    display = ux.PERSON_RELATIONSHIP_TYPE[system][code]
    assert made["relationship"] == [{"coding": [{"system": system, "code": code,
                                                 "display": display}], "text": word}]
    assert made["meta"]["profile"] == [ux.PROFILES["RelatedPerson"]]


@pytest.mark.parametrize("word", ["Godfather", "Key holder"])
def test_a_relationship_no_map_knows_is_its_text(word):
    (made,) = mapped("relatedperson", record(clinical=relationship(word)))
    assert made["relationship"] == [{"text": word}]


def test_relationship_end_9999_is_no_end_and_a_past_end_is_inactive():
    lasting, ended = mapped("relatedperson", record(
        clinical=relationship("Mother") + relationship("Father", "2024-06-30")))
    assert lasting["active"] is True and lasting["period"] == {"start": "2025-03-03"}
    assert ended["active"] is False
    assert ended["period"] == {"start": "2025-03-03", "end": "2024-06-30"}
    assert lasting["patient"] == PATIENT
    assert lasting["name"] == [{"family": "Lee", "given": ["Ann"]}]
    assert lasting["telecom"] == [{"system": "phone", "value": "0113 496 0000"}]


# --- CarePlan ----------------------------------------------------------------------------

PLAN = ("<CarePlan><CarePlanName>Asthma action plan</CarePlanName><Category>Long term "
        "conditions</Category><Aim>No attacks</Aim><Instructions><Instruction>"
        "<InstructionText>Use preventer daily</InstructionText><Order>1</Order>"
        "<Responsibility>Patient</Responsibility></Instruction><Instruction>"
        "<InstructionText>Annual review</InstructionText><Order>2</Order>"
        "<Responsibility>Practice nurse</Responsibility></Instruction></Instructions>"
        "</CarePlan>")


def test_care_plan_and_patient_plan():
    patient_plan = ("<PatientPlan><Name>Weight management</Name><Items><Instruction>"
                    "<InstructionText>Weigh monthly</InstructionText></Instruction></Items>"
                    "</PatientPlan>")
    plan, weight = mapped("careplan", record(clinical=PLAN + patient_plan))
    assert (plan["status"], plan["intent"], plan["title"]) == ("active", "plan",
                                                               "Asthma action plan")
    assert plan["subject"] == PATIENT and plan["meta"]["profile"] == [ux.PROFILES["CarePlan"]]
    first, second = plan["activity"]
    assert first["detail"] == {"status": "unknown", "description": "Use preventer daily",
                               "performer": [PATIENT]}
    assert second["detail"]["performer"] == [{"display": "Practice nurse"}]
    assert {"text": "Aim: No attacks"} in plan["note"]
    assert weight["title"] == "Weight management"
    assert [a["detail"]["description"] for a in weight["activity"]] == ["Weigh monthly"]


def test_a_care_plan_past_its_end_is_completed():
    ended = PLAN.replace("</CarePlan>", "<EndDate>2025-12-31</EndDate></CarePlan>")
    (plan,) = mapped("careplan", record(clinical=ended))
    assert plan["status"] == "completed" and plan["period"]["end"] == "2025-12-31"


# --- What reaches FHIR, kind by kind ------------------------------------------------------

def test_fidelity_counts_non_clinical_items_served():
    activity = ("<Activity><Performed>Discussed care</Performed><With>Relative</With>"
                "<Method>Telephone</Method><Duration>15</Duration></Activity>")
    reminder = "<Reminder><FreeText>Housebound.</FreeText><Severity>Low</Severity></Reminder>"
    whole = record(clinical=relationship("Mother") + PLAN + activity + reminder,
                   non_clinical=appointment("Booked") + task("Started"))
    resources = DEFAULT.map_record(whole, patient=PATIENT, last_updated="2026-01-15T09:00:00Z")
    report = fidelity(whole, resources)
    for kind, resource_type in (("Appointment", "Appointment"), ("Task", "Task"),
                                ("Relationship", "RelatedPerson"), ("CarePlan", "CarePlan"),
                                ("Activity", "Encounter"), ("Reminder", "Flag")):
        assert report.types_of(kind) == {resource_type: 1}, kind
        assert report.unserved[kind] == 0
