"""Consultations and their free text: Encounters from SystmOne Events, Narrative as comment
notes, and every resource made from an Event pointing at its Encounter.

Expected values are written here by hand from TPP's spec (the Event's attributes), GP Connect
(consultation status, the "Comment note" code) and FHIR R4 / HL7 v3 (Encounter.class,
data-absent-reason), through tests/ukcore/expectations.py; nothing is read from mappings/.
The demo-practice records also have golden Encounters (tests/golden/Encounter/demo-practice/),
written and checked as the samples' golden files are (UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT
from tests.mappings.test_golden import GOLDEN, rendered
from tests.ukcore import expectations as ux

PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"
DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"
EVENT_UID = "e0c0000000000001"


def mapped(record: etree._Element, resource_type: str) -> list[dict]:
    return DEFAULT.map_resources(resource_type.lower(), record, patient=PATIENT,
                                 __xpath__={"today": TODAY})


def record(items: str, attributes: str = 'DoneAt="Tarnfield Medical Practice"') -> etree._Element:
    return etree.fromstring(
        f'<Response><Clinical><Event DateTime="2025-03-03T10:15:00" DoneBy="SMITH, Jo  (GP) " '
        f'EventUID="{EVENT_UID}" UserName="jsmith" {attributes}>{items}</Event></Clinical>'
        f'</Response>')


def coded(code: str, term: str, scheme: str = "Snomed") -> str:
    return f'<ClinicalCode><Code Scheme="{scheme}" Code="{code}" Term="{term}"/></ClinicalCode>'


NARRATIVE = ("<Narrative><Line> D: Hypertensive disease (XE0Ub)</Line>"
             "<Line>BP 150/95 &amp; rising: amlodipine started.</Line></Narrative>")


# --- Encounter ---------------------------------------------------------------------------------

def test_an_event_is_a_finished_encounter_of_the_patient_when_and_where_it_says():
    [encounter] = mapped(record(NARRATIVE), "Encounter")
    assert encounter["resourceType"] == "Encounter"
    assert encounter["meta"]["profile"] == [ux.PROFILES["Encounter"]]
    assert encounter["status"] == ux.CONSULTATION_STATUS == "finished"
    assert encounter["subject"] == PATIENT
    # TPP: DateTime is "the date and time of the event", local time (GMT in March).
    assert encounter["period"] == {"start": "2025-03-03T10:15:00+00:00"}
    # TPP: EventUID is "a UID for the event"; DoneAt "where it was performed" (free text).
    assert [i["value"] for i in encounter["identifier"]] == [EVENT_UID]
    assert encounter["location"] == [{"location": {"display": "Tarnfield Medical Practice"}}]
    # DoneBy "a textual description of who recorded it", spaces tidied.
    assert encounter["participant"] == [{"individual": {"display": "SMITH, Jo (GP)"}}]
    assert "serviceProvider" not in encounter and "type" not in encounter


@pytest.mark.parametrize(("code", "act_code"), [(ux.TELEPHONE_ENCOUNTER, "VR"),
                                                (ux.HOME_VISIT, "HH")])
def test_a_contact_code_recorded_in_the_event_gives_its_class(code, act_code):
    [encounter] = mapped(record(coded("271649006", "Systolic blood pressure") +
                                coded(code, "contact")), "Encounter")
    assert encounter["class"] == {"system": ux.V3_ACT_CODE, "code": act_code,
                                  "display": ux.ACT_ENCOUNTER_CODES[act_code]}


def test_an_event_that_says_nothing_of_the_contact_has_its_class_marked_unknown():
    """R4 requires class; TPP's Event has no type or setting, so the record does not say."""
    for items in (NARRATIVE, coded("XE0Ub", "Hypertensive disease", "CTV3"),
                  coded(ux.TELEPHONE_ENCOUNTER, "a CTV3 code of that number", "CTV3")):
        [encounter] = mapped(record(items), "Encounter")
        assert encounter["class"] == {"extension": [{"url": ux.DATA_ABSENT_REASON,
                                                     "valueCode": "unknown"}]}


def test_an_event_without_doneat_has_no_location():
    [encounter] = mapped(record(NARRATIVE, attributes='Software="Example Integration"'),
                         "Encounter")
    assert "location" not in encounter


# --- Narrative ---------------------------------------------------------------------------------

def comment_notes(resources: list[dict]) -> list[dict]:
    system, code, _ = ux.COMMENT_NOTE
    return [r for r in resources if any(c.get("system") == system and c.get("code") == code
                                        for c in r.get("code", {}).get("coding", []))]


def test_narrative_is_a_comment_note_with_every_line_as_typed():
    observations = mapped(record(NARRATIVE + coded("XE0Ub", "Hypertensive disease", "CTV3")),
                          "Observation")
    [note] = comment_notes(observations)
    system, code, display = ux.COMMENT_NOTE
    assert note["code"]["coding"] == [{"system": system, "code": code, "display": display}]
    assert note["valueString"] == ("D: Hypertensive disease (XE0Ub)\n"
                                   "BP 150/95 & rising: amlodipine started.")
    assert note["status"] == "final"
    assert note["subject"] == PATIENT
    assert note["effectiveDateTime"] == "2025-03-03T10:15:00+00:00"
    [encounter] = mapped(record(NARRATIVE), "Encounter")
    assert note["encounter"] == {"reference": f"Encounter/{encounter['id']}"}
    # The inline code is recorded as a ClinicalCode too: that is its own Observation.
    assert len(observations) == 2


def test_every_narrative_item_is_served_and_counted():
    items = NARRATIVE + "<Narrative><Line>Second block.</Line></Narrative>"
    source = record(items)
    resources = [r for t in ("Observation", "Encounter") for r in mapped(source, t)]
    assert [n["valueString"] for n in comment_notes(resources)][1] == "Second block."
    report = fidelity(source, resources)
    assert report.items["Narrative"] == 2 and report.unserved["Narrative"] == 0
    assert report.types_of("Narrative") == {"Observation": 2}


# --- Every resource made from an Event references its Encounter --------------------------------

EVERY_KIND = (
    coded("XE0Ub", "Hypertensive disease", "CTV3")
    + '<ClinicalCode><Code Scheme="CTV3" Code="XE0Ub" Term="Hypertensive disease"/>'
      "<ProblemUID>p000000000000001</ProblemUID></ClinicalCode>"
    + '<ClinicalCode><Code Scheme="CTV3" Code="22A.." Term="O/E - weight"/><Value>70</Value>'
      "<Units>kg</Units></ClinicalCode>"
    + '<DrugSensitivity><Drug Scheme="Multilex" ProductID="1" Name="Penicillin"/></DrugSensitivity>'
    + "<Vaccination><Name>Influenza</Name></Vaccination>"
    + '<RepeatMedication><Drug Scheme="Multilex" ProductID="2" Name="Amlodipine 5mg tablets"/>'
      "<StartDate>2025-03-03</StartDate></RepeatMedication>"
    + '<Medication><Drug Scheme="Multilex" ProductID="3" Name="Amoxicillin 500mg capsules"/>'
      "<StartDate>2025-03-03</StartDate></Medication>"
    + "<Reminder><FreeText>Housebound.</FreeText><Severity>Low</Severity></Reminder>"
    + NARRATIVE)


# --- Activities: contacts within an Event ---------------------------------------------------

# TPP's UpdatePatientRecord schema: Activity = Performed, With, Method, Duration (minutes).
def activity(method: str = "Telephone", minutes: str = "15", with_whom: str = "Relative",
             performed: str = "Liaison") -> str:
    return (f"<Activity><Performed>{performed}</Performed><With>{with_whom}</With>"
            f"<Method>{method}</Method><Duration>{minutes}</Duration></Activity>")


def test_an_activity_is_an_encounter_within_its_event_lasting_its_minutes():
    event, contact = mapped(record(NARRATIVE + activity()), "Encounter")
    assert contact["partOf"] == {"reference": f"Encounter/{event['id']}"}
    assert contact["id"] != event["id"]
    assert contact["status"] == ux.CONSULTATION_STATUS
    assert contact["type"] == [{"text": "Liaison"}]
    assert contact["length"] == {"value": 15, "unit": "min", **ux.MINUTES}
    assert contact["period"] == event["period"]
    assert contact["subject"] == PATIENT
    # Who recorded it, and whom it was with (a role in the record's words, no person).
    assert contact["participant"] == [{"individual": {"display": "SMITH, Jo (GP)"}},
                                      {"type": [{"text": "Relative"}]}]
    # Named by its item, not by the Event's identifier (which names the Event's Encounter).
    assert [i["system"] for i in contact["identifier"]] == ["urn:systmone:id:event-item"]


# v3 VR: "the patient and the practitioner(s) are not in the same physical location".
@pytest.mark.parametrize("method", ["Telephone", "Text", "Email", "E-mail", "Letter", "Fax"])
def test_an_activity_by_a_remote_method_is_virtual(method):
    _, contact = mapped(record(activity(method=method)), "Encounter")
    assert contact["class"] == {"system": ux.V3_ACT_CODE, "code": "VR",
                                "display": ux.ACT_ENCOUNTER_CODES["VR"]}


@pytest.mark.parametrize("method", ["Face to face", "DNA", "Carrier pigeon", ""])
def test_an_activity_whose_method_names_no_setting_has_its_class_unknown(method):
    _, contact = mapped(record(activity(method=method)), "Encounter")
    assert contact["class"] == {"extension": [{"url": ux.DATA_ABSENT_REASON,
                                               "valueCode": "unknown"}]}


def test_an_activity_the_patient_did_not_attend_is_cancelled():
    _, contact = mapped(record(activity(method="DNA", minutes="0")), "Encounter")
    assert contact["status"] == "cancelled"  # FHIR: "ended before it has begun"
    assert contact["length"]["value"] == 0


def test_an_activity_names_the_problems_it_is_linked_to_that_the_record_holds():
    header = ('<ClinicalCode><Code Scheme="CTV3" Code="XE0Ub" Term="Hypertensive disease"/>'
              "<ProblemUID>p000000000000001</ProblemUID></ClinicalCode>")
    linked = activity().replace("</Activity>", "<LinkedProblemUID>p000000000000001"
                                "</LinkedProblemUID><LinkedProblemUID>p-not-held"
                                "</LinkedProblemUID></Activity>")
    _, contact = mapped(record(header + linked), "Encounter")
    [condition] = mapped(record(header + linked), "Condition")
    assert contact["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]


def test_an_activity_without_a_readable_duration_has_no_length():
    _, contact = mapped(record(activity(minutes="ten")), "Encounter")
    assert "length" not in contact


def test_activities_are_counted_as_served_by_their_encounters():
    source = record(activity() + activity(method="Face to face"))
    report = fidelity(source, mapped(source, "Encounter"))
    assert report.items["Activity"] == 2 and report.unserved["Activity"] == 0
    assert report.types_of("Activity") == {"Encounter": 2}


#: Types whose items the hand-made record above does not hold (their own samples do).
ITEMS_ELSEWHERE = frozenset({"DiagnosticReport", "ServiceRequest", "CarePlan",
                             "DocumentReference"})


@pytest.mark.parametrize("resource_type", sorted(set(ux.ENCOUNTER_ELEMENT) - ITEMS_ELSEWHERE))
def test_every_resource_made_from_an_event_references_its_encounter(resource_type):
    source = record(EVERY_KIND)
    [encounter] = mapped(source, "Encounter")
    made = mapped(source, resource_type)
    assert made, f"no {resource_type} from the record"
    for resource in made:
        assert encounter_of(resource) == [f"Encounter/{encounter['id']}"], resource["id"]


SAMPLES = sorted(Path(__file__).resolve().parent.joinpath("samples").glob("*.xml"))


def encounter_of(resource: dict) -> list[str]:
    """The references at the type's encounter element (a dotted path, through lists)."""
    found: list = [resource]
    for step in ux.ENCOUNTER_ELEMENT[resource["resourceType"]].split("."):
        found = [v for item in found for v in (item.get(step) if isinstance(
            item.get(step), list) else [item.get(step)]) if v is not None]
    return [ref["reference"] for ref in found]


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_in_every_sample_each_resource_names_the_encounter_of_its_first_item(path: Path):
    """The Event of the first item a resource names (its first event-item identifier,
    EventUID-name-position) is the Encounter it references."""
    source = etree.parse(str(path)).getroot()
    encounters = {e["identifier"][0]["value"]: f"Encounter/{e['id']}"
                  for e in mapped(source, "Encounter")}
    checked = 0
    for resource_type in sorted(ux.ENCOUNTER_ELEMENT):
        for resource in mapped(source, resource_type):
            items = [i["value"] for i in resource.get("identifier", [])
                     if i.get("system") == "urn:systmone:id:event-item"]
            event_uid = items[0].split("-")[0]
            assert encounter_of(resource) == [encounters[event_uid]], \
                f"{resource_type}/{resource['id']} of {path.name}"
            checked += 1
    assert checked or source.find("Clinical/Event") is None


def test_a_problem_references_the_consultation_it_was_first_recorded_in():
    header = ('<ClinicalCode><Code Scheme="CTV3" Code="XE0Ub" Term="Hypertensive disease"/>'
              "<ProblemUID>p000000000000001</ProblemUID></ClinicalCode>")
    source = etree.fromstring(
        '<Response><Clinical>'
        f'<Event DateTime="2024-01-01T09:00:00" DoneBy="A" EventUID="e1">{header}</Event>'
        f'<Event DateTime="2025-01-01T09:00:00" DoneBy="B" EventUID="e2">{header}</Event>'
        '</Clinical></Response>')
    first, _ = mapped(source, "Encounter")
    [condition] = mapped(source, "Condition")
    assert first["period"]["start"].startswith("2024-01-01")
    assert condition["encounter"] == {"reference": f"Encounter/{first['id']}"}


# --- Demo-practice goldens ---------------------------------------------------------------------

DEMO_RECORDS = sorted(DEMO.glob("*.xml"))


@pytest.mark.parametrize("path", DEMO_RECORDS, ids=[p.stem for p in DEMO_RECORDS])
def test_golden_encounters_of_the_demo_practice(path: Path):
    response = etree.parse(str(path)).getroot().find("Response")
    text = rendered(mapped(response, "Encounter"))
    golden = GOLDEN / "Encounter" / "demo-practice" / f"{path.stem}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        pytest.fail(f"{golden} rewritten: review the diff, then run without UPDATE_GOLDEN")
    assert text == golden.read_text(), f"Encounters of {path.name} differ from {golden}"
