"""Medplum and FHIR.js (``external.validate``) pass valid resources and flag invalid ones.

The matrix below is the table in ``external.py``'s docstring: for each hand-written broken
resource, which of Medplum, FHIR.js and fhir.resources (R4B models) reject it. A validator
upgrade that changes a cell fails here, and the table is corrected with it.
"""

from __future__ import annotations

import copy
import time

import pytest
from pydantic import ValidationError

from tests.validators import external

SD = "https://fhir.hl7.org.uk/StructureDefinition/"
PATIENT = {"reference": "Patient/patient-1"}
MEDPLUM, FHIRJS, PYDANTIC = "medplum", "fhirjs", "fhir.resources"
BOTH = {MEDPLUM, FHIRJS}


@pytest.fixture(scope="module")
def validate():
    external.require()
    return external.validate


def observation() -> dict:
    return {
        "resourceType": "Observation",
        "id": "hr-1",
        "meta": {"profile": [SD + "UKCore-Observation-VitalSigns-HeartRate"]},
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "364075005"},
                            {"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": dict(PATIENT),
        "effectiveDateTime": "2025-07-01T09:30:00+01:00",
        "issued": "2025-07-01T10:00:00.000+01:00",
        "valueQuantity": {"value": 72.5, "unit": "per minute",
                          "system": "http://unitsofmeasure.org", "code": "/min",
                          "comparator": ">="},
    }


def patient() -> dict:
    return {
        "resourceType": "Patient",
        "id": "patient-1",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
        "active": True,
        "name": [{"family": "SMITH", "given": ["Richard"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
    }


def condition() -> dict:
    return {
        "resourceType": "Condition",
        "id": "cond-1",
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
        "subject": dict(PATIENT),
        "onsetDateTime": "2019-03",
    }


def allergy() -> dict:
    return {
        "resourceType": "AllergyIntolerance",
        "id": "nka-1",
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "716186003"}]},
        "patient": dict(PATIENT),
    }


def medication_request() -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [
            {"system": "https://dmd.nhs.uk", "code": "39732311000001104"}]},
        "subject": dict(PATIENT),
        "authoredOn": "2025-02-01",
        "substitution": {"allowedBoolean": True},
    }


def immunization() -> dict:
    return {
        "resourceType": "Immunization",
        "id": "imm-1",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "https://dmd.nhs.uk",
                                    "code": "39114911000001105"}]},
        "patient": dict(PATIENT),
        "occurrenceDateTime": "2024-10-01T10:00:00Z",
    }


VALID = [observation, patient, condition, allergy, medication_request, immunization]


def changed(make, **changes) -> dict:
    """``make()`` with top-level elements replaced (None removes one)."""
    resource = make()
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = copy.deepcopy(value)
    return resource


def quantity(**changes) -> dict:
    return {**observation()["valueQuantity"], **changes}


# (name, resource, the validators that reject it)
INVALID = [
    ("missing Observation.status", changed(observation, status=None), BOTH | {PYDANTIC}),
    ("missing Observation.code", changed(observation, code=None), BOTH | {PYDANTIC}),
    ("missing MedicationRequest.intent", changed(medication_request, intent=None),
     BOTH | {PYDANTIC}),
    ("missing Immunization.occurrence[x]", changed(immunization, occurrenceDateTime=None),
     BOTH | {PYDANTIC}),
    ("unknown element", changed(observation, colour="red"), BOTH | {PYDANTIC}),
    # Medplum only warns: "Conflicting choice of type properties".
    ("unknown element named like a value[x]", changed(observation, valueQuantityy={"value": 1}),
     {FHIRJS, PYDANTIC}),
    ("unknown resourceType", changed(observation, resourceType="Observatio"), BOTH | {PYDANTIC}),
    ("decimal as a string", changed(observation, valueQuantity=quantity(value="72.5")), BOTH),
    ("boolean as a string", changed(patient, active="yes"), BOTH),
    ("object where an array belongs", changed(observation, category={"text": "vital signs"}),
     BOTH | {PYDANTIC}),
    ("extension without url", changed(observation, extension=[{"valueString": "x"}]),
     BOTH | {PYDANTIC}),
    ("a date that is not a date", changed(observation, effectiveDateTime="yesterday"),
     BOTH | {PYDANTIC}),
    ("impossible date 2020-13-45", changed(observation, effectiveDateTime="2020-13-45"),
     {MEDPLUM, PYDANTIC}),
    ("UK-style date", changed(patient, birthDate="25/12/1974"), {MEDPLUM, PYDANTIC}),
    ("dateTime without seconds", changed(observation, effectiveDateTime="2025-07-01T09:30+01:00"),
     {MEDPLUM, PYDANTIC}),
    ("instant without a time", changed(observation, issued="2025-07-01"), {MEDPLUM, PYDANTIC}),
    ("birthDate with a time", changed(patient, birthDate="1974-12-25T00:00:00Z"),
     {MEDPLUM, PYDANTIC}),
    ("30 February", changed(observation, effectiveDateTime="2025-02-30"), {PYDANTIC}),
    ("time without an offset", changed(observation, effectiveDateTime="2025-07-01T09:30:00"),
     {PYDANTIC}),
    ("status bogus", changed(observation, status="bogus"), {FHIRJS}),
    ("gender xyz", changed(patient, gender="xyz"), {FHIRJS}),
    ("intent repeat", changed(medication_request, intent="repeat"), {FHIRJS}),
    ("comparator =>", changed(observation, valueQuantity=quantity(comparator="=>")), {FHIRJS}),
    ("clinicalStatus current", changed(allergy, clinicalStatus={"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        "code": "current"}]}), {FHIRJS}),
    ("obs-6: dataAbsentReason with a value",
     changed(observation, dataAbsentReason={"text": "not measured"}), {MEDPLUM}),
    ("ait-1: no clinicalStatus", changed(allergy, clinicalStatus=None), {MEDPLUM}),
    ("two variants of value[x]", changed(observation, valueString="72"), {PYDANTIC}),
    ("id with an underscore", changed(observation, id="hr_1"), {PYDANTIC}),
    ("empty array", changed(observation, performer=[]), set()),
    ("malformed reference", changed(observation, subject={"reference": "patient 1"}), set()),
]


def fhir_resources_rejects(resource: dict) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource["resourceType"])
    except (KeyError, ValueError):
        return True
    try:
        model.model_validate(resource)
    except (ValidationError, ValueError, TypeError):
        return True
    return False


@pytest.fixture(scope="module")
def matrix(validate) -> dict[str, dict]:
    """The INVALID resources through one Node process: name -> result."""
    results = validate([resource for _, resource, _ in INVALID])
    return {name: result for (name, _, _), result in zip(INVALID, results, strict=True)}


def test_valid_resources_pass_both(validate) -> None:
    resources = [make() for make in VALID]
    results = validate(resources)
    assert len(results) == len(resources)
    for resource, result in zip(resources, results, strict=True):
        assert result["valid"], (resource["resourceType"], result)
        assert external.flagged_by(result) == set()


@pytest.mark.parametrize("make", VALID, ids=lambda f: f.__name__)
def test_valid_resources_pass_fhir_resources(make) -> None:
    assert not fhir_resources_rejects(make())


def test_what_each_validator_catches(matrix) -> None:
    """Every cell as in external.py's table."""
    wrong = {}
    for name, resource, expected in INVALID:
        result = matrix[name]
        found = external.flagged_by(result)
        if fhir_resources_rejects(resource):
            found.add(PYDANTIC)
        if found != expected:
            wrong[name] = {"expected": sorted(expected), "found": sorted(found),
                           MEDPLUM: result[MEDPLUM]["messages"], FHIRJS: result[FHIRJS]["messages"]}
    assert wrong == {}


@pytest.mark.parametrize("name", ["missing Observation.status", "unknown element",
                                  "a date that is not a date"])
def test_both_flag_the_basic_errors_and_say_where(matrix, name: str) -> None:
    result = matrix[name]
    assert not result["valid"]
    for validator in external.VALIDATORS:
        assert not result[validator]["valid"]
        assert any("Observation" in m for m in result[validator]["messages"]), result[validator]


def test_results_keep_their_order_and_decimals_serialise(validate) -> None:
    from decimal import Decimal

    good = observation()
    good["valueQuantity"]["value"] = Decimal("72.50")
    bad = changed(observation, status=None)
    results = validate([good, bad, good])
    assert [r["valid"] for r in results] == [True, False, True]
    assert validate([]) == []


def test_one_node_process_for_many_resources(validate) -> None:
    """500 resources cost about what one does: the definitions load once per call."""
    validate([observation()])
    started = time.monotonic()
    results = validate([observation() for _ in range(500)])
    assert all(r["valid"] for r in results)
    assert time.monotonic() - started < 30


def test_a_missing_node_skips_with_the_reason(monkeypatch) -> None:
    monkeypatch.setattr(external.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        external.require()


def test_the_test_command_goes_on_without_node_saying_why(monkeypatch, capsys) -> None:
    monkeypatch.setattr(external.shutil, "which", lambda name: None)
    assert external.install_for_test_run() == 0
    assert "unavailable; the tests that use them will skip: node is not installed" in \
        capsys.readouterr().err
