"""The fidelity report: every item of a record counted, by kind, as served (as which types)
or not served. Expected counts are worked out by hand from the record below."""

from collections import Counter

from lxml import etree

from facade.mapping.fidelity import FidelityReport, fidelity

RECORD = etree.fromstring(
    b"<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity><Clinical>"
    b"<Event DateTime='2025-07-01T09:30:00' EventUID='e1'>"
    b"<ClinicalCode><Code Scheme='CTV3' Code='2469.' Term='Systolic'/><Value>142</Value>"
    b"</ClinicalCode>"  # e1-ClinicalCode-0
    b"<ClinicalCode><Code Scheme='CTV3' Code='246A.' Term='Diastolic'/><Value>88</Value>"
    b"</ClinicalCode>"  # e1-ClinicalCode-1
    b"<LinkedProblemUID>p1</LinkedProblemUID>"  # a link, not an item
    b"<ClinicalCode><Code Scheme='CTV3' Code='H33..' Term='Asthma'/>"
    b"<ProblemUID>p1</ProblemUID></ClinicalCode>"  # e1-ClinicalCode-2
    b"<!-- a comment is no item -->"
    b"<Medication><Drug Scheme='Multilex' ProductID='1' Name='Salbutamol'/></Medication>"
    b"<Wibble>a kind nobody has seen</Wibble>"  # e1-Wibble-0
    b"</Event></Clinical>"
    b"<NonClinical><Task><TaskUID>t1</TaskUID></Task></NonClinical></Response>")

RESOURCES = [
    {"resourceType": "Observation", "identifier": [
        {"system": "urn:systmone:id:event-item", "value": "e1-ClinicalCode-0"},
        {"system": "urn:systmone:id:event-item", "value": "e1-ClinicalCode-1"}]},
    {"resourceType": "Condition", "identifier": [
        {"system": "urn:systmone:id:event-item", "value": "e1-ClinicalCode-2"},
        {"system": "https://example.org/other", "value": "e1-Wibble-0"}]},  # another system
    {"resourceType": "MedicationRequest", "identifier": [
        {"system": "urn:systmone:id:event-item", "value": "e1-Medication-0"}]},
    {"resourceType": "MedicationStatement", "identifier": [
        {"system": "urn:systmone:id:event-item", "value": "e1-Medication-0"}]},
]


def test_every_item_is_counted_by_kind_and_by_the_types_serving_it():
    report = fidelity(RECORD, RESOURCES)
    assert report.items == Counter(numeric=2, problem=1, Medication=1, Wibble=1, Task=1)
    assert report.unserved == Counter(Wibble=1, Task=1)
    assert report.types_of("Medication") == {"MedicationRequest": 1, "MedicationStatement": 1}
    assert report.types_of("numeric") == {"Observation": 2}
    assert (report.total, report.served) == (6, 4)  # an item two types name is served once


def test_the_log_line_holds_counts_only():
    line = fidelity(RECORD, RESOURCES).log_line()
    assert line == "4 of 6 items served; not served: Task=1 Wibble=1"
    for secret in ("9990000018", "Asthma", "Salbutamol", "e1", "p1"):
        assert secret not in line


def test_nothing_served_is_reported_too_with_a_reason():
    report = fidelity(RECORD, [])
    assert report.unserved["numeric"] == 2 and report.served == 0
    assert "no resource type" in report.why("Wibble")
    partly = fidelity(RECORD, RESOURCES[:1])
    assert partly.rows()[0]["kind"] == "Medication"


def test_a_report_survives_the_cache_and_adds_up():
    report = fidelity(RECORD, RESOURCES)
    again = FidelityReport.from_json(report.to_json())
    assert again == report
    again.add(report)
    assert again.total == 12 and again.served_as[("numeric", "Observation")] == 4
