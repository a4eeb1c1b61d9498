"""DiagnosticReport through the API: search by patient, category, code and date (FHIR R4's
definitions), newest first, read, and _include of its results and patient."""

from __future__ import annotations

from tests.bundles import matches

from .test_api import every_page, search

SNOMED_REPORT = "http://snomed.info/sct|721981007"  # GP Connect's Diagnostic studies report
LABORATORY = "http://terminology.hl7.org/CodeSystem/v2-0074|LAB"


def patient_with_reports(client, practice) -> str:
    """The id of a patient whose record holds a report filed beside its readings."""
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                   and len(practice.record(p).findall("Clinical/Event/Report")) >= 2
                   and practice.record(p).xpath("Clinical/Event[Report][ClinicalCode/Value]"))
    bundle = search(client, f"/fhir/Patient?identifier={summary.identity.value}")
    return bundle["entry"][0]["resource"]["id"]


def test_reports_are_searched_by_patient_category_code_and_date(client, practice):
    pid = patient_with_reports(client, practice)
    reports = matches(every_page(client, f"/fhir/DiagnosticReport?patient={pid}"))
    assert len(reports) >= 2
    assert all(r["resourceType"] == "DiagnosticReport" for r in reports)
    collected = [r["effectiveDateTime"] for r in reports]
    assert collected == sorted(collected, reverse=True)  # newest first
    assert search(client, f"/fhir/DiagnosticReport/{reports[0]['id']}") == reports[0]

    lab = matches(every_page(client, f"/fhir/DiagnosticReport?patient={pid}"
                                     f"&category={LABORATORY}"))
    assert {r["id"] for r in lab} == {r["id"] for r in reports}  # the generator's are Pathology
    assert search(client, f"/fhir/DiagnosticReport?patient={pid}&category=RAD")["total"] == 0
    coded = every_page(client, f"/fhir/DiagnosticReport?patient={pid}&code={SNOMED_REPORT}")
    assert len(matches(coded)) == len(reports)
    day = reports[-1]["effectiveDateTime"][:10]
    on_day = matches(every_page(client, f"/fhir/DiagnosticReport?patient={pid}&date=eq{day}"))
    assert on_day and all(r["effectiveDateTime"].startswith(day) for r in on_day)
    before = matches(every_page(client, f"/fhir/DiagnosticReport?patient={pid}&date=lt{day}"))
    assert before == []


def test_include_brings_each_result_and_the_patient(client, practice):
    pid = patient_with_reports(client, practice)
    bundle = every_page(client, f"/fhir/DiagnosticReport?patient={pid}"
                                "&_include=DiagnosticReport:result"
                                "&_include=DiagnosticReport:patient")
    reports = matches(bundle)
    included = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
                for e in bundle["entry"] if e["search"]["mode"] == "include"}
    results = [ref["reference"] for r in reports for ref in r.get("result", ())]
    assert results, "no report of the patient has a result"
    assert set(results) | {f"Patient/{pid}"} == set(included)
    for reference in results:
        observation = search(client, f"/fhir/{reference}")
        assert observation == included[reference]
        assert "valueQuantity" in observation  # a reading


def test_metadata_declares_the_type_its_searches_and_includes(client):
    statement = search(client, "/fhir/metadata")
    report = next(r for r in statement["rest"][0]["resource"]
                  if r["type"] == "DiagnosticReport")
    assert report["profile"] == \
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-DiagnosticReport"
    assert {"patient", "category", "code", "date"} <= {p["name"] for p in report["searchParam"]}
    assert {"DiagnosticReport:patient", "DiagnosticReport:result"} <= set(
        report["searchInclude"])
