"""Reminders as Flags, against hand-written expectations.

TPP's UpdatePatientRecord schema gives a Reminder's elements (FreeText, Severity of Low,
Normal or High, ExpiryDate: "if an expiry date is not provided, the reminder will remain
until manually removed"); FHIR R4 gives Flag's status codes and the flag-priority extension
(tests/ukcore/expectations.py, written by hand). Nothing is read from mappings/.
"""

from __future__ import annotations

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT
from tests.ukcore import expectations as ux
from tests.ukcore.rules import all_problems

PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"


def record(*reminders: str) -> etree._Element:
    return etree.fromstring(
        '<Response><Clinical><Event DateTime="2025-03-03T10:00:00" DoneBy="SMITH, Jo  (GP) " '
        f'EventUID="e000000000000001" UserName="jsmith">{"".join(reminders)}</Event>'
        '</Clinical></Response>')


def reminder(text: str = "Housebound - home visits only.", severity: str = "Normal",
             expiry: str = "") -> str:
    expires = f"<ExpiryDate>{expiry}</ExpiryDate>" if expiry else ""
    return (f"<Reminder><FreeText>{text}</FreeText><Severity>{severity}</Severity>"
            f"{expires}</Reminder>")


def flags(root: etree._Element, today: str = TODAY) -> list[dict]:
    found = DEFAULT.map_resources("flag", root, patient=PATIENT,
                                  last_updated="2026-01-15T09:00:00Z",
                                  __xpath__={"today": today})
    assert not all_problems(found), all_problems(found)
    return found


def priority(flag: dict) -> dict:
    [extension] = [e for e in flag.get("extension", [])
                   if e["url"] == ux.FLAG_PRIORITY_EXTENSION]
    return extension["valueCodeableConcept"]


def test_a_reminder_is_an_active_flag_about_the_patient_in_its_own_words():
    [flag] = flags(record(reminder()))
    assert flag["resourceType"] == "Flag"
    assert flag["meta"]["profile"] == [ux.PROFILES["Flag"]]
    assert flag["status"] == "active"
    assert flag["code"] == {"text": "Housebound - home visits only."}
    assert flag["subject"] == PATIENT
    assert flag["period"] == {"start": "2025-03-03T10:00:00+00:00"}
    assert flag["author"] == {"display": "SMITH, Jo (GP)"}
    assert flag["encounter"] == {"reference": "Encounter/e000000000000001"}
    assert "category" not in flag  # SystmOne does not say what kind of notice it is


# TPP's three severities, and FHIR's flag-priority codes for them: Normal is the middle.
@pytest.mark.parametrize(("severity", "code"), [("Low", "PL"), ("Normal", "PM"),
                                                ("High", "PH"), ("high", "PH")])
def test_severity_is_the_flag_priority_with_the_record_word_kept(severity, code):
    [flag] = flags(record(reminder(severity=severity)))
    assert priority(flag) == {"coding": [{"system": ux.FLAG_PRIORITY_SYSTEM, "code": code,
                                          "display": ux.FLAG_PRIORITY[code]}],
                              "text": severity}


def test_a_severity_tpp_does_not_list_stays_text_and_none_says_nothing():
    [odd, missing] = flags(record(reminder(severity="Critical"), reminder(severity=" ")))
    assert priority(odd) == {"text": "Critical"}
    assert "extension" not in missing


def test_a_reminder_past_its_expiry_is_inactive_and_one_expiring_today_is_not():
    past, today, later = flags(record(reminder(expiry="2026-01-14"),
                                      reminder(expiry=TODAY),
                                      reminder(expiry="2026-06-30")))
    assert (past["status"], today["status"], later["status"]) == (
        "inactive", "active", "active")
    assert past["period"]["end"] == "2026-01-14"
    # The same reminder read a day later has expired.
    [expired] = flags(record(reminder(expiry=TODAY)), today="2026-01-16")
    assert expired["status"] == "inactive"


def test_a_reminder_without_text_is_not_a_flag_and_is_counted_unserved():
    root = record(reminder(text=" "), reminder())
    made = flags(root)
    assert len(made) == 1
    report = fidelity(root, made)
    assert report.items["Reminder"] == 2 and report.unserved["Reminder"] == 1
