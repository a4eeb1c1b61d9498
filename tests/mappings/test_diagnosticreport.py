"""DiagnosticReport from SystmOne Report items, against hand-written expectations.

Expected values come from UK Core (profile), GP Connect (code 721981007, category
"Laboratory" by default, status final), HL7 v2 table 0074 (tests/ukcore/expectations.py)
and from reading the sample record by hand: which readings are a report's results is
said here by their codes, and the Observations are found by those codes in the
Observation mapping's output — never by the DiagnosticReport mapping's own paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT, map_resources
from tests.ukcore import expectations as ux

SAMPLE = Path(__file__).resolve().parent / "samples" / "pathology-reports.xml"
PATIENT = {"reference": "Patient/patient-1"}
LAST_UPDATED = "2025-06-01T12:00:00+00:00"
EVENT_ITEM = "urn:systmone:id:event-item"  # the facade's own namespace for SystmOne items


def mapped(record: etree._Element, resource_type: str) -> list[dict]:
    return map_resources(resource_type.lower(), record, patient=PATIENT,
                         last_updated=LAST_UPDATED)


@pytest.fixture(scope="module")
def sample() -> etree._Element:
    return etree.parse(str(SAMPLE)).getroot()


@pytest.fixture(scope="module")
def reports(sample) -> dict[str, dict]:
    """The sample's reports by their battery text."""
    return {r["code"]["text"]: r for r in mapped(sample, "DiagnosticReport")}


def observation_of(sample, event_uid: str, code: str) -> str:
    """The reference to the Observation made from the reading of ``code`` in that Event."""
    key = None
    for position, item in enumerate(sample.iterfind(
            f"Clinical/Event[@EventUID='{event_uid}']/ClinicalCode")):
        if item.find("Code").get("Code") == code:
            key = f"{event_uid}-ClinicalCode-{position}"
    found = [o for o in mapped(sample, "Observation")
             if {"system": EVENT_ITEM, "value": key} in o["identifier"]]
    assert len(found) == 1, (event_uid, code)
    return f"Observation/{found[0]['id']}"


def test_every_report_item_is_one_uk_core_diagnostic_report(reports):
    assert sorted(reports) == ["FBC", "HbA1c; U&E", "Skin biopsy", "Urine culture",
                               "Vitamin D"]
    system, code, display = ux.DIAGNOSTIC_STUDIES_REPORT
    for report in reports.values():
        assert report["meta"] == {"profile": [ux.PROFILES["DiagnosticReport"]],
                                  "lastUpdated": LAST_UPDATED}
        assert report["status"] == "final"  # SystmOne files issued reports only
        assert report["code"]["coding"] == [{"system": system, "code": code,
                                             "display": display}]
        assert report["subject"] == PATIENT
        # The laboratory is not named (DoneAt is the surgery) and no specimen is given.
        assert "performer" not in report and "specimen" not in report


def test_a_report_names_its_item(reports):
    assert reports["FBC"]["identifier"] == [
        {"system": EVENT_ITEM, "value": "d1a9000000000003-Report-0"}]
    assert reports["Vitamin D"]["identifier"] == [
        {"system": EVENT_ITEM, "value": "d1a9000000000005-Report-1"}]


def test_readings_in_the_reports_own_event_are_its_results_but_not_a_blood_pressure(
        sample, reports):
    expected = [observation_of(sample, "d1a9000000000003", "423.."),
                observation_of(sample, "d1a9000000000003", "XaZZZ")]  # a code nobody knows
    assert reports["FBC"]["result"] == [{"reference": r} for r in expected]


def test_a_report_without_readings_takes_the_lab_readings_of_its_collection_day(
        sample, reports):
    """The review on 2024-11-04 also took a blood pressure, a weight and an X-code reading:
    none of them is a lab result."""
    expected = [observation_of(sample, "d1a9000000000001", "XaPbt"),
                observation_of(sample, "d1a9000000000001", "44J9.")]
    assert reports["HbA1c; U&E"]["result"] == [{"reference": r} for r in expected]


def test_a_report_with_no_readings_anywhere_has_no_results(reports):
    for battery in ("Urine culture", "Skin biopsy", "Vitamin D"):
        assert "result" not in reports[battery], battery


def test_collected_is_effective_and_filed_on_the_issue_day_is_issued(reports):
    assert reports["HbA1c; U&E"]["effectiveDateTime"] == "2024-11-04"
    assert reports["HbA1c; U&E"]["issued"] == "2024-11-07T16:40:57+00:00"  # GMT
    assert reports["FBC"]["effectiveDateTime"] == "2025-06-09"
    assert reports["FBC"]["issued"] == "2025-06-12T11:03:15+01:00"  # BST
    # Issued on the 4th, filed on the 6th: the lab's instant is not known.
    assert reports["Urine culture"]["effectiveDateTime"] == "2025-08-01"
    assert "issued" not in reports["Urine culture"]
    assert "effectiveDateTime" not in reports["Vitamin D"]


def test_comments_are_the_conclusion_result_and_actions_kept(reports):
    fbc = reports["FBC"]
    assert fbc["conclusion"] == "Hb 104 g/L (L), MCV 78 fL (L) - iron deficiency?"
    assert fbc["conclusionCode"] == [{"text": "Abnormal"}]
    assert fbc["extension"] == [
        {"url": ux.DIAGNOSTIC_REPORT_NOTE,
         "valueAnnotation": {"text": "Follow-up action: Make routine appointment"}},
        {"url": ux.DIAGNOSTIC_REPORT_NOTE,
         "valueAnnotation": {"text": "Follow-up action: Repeat test in 3 months"}}]
    assert "extension" not in reports["Urine culture"]


def category_of(report_type: str | None) -> list[dict]:
    type_element = f"<Type>{report_type}</Type>" if report_type else ""
    record = etree.fromstring(
        f'<Response><Clinical><Event DateTime="2025-03-03T10:00:00" EventUID="e0000000000000aa">'
        f"<Report><BatteryHeaders>X</BatteryHeaders>{type_element}</Report>"
        f"</Event></Clinical></Response>")
    (report,) = mapped(record, "DiagnosticReport")
    return report["category"]


@pytest.mark.parametrize(("report_type", "section"), list(ux.REPORT_TYPE_SECTIONS.items()))
def test_every_report_type_is_its_diagnostic_service_section(report_type, section):
    assert category_of(report_type) == [{
        "coding": [{"system": ux.V2_0074, "code": section,
                    "display": ux.DIAGNOSTIC_SERVICE_SECTIONS[section]}],
        "text": report_type}]


def test_a_report_type_nobody_knows_keeps_its_text_and_no_type_is_laboratory():
    assert category_of("Dermatopathology") == [{"text": "Dermatopathology"}]
    assert category_of(None) == [{"coding": [{"system": ux.V2_0074, "code": "LAB",
                                              "display": "Laboratory"}]}]


def test_every_report_item_is_counted_as_served(sample):
    resources = [r for declaration in DEFAULT.record_types()
                 for r in mapped(sample, declaration.type)]
    report = fidelity(sample, resources)
    assert report.items["Report"] == 5
    assert report.unserved["Report"] == 0
    assert report.types_of("Report") == {"DiagnosticReport": 5}
