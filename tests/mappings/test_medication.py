"""The Medication, MedicationRequest and MedicationStatement mappings.

Expectations are written from UK Core (UKCore-Medication, -MedicationRequest,
-MedicationStatement, Extension-UKCore-MedicationRepeatInformation), GP Connect's
medication model (an authorisation is a plan, each issue an order based on it, one
MedicationStatement per authorisation) and TPP's item shapes, never read from mappings/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from facade.ids import IdCodec
from facade.mapping.fidelity import fidelity
from facade.mapping.registry import DEFAULT, map_resources
from facade.protocol.envelope import OutputScheme
from facade.protocol.identity import Identity
from facade.records import mapped_record
from simulator.practice.generator import GeneratedPractice
from simulator.practice.render import translate

SAMPLES = Path(__file__).resolve().parent / "samples"
PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"
DMD = "https://dmd.nhs.uk"
MULTILEX = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
EVENT_ITEM = "urn:systmone:id:event-item"
SD = "https://fhir.hl7.org.uk/StructureDefinition/"
TYPES = ("medication", "medicationrequest", "medicationstatement")


def opaque(resource_type: str, key: str) -> str:
    """An id function like the record service's: opaque, stable, one per (type, key)."""
    return hashlib.sha256(f"{resource_type}|{key}".encode()).hexdigest()[:32]


def mapped(source: etree._Element, today: str = TODAY) -> dict[str, list[dict]]:
    return {name: map_resources(name, source, patient=PATIENT, ids=opaque,
                                __xpath__={"today": today}) for name in TYPES}


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml")).getroot()


def item(resource: dict) -> str:
    [value] = [i["value"] for i in resource["identifier"] if i["system"] == EVENT_ITEM]
    return value


def by_item(resources: list[dict]) -> dict[str, dict]:
    return {item(r): r for r in resources}


def reference(resource_type: str, key: str) -> dict:
    return {"reference": f"{resource_type}/{opaque(resource_type, key)}"}


@pytest.fixture(scope="module")
def multilex() -> dict[str, list[dict]]:
    return mapped(sample("medication-multilex-repeat-and-issues"))


def test_a_repeat_template_is_a_plan_and_each_issue_an_order_based_on_it(multilex):
    requests = by_item(multilex["medicationrequest"])
    plan = requests["7a00000000000000-RepeatMedication-0"]
    assert plan["intent"] == "plan" and "basedOn" not in plan
    assert plan["id"] == opaque("MedicationRequest", "7a00000000000000-RepeatMedication-0")
    for issue in ("7a00000000000000-Medication-0", "7b00000000000000-Medication-0"):
        order = requests[issue]
        assert order["intent"] == "order"
        assert order["basedOn"] == [
            reference("MedicationRequest", "7a00000000000000-RepeatMedication-0")]
    # Re-authorised in January 2025: the issues after it are based on the new template,
    # including the one issued in the same Event.
    for issue in ("7c00000000000000-Medication-0", "7d00000000000000-Medication-1"):
        assert requests[issue]["basedOn"] == [
            reference("MedicationRequest", "7c00000000000000-RepeatMedication-0")]


def test_an_issue_after_its_template_ended_and_a_one_off_drug_are_acute_orders(multilex):
    requests = by_item(multilex["medicationrequest"])
    salbutamol = requests["7d00000000000000-Medication-0"]  # template current
    assert salbutamol["basedOn"] == [
        reference("MedicationRequest", "7c00000000000000-RepeatMedication-1")]
    # The first: salbutamol after the template ended (2025-06-30).
    for acute in ("7e00000000000000-Medication-0",
                  "7b00000000000000-Medication-1", "7f00000000000000-Medication-0",
                  "7f00000000000000-Medication-1"):
        order = requests[acute]
        assert order["intent"] == "order" and "basedOn" not in order
        assert order["courseOfTherapyType"]["coding"][0]["code"] == "acute"
    assert requests["7a00000000000000-Medication-0"]["courseOfTherapyType"]["coding"][0]["code"] \
        == "continuous"


def test_one_statement_per_authorisation_based_on_its_request(multilex):
    statements = by_item(multilex["medicationstatement"])
    # The three templates and the four acute issues; repeat issues have none of their own.
    assert sorted(statements) == sorted([
        "7a00000000000000-RepeatMedication-0", "7c00000000000000-RepeatMedication-0",
        "7c00000000000000-RepeatMedication-1",
        "7b00000000000000-Medication-1", "7e00000000000000-Medication-0",
        "7f00000000000000-Medication-0", "7f00000000000000-Medication-1"])
    for key, statement in statements.items():
        assert statement["basedOn"] == [reference("MedicationRequest", key)]
        assert statement["meta"]["profile"] == [SD + "UKCore-MedicationStatement"]


def test_statuses_from_dates_and_end_reasons(multilex):
    requests = by_item(multilex["medicationrequest"])
    statements = by_item(multilex["medicationstatement"])
    expected = {
        "7a00000000000000-RepeatMedication-0": "completed",  # replaced by the 2025 template
        "7c00000000000000-RepeatMedication-0": "active",
        "7c00000000000000-RepeatMedication-1": "stopped",  # EndReason given
        "7b00000000000000-Medication-1": "completed",  # ended 2024-03-11, empty <EndReason/>
        "7f00000000000000-Medication-0": "stopped",
        "7f00000000000000-Medication-1": "active",  # ends 2026-02-02
    }
    for key, status in expected.items():
        assert requests[key]["status"] == status, key
        assert statements[key]["status"] == status, key
    assert requests["7f00000000000000-Medication-0"]["statusReason"] == {
        "text": "Adverse reaction - indigestion"}
    assert statements["7c00000000000000-RepeatMedication-1"]["statusReason"] == [
        {"text": "Changed to alternative inhaler"}]
    assert "statusReason" not in requests["7b00000000000000-Medication-1"]  # <EndReason/> is empty


def test_quantity_dose_and_dates(multilex):
    requests = by_item(multilex["medicationrequest"])
    plan = requests["7a00000000000000-RepeatMedication-0"]
    assert plan["dispenseRequest"]["quantity"] == {"value": 28, "unit": "tablet"}
    assert plan["dispenseRequest"]["expectedSupplyDuration"] == {
        "value": 28, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}
    assert plan["dispenseRequest"]["numberOfRepeatsAllowed"] == 5  # MaxIssues 6: 1 + 5
    assert plan["dosageInstruction"] == [{"text": "One tablet once a day"}]
    assert plan["extension"] == [{
        "url": SD + "Extension-UKCore-MedicationRepeatInformation",
        "extension": [{"url": "authorisationExpiryDate", "valueDateTime": "2025-01-10"}]}]
    order = requests["7b00000000000000-Medication-1"]
    assert order["dispenseRequest"] == {"validityPeriod": {"start": "2024-03-06",
                                                           "end": "2024-03-11"},
                                        "quantity": {"value": 15, "unit": "capsule"}}
    assert order["authoredOn"] == "2024-03-06T11:40:00+00:00"
    assert order["category"] == [{"text": "NHS medication"}]
    assert order["recorder"] == {"display": "SMITH, Jo (General Medical Practitioner)"}
    # "as directed" is no quantity: kept as a note.
    naproxen = requests["7f00000000000000-Medication-0"]
    assert "quantity" not in naproxen["dispenseRequest"]
    assert naproxen["note"] == [{"text": "Quantity: as directed"}]


def test_substitution_is_present_as_uk_core_requires_but_not_guessed(multilex):
    for request in multilex["medicationrequest"]:
        assert request["substitution"] == {"allowedCodeableConcept": {"extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
             "valueCode": "unsupported"}]}}


def test_one_medication_per_drug_and_every_reference_resolves(multilex):
    medications = {m["id"]: m for m in multilex["medication"]}
    assert len(medications) == 5  # amlodipine, amoxicillin, salbutamol, naproxen, omeprazole
    amlodipine = medications[opaque("Medication", "Multilex-1431108")]
    assert amlodipine["code"] == {
        "coding": [{"system": MULTILEX, "code": "1431108", "display": "Amlodipine 5mg tablets"}],
        "text": "Amlodipine 5mg tablets"}
    assert amlodipine["meta"]["profile"] == [SD + "UKCore-Medication"]
    requests = {r["id"] for r in multilex["medicationrequest"]}
    for resource in multilex["medicationrequest"] + multilex["medicationstatement"]:
        assert resource["medicationReference"]["reference"].split("/")[1] in medications
        for based_on in resource.get("basedOn", []):
            assert based_on["reference"].split("/")[1] in requests


def test_a_dmd_drug_has_the_dmd_system():
    found = mapped(sample("medication-dmd"))
    codes = {m["code"]["coding"][0]["code"]: m["code"]["coding"][0]["system"]
             for m in found["medication"]}
    assert codes == {"374296008": DMD, "18616211000001106": DMD}
    requests = by_item(found["medicationrequest"])
    # An EndDate with a time is still a date; an issue without StartDate starts on its Event.
    assert requests["8a00000000000000-Medication-0"]["dispenseRequest"]["validityPeriod"] == {
        "start": "2014-03-26", "end": "2014-04-23"}
    assert requests["8b00000000000000-Medication-0"]["dispenseRequest"]["validityPeriod"] == {
        "start": "2014-05-02", "end": "2014-06-27"}
    # An acute issue of the drug before its repeat template existed is not based on it.
    assert "basedOn" not in requests["8a00000000000000-Medication-0"]
    assert requests["8b00000000000000-Medication-0"]["basedOn"] == [
        reference("MedicationRequest", "8b00000000000000-RepeatMedication-0")]
    plan = requests["8b00000000000000-RepeatMedication-0"]  # <MaxIssues/> empty: no repeats count
    assert "numberOfRepeatsAllowed" not in plan["dispenseRequest"]
    assert requests["8b00000000000000-Medication-1"]["dispenseRequest"]["quantity"] == {
        "value": 5, "unit": "ml"}


@pytest.mark.parametrize("scheme", [OutputScheme("CTV3", None), OutputScheme("Snomed", "Dmd")])
def test_every_medication_item_of_a_generated_practice_is_served(scheme):
    practice = GeneratedPractice(30, seed=9, as_of=dt.date(2026, 11, 1))
    for index in range(len(practice)):
        source = etree.fromstring(etree.tostring(practice.record(index)))
        translate(source, scheme)
        found = mapped(source, today="2026-11-01")
        report = fidelity(source, found["medicationrequest"] + found["medicationstatement"])
        assert report.unserved["Medication"] == 0, f"patient {index}"
        assert report.unserved["RepeatMedication"] == 0, f"patient {index}"
        requests = Counter(item(r) for r in found["medicationrequest"])
        assert max(requests.values(), default=1) == 1, f"patient {index}"
        templates = len(source.findall("Clinical/Event/RepeatMedication"))
        plans = [r for r in found["medicationrequest"] if r["intent"] == "plan"]
        assert len(plans) == templates
        statements = {item(s) for s in found["medicationstatement"]}
        for order in found["medicationrequest"]:
            # Every issue is covered by a statement: its own (acute) or its plan's.
            if order["intent"] == "order" and "basedOn" not in order:
                assert item(order) in statements
        ids = {r["id"] for r in found["medication"]}
        assert len(ids) == len(found["medication"])
        assert all(r["medicationReference"]["reference"].split("/")[1] in ids
                   for r in found["medicationrequest"] + found["medicationstatement"])


def served_in_order(*events: str) -> dict[str, list[str]]:
    """The items of each medication type's resources, in the order the record service
    serves them (newest first)."""
    source = etree.fromstring(
        "<Response><Identity><NHSNumber>9990000042</NHSNumber></Identity><Clinical>"
        + "".join(events) + "</Clinical></Response>")
    identity = Identity.from_element(source.find("Identity"))
    served = mapped_record(DEFAULT, IdCodec(bytes(range(64))), identity, source,
                           dt.datetime(2026, 1, 15, 9, tzinfo=dt.UTC).timestamp())
    return {kind: [item(r) for r in served["resources"][kind]]
            for kind in ("MedicationRequest", "MedicationStatement")}


def acute_issue(uid: str, recorded: str, start: str, end: str) -> str:
    """An Event holding one acute issue (its own drug) started and ended when given."""
    return (f'<Event DateTime="{recorded}" DoneBy="SMITH, Jo " EventUID="{uid}">'
            "<Medication><MedicationType>NHS medication</MedicationType>"
            f'<Drug Name="Drug {uid[:2]}" ProductID="1{uid[:6]}" Scheme="Multilex"/>'
            "<Dose>as directed</Dose><Quantity>28 tablet</Quantity>"
            f"<StartDate>{start}</StartDate><EndDate>{end}</EndDate><EndReason/>"
            "</Medication></Event>")


def test_statements_are_served_newest_taken_first_not_newest_recorded():
    """A statement's date is when the drug was taken (effective), not when it was written
    down: a course entered in June that began in January sorts after one begun in March."""
    order = served_in_order(
        acute_issue("5100000000000000", "2025-06-01T09:00:00", "2025-01-10", "2025-02-07"),
        acute_issue("5200000000000000", "2025-03-01T09:00:00", "2025-03-01", "2025-03-29"))
    assert order["MedicationStatement"] == ["5200000000000000-Medication-0",
                                            "5100000000000000-Medication-0"]


def test_requests_are_served_newest_authored_first():
    """A request's date is when it was written (authoredOn, its Event's time)."""
    recorded = ("2024-05-01T09:00:00", "2025-11-20T09:00:00", "2025-02-14T09:00:00")
    order = served_in_order(*(acute_issue(f"5{n}00000000000000", when, when[:10], "2026-12-31")
                              for n, when in enumerate(recorded, 1)))
    assert order["MedicationRequest"] == ["5200000000000000-Medication-0",
                                          "5300000000000000-Medication-0",
                                          "5100000000000000-Medication-0"]
