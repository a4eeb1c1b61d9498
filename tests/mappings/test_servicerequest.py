"""ServiceRequest from SystmOne's Referral and Recall items.

Expected values are written here by hand from FHIR R4 (request-status, request-intent,
request-priority), GP Connect's referral and diary-entry guidance, the NHS Data Dictionary's
PRIORITY TYPE (Two Week Wait: an urgent referral for suspected cancer) and SNOMED CT
(3457005 |Patient referral|), never read from mappings/. The records hold values no table
knows (a service, an urgency and statuses SystmOne might write that the mapping has never
seen): those are kept in the record's words, never guessed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT
from simulator.practice.generator import GeneratedPractice
from tests.ukcore import expectations as ux
from tests.ukcore.rules import all_problems

PATIENT = {"reference": "Patient/p1"}
TODAY = "2026-01-15"
EVENT = ('<Event DateTime="{when}" DoneAt="Surgery" DoneBy="HARRISON, James (General Medical '
         'Practitioner) " EventUID="{uid}" UserName="jharrison">{items}</Event>')


def record(*events: str) -> etree._Element:
    return etree.fromstring(f"<Response><Identity><NHSNumber>9990000093</NHSNumber></Identity>"
                            f"<Clinical>{''.join(events)}</Clinical></Response>")


def event(uid: str, items: str, when: str = "2025-02-03T10:00:00") -> str:
    return EVENT.format(uid=uid, items=items, when=when)


def referral(uid: str = "7c01", direction: str = "Outgoing", service: str = "Cardiology",
             urgency: str = "Routine", status: str = "Awaiting appointment",
             extra: str = "") -> str:
    return (f"<Referral><ReferralUID>{uid}</ReferralUID><Direction>{direction}</Direction>"
            f"<Service>{service}</Service><ReferredTo>Aire Valley Hospital</ReferredTo>"
            f"<Reason>Palpitations, ?AF.</Reason><Urgency>{urgency}</Urgency>"
            f"<Status>{status}</Status>{extra}</Referral>")


def recall(due: str, kind: str, status: str, comments: str = "") -> str:
    return (f"<Recall><RecallDate>{due}</RecallDate><Type>{kind}</Type>"
            f"<Comments>{comments}</Comments><Status>{status}</Status></Recall>")


def requests(root: etree._Element) -> list[dict]:
    found = DEFAULT.map_resources("servicerequest", root, patient=PATIENT,
                                  __xpath__={"today": TODAY})
    problems = all_problems(found)
    assert not problems, problems
    return found


def notes(resource: dict) -> list[str]:
    return [note["text"] for note in resource.get("note", [])]


# --- Referrals ---------------------------------------------------------------------------


def test_an_outgoing_referral_is_an_order_for_the_service_from_the_clinician():
    [made] = requests(record(event("e1", referral(status="Closed")
                                   + "<Letter><DocumentUID>d1</DocumentUID></Letter>")))
    assert made["meta"]["profile"] == [ux.PROFILES["ServiceRequest"]]
    assert made["intent"] == "order"
    assert made["status"] == "completed"  # SystmOne closed the referral
    assert made["priority"] == "routine"
    assert made["category"] == [{"coding": [{"system": "http://snomed.info/sct",
                                             "code": "3457005", "display": "Patient referral"}]}]
    assert made["code"] == {"text": "Cardiology"}
    assert made["reasonCode"] == [{"text": "Palpitations, ?AF."}]
    assert made["performer"] == [{"display": "Aire Valley Hospital"}]
    assert made["requester"]["display"] == "HARRISON, James (General Medical Practitioner)"
    assert made["authoredOn"] == "2025-02-03T10:00:00+00:00"
    assert made["subject"] == PATIENT
    assert {"system": "urn:systmone:id:referral", "value": "7c01"} in made["identifier"]
    assert {"system": "urn:systmone:id:event-item", "value": "e1-Referral-0"} \
        in made["identifier"]


def test_an_open_referral_is_active():
    [made] = requests(record(event("e1", referral(status="Awaiting appointment"))))
    assert made["status"] == "active"
    assert not [n for n in notes(made) if n.startswith("Status")]


def test_a_two_week_wait_referral_is_urgent_and_says_so():
    [made] = requests(record(event("e1", referral(urgency="Two week wait"))))
    assert made["priority"] == "urgent"
    assert "Urgency: Two week wait" in notes(made)


def test_an_urgent_referral_needs_no_note_for_its_urgency():
    [made] = requests(record(event("e1", referral(urgency="Urgent"))))
    assert made["priority"] == "urgent"
    assert not [n for n in notes(made) if n.startswith("Urgency")]


def test_values_the_mapping_does_not_know_are_kept_in_the_records_words():
    [made] = requests(record(event("e1", referral(
        service="Community vascular access nurse clinic", urgency="Within 6 weeks",
        status="Returned to referrer for advice"))))
    assert made["code"] == {"text": "Community vascular access nurse clinic"}
    assert "priority" not in made  # never guessed
    assert made["status"] == "unknown"  # GP Connect's default for a referral
    assert "Urgency: Within 6 weeks" in notes(made)
    assert "Status in SystmOne: Returned to referrer for advice" in notes(made)


def test_an_incoming_referral_has_no_requester_at_the_practice():
    [made] = requests(record(event("e1", referral(direction="Incoming"))))
    assert made["intent"] == "order"
    assert "requester" not in made
    assert any("Incoming" in n for n in notes(made))


def test_a_referral_recorded_again_is_one_request_naming_each_recording():
    root = record(event("e1", referral(uid="7c09", status="Awaiting appointment"),
                        when="2024-11-04T09:05:00"),
                  event("e2", referral(uid="7c09", status="Closed",
                                       extra="<EndDate>2024-12-01</EndDate>"),
                        when="2024-12-02T15:00:00"))
    [made] = requests(root)
    values = {i["value"] for i in made["identifier"]}
    assert {"e1-Referral-0", "e2-Referral-0", "7c09"} <= values
    assert made["status"] == "completed"  # the latest recording
    assert made["authoredOn"] == "2024-11-04T09:05:00+00:00"  # when it was first made
    # Made in the first consultation (an Encounter is keyed by its Event's EventUID).
    assert made["encounter"] == {"reference": "Encounter/e1"}
    assert "Referral end date: 2024-12-01" in notes(made)
    served = fidelity(root, [made])
    assert served.items["Referral"] == 2 and served.unserved["Referral"] == 0


def test_a_coded_referral_keeps_its_code_and_the_service_as_text():
    coded = referral(extra='<Code Scheme="Snomed" Code="306206005" Term="Referral to service"/>')
    [made] = requests(record(event("e1", coded)))
    assert made["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "306206005",
                                       "display": "Referral to service"}]
    assert made["code"]["text"] == "Cardiology"


# --- Linked problems ---------------------------------------------------------------------

PROBLEM = ('<ClinicalCode><Code Code="49436004" Scheme="Snomed" Term="Atrial fibrillation"/>'
           '<ProblemUID>af01</ProblemUID><ProblemSeverity>Major</ProblemSeverity></ClinicalCode>')


def test_the_problem_a_referral_is_linked_to_is_its_reason_when_the_record_holds_it():
    root = record(event("e0", PROBLEM, when="2025-01-10T09:00:00"),
                  event("e1", referral() + "<LinkedProblemUID>af01</LinkedProblemUID>"
                        "<LinkedProblemUID>b0b0</LinkedProblemUID>"))
    [made] = requests(root)
    conditions = DEFAULT.map_resources("condition", root, patient=PATIENT,
                                       __xpath__={"today": TODAY})
    # af01 is a problem in the record; b0b0 is not (no Condition could be referenced).
    assert made["reasonReference"] == [{"reference": f"Condition/{conditions[0]['id']}"}]
    assert not all_problems([*conditions, made])


def test_a_recall_of_a_reviewed_problem_names_it():
    root = record(event("e0", PROBLEM, when="2025-01-10T09:00:00"),
                  event("e1", recall("2026-01-10", "AF annual review", "Pending")
                        + "<LinkedProblemUID>af01</LinkedProblemUID>"))
    [made] = requests(root)
    assert [r["reference"] for r in made["reasonReference"]] == ["Condition/af01"]


# --- Recalls -----------------------------------------------------------------------------


def test_a_recall_is_a_plan_due_on_its_recall_date():
    [made] = requests(record(event("e1", recall("2026-03-11", "Asthma annual review", "Pending",
                                                "Bring inhalers."))))
    assert made["intent"] == "plan"
    assert made["status"] == "active"
    assert made["occurrenceDateTime"] == "2026-03-11"
    assert made["code"] == {"text": "Asthma annual review"}
    assert "category" not in made  # not a referral
    assert notes(made) == ["Bring inhalers."]
    assert made["identifier"] == [{"system": "urn:systmone:id:event-item",
                                   "value": "e1-Recall-0"}]
    assert made["encounter"] == {"reference": "Encounter/e1"}


def test_a_pending_recall_whose_date_has_passed_is_still_active():
    [made] = requests(record(event("e1", recall("2025-06-01", "Cervical screening", "Pending"))))
    assert made["status"] == "active"  # overdue, not done


# TPP's UpdatePatientRecord schema lists a recall's statuses; FHIR R4's request-status says
# what each is: still to happen (active), done (completed), called off (revoked), paused
# (on-hold). Written here by hand, not read from the concept map.
TPP_RECALL_STATUSES = {
    "Awaiting Result": "active", "Pending": "active", "1st Recall": "active",
    "2nd Recall": "active", "3rd Recall": "active", "Seen": "completed",
    "Cancelled by patient": "revoked", "Cancelled by clinician": "revoked",
    "Suspended": "on-hold",
}


@pytest.mark.parametrize(("word", "status"), sorted(TPP_RECALL_STATUSES.items()))
def test_each_recall_status_tpp_lists_has_its_fhir_status(word, status):
    [made] = requests(record(event("e1", recall("2025-06-01", "Cervical screening", word))))
    assert made["status"] == status
    assert not any(note.startswith("Status in SystmOne") for note in notes(made))


def test_a_recall_status_tpp_does_not_list_is_unknown_with_the_word_kept():
    [odd] = requests(record(event("e1", recall("2025-07-01", "Smear", "Deferred by patient"))))
    assert odd["status"] == "unknown"
    assert "Status in SystmOne: Deferred by patient" in notes(odd)


def test_reminders_are_not_service_requests():
    """SystmOne's Reminders are notices ("Housebound - home visits only"), served as Flags:
    GP Connect's diary entries leave warnings and alerts out."""
    root = record(event("e1", "<Reminder><FreeText>Housebound - home visits only."
                              "</FreeText><Severity>Normal</Severity></Reminder>"))
    assert requests(root) == []


# --- A generated practice ----------------------------------------------------------------


def test_every_referral_and_recall_of_a_generated_practice_is_served():
    practice = GeneratedPractice(40, seed=7, as_of=dt.date(2026, 11, 1))
    items, unserved, priorities = 0, 0, set()
    for index in range(len(practice)):
        root = practice.record(index)
        made = DEFAULT.map_resources("servicerequest", root, patient=PATIENT)
        assert not all_problems(made)
        report = fidelity(root, made)
        items += report.items["Referral"] + report.items["Recall"]
        unserved += report.unserved["Referral"] + report.unserved["Recall"]
        priorities |= {r.get("priority") for r in made if r["intent"] == "order"}
    assert items and unserved == 0
    assert priorities <= {"routine", "urgent"}
