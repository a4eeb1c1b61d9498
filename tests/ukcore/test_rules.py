"""The UK Core rules catch what they should, on small hand-written resources.

Each good resource below passes every rule; each bad case changes one thing and must raise
the named rule. The resources are written out literally (not built from ``expectations``) so
that a slip in the tables shows up here too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import UKCORE_REFERENCE
from tests.ukcore import expectations as ux
from tests.ukcore import rules
from tests.ukcore.rules import bundle_problems, problems

SD = "https://fhir.hl7.org.uk/StructureDefinition/"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
SCT = "http://snomed.info/sct"
LN = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CTV3 = "http://read.info/ctv3"
PATIENT = {"reference": "Patient/patient-1"}
VITAL_SIGNS_CATEGORY = [{"coding": [{"system": OBS_CAT, "code": "vital-signs",
                                     "display": "Vital Signs"}]}]


# --- Good resources ------------------------------------------------------------------------


def heart_rate() -> dict:
    return {
        "resourceType": "Observation",
        "id": "hr-1",
        "meta": {"profile": [SD + "UKCore-Observation-VitalSigns-HeartRate"]},
        "status": "final",
        "category": copy.deepcopy(VITAL_SIGNS_CATEGORY),
        "code": {"coding": [
            {"system": SCT, "code": "364075005", "display": "Heart rate"},
            {"system": LN, "code": "8867-4", "display": "Heart rate"},
        ]},
        "subject": dict(PATIENT),
        "effectiveDateTime": "2025-07-01T09:30:00+01:00",
        "valueQuantity": {"value": 72, "unit": "per minute", "system": UCUM, "code": "/min"},
    }


def body_weight_from_ctv3() -> dict:
    return {
        "resourceType": "Observation",
        "id": "wt-1",
        "meta": {"profile": [SD + "UKCore-Observation-VitalSigns-BodyWeight"]},
        "identifier": [{"system": "urn:systmone:id:event-item", "value": "e1-0"}],
        "status": "final",
        "category": copy.deepcopy(VITAL_SIGNS_CATEGORY),
        "code": {"coding": [
            {"system": SCT, "code": "27113001", "display": "Body weight"},
            {"system": LN, "code": "29463-7", "display": "Body weight"},
            {"system": CTV3, "code": "22A..", "display": "O/E - weight"},
        ]},
        "subject": dict(PATIENT),
        "effectiveDateTime": "2025-01-15T11:05:00Z",
        "valueQuantity": {"value": 82.4, "unit": "kilogram", "system": UCUM, "code": "kg"},
    }


def _bp_component(snomed: str, loinc: str, text: str, value: int) -> dict:
    return {
        "code": {
            "coding": [
                {"system": SCT, "code": snomed},
                {"system": LN, "code": loinc, "display": text},
            ],
            "text": text,
        },
        "valueQuantity": {"value": value, "unit": "millimeter of mercury", "system": UCUM,
                          "code": "mm[Hg]"},
    }


def blood_pressure() -> dict:
    return {
        "resourceType": "Observation",
        "id": "bp-1",
        "meta": {"profile": [SD + "UKCore-Observation-VitalSigns-BloodPressure"]},
        "status": "final",
        "category": copy.deepcopy(VITAL_SIGNS_CATEGORY),
        "code": {"coding": [
            {"system": SCT, "code": "75367002", "display": "Blood pressure"},
            {"system": LN, "code": "85354-9"},
            {"system": CTV3, "code": "246.."},
        ]},
        "subject": dict(PATIENT),
        "effectivePeriod": {"start": "2025-07-01T09:30:00+01:00"},
        "component": [
            _bp_component("163030003", "8480-6", "Systolic blood pressure", 142),
            _bp_component("163031004", "8462-4", "Diastolic blood pressure", 88),
        ],
    }


def systolic_alone() -> dict:
    """A systolic reading recorded on its own: the generic vital-signs profile."""
    return {
        "resourceType": "Observation",
        "id": "sys-1",
        "meta": {"profile": [SD + "UKCore-Observation-VitalSigns"]},
        "status": "final",
        "category": copy.deepcopy(VITAL_SIGNS_CATEGORY),
        "code": {"coding": [
            {"system": CTV3, "code": "2469.", "display": "O/E - Systolic BP reading"},
            {"system": SCT, "code": "163030003"},
            {"system": LN, "code": "8480-6"},
        ]},
        "subject": dict(PATIENT),
        "effectiveDateTime": "2025-07-01",
        "valueQuantity": {"value": 130, "system": UCUM, "code": "mm[Hg]"},
    }


def hba1c() -> dict:
    return {
        "resourceType": "Observation",
        "id": "lab-1",
        "meta": {"profile": [SD + "UKCore-Observation-Lab"]},
        "status": "final",
        "category": [{"coding": [{"system": OBS_CAT, "code": "laboratory"}]}],
        "code": {"coding": [
            {"system": SCT, "code": "999791000000106"},
            {"system": CTV3, "code": "XaPbt"},
            {"system": LN, "code": "59261-8"},
        ]},
        "subject": dict(PATIENT),
        "effectiveDateTime": "2025-01-15T11:05:00+00:00",
        "issued": "2025-01-16T08:00:00.000+00:00",
        "valueQuantity": {"value": 53, "unit": "mmol/mol", "system": UCUM, "code": "mmol/mol",
                          "comparator": ">"},
    }


def condition() -> dict:
    return {
        "resourceType": "Condition",
        "id": "cond-1",
        "meta": {"profile": [SD + "UKCore-Condition"]},
        "clinicalStatus": {"coding": [{"system": ux.CONDITION_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
             "code": "confirmed"},
        ]},
        "category": [{"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-category",
             "code": "problem-list-item"},
        ]}],
        "severity": {"coding": [{"system": SCT, "code": "24484000", "display": "Severe"}]},
        "code": {"coding": [{"system": SCT, "code": "38341003"},
                            {"system": CTV3, "code": "G20.."}]},
        "subject": dict(PATIENT),
        "onsetDateTime": "2019-03-01",
        "recordedDate": "2019-03-01T10:00:00+00:00",
    }


def allergy() -> dict:
    return {
        "resourceType": "AllergyIntolerance",
        "id": "alg-1",
        "meta": {"profile": [SD + "UKCore-AllergyIntolerance"]},
        "clinicalStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
             "code": "active"},
        ]},
        "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
             "code": "confirmed"},
        ]},
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {"coding": [{"system": SCT, "code": "372687004", "display": "Amoxicillin"}]},
        "patient": dict(PATIENT),
        "recordedDate": "2019-12-10T13:00:00+00:00",
        "reaction": [{"manifestation": [{"coding": [{"system": SCT, "code": "247472004"}]}],
                      "severity": "mild"}],
    }


def no_known_allergy() -> dict:
    return {
        "resourceType": "AllergyIntolerance",
        "id": "nka-1",
        "meta": {"profile": [SD + "UKCore-AllergyIntolerance"]},
        "clinicalStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
             "code": "active"},
        ]},
        "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
             "code": "confirmed"},
        ]},
        "code": {"coding": [{"system": SCT, "code": "716186003",
                             "display": "No known allergy"}]},
        "patient": dict(PATIENT),
    }


def medication() -> dict:
    return {
        "resourceType": "Medication",
        "id": "med-1",
        "meta": {"profile": [SD + "UKCore-Medication"]},
        "code": {"coding": [
            {"system": "https://dmd.nhs.uk", "code": "39732311000001104",
             "display": "Amoxicillin 250mg capsules"},
            {"system": "https://fhir.hl7.org.uk/Id/multilex-drug-codes", "code": "1004531"},
        ]},
    }


def medication_request() -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "meta": {"profile": [SD + "UKCore-MedicationRequest"]},
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
             "code": "community"},
        ]}],
        "medicationReference": {"reference": "Medication/med-1"},
        "subject": dict(PATIENT),
        "authoredOn": "2025-02-01T10:00:00+00:00",
        "courseOfTherapyType": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
             "code": "continuous"},
        ]},
        "dosageInstruction": [{"text": "2 capsules 4 times a day"}],
        "dispenseRequest": {"quantity": {"value": 21, "unit": "capsule"}},
        "substitution": {"allowedBoolean": True},
    }


def medication_statement() -> dict:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "meta": {"profile": [SD + "UKCore-MedicationStatement"]},
        "identifier": [{"system": "urn:systmone:id:medication", "value": "ms-1"}],
        "status": "active",
        "medicationCodeableConcept": {"coding": [
            {"system": "https://dmd.nhs.uk", "code": "39732311000001104"},
        ]},
        "subject": dict(PATIENT),
        "effectivePeriod": {"start": "2021-02-15T13:50:00+00:00",
                            "end": "2021-05-15T13:50:00+00:00"},
        "dateAsserted": "2021-02-15",
    }


def immunization() -> dict:
    return {
        "resourceType": "Immunization",
        "id": "imm-1",
        "meta": {"profile": [SD + "UKCore-Immunization"]},
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "https://dmd.nhs.uk", "code": "39114911000001105"}]},
        "patient": dict(PATIENT),
        "occurrenceDateTime": "2024-10-01T10:00:00+01:00",
    }


def patient() -> dict:
    return {
        "resourceType": "Patient",
        "id": "patient-1",
        "meta": {"profile": [SD + "UKCore-Patient"]},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
        "name": [{"family": "SMITH", "given": ["Richard"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
    }


def allergies_nil_known() -> dict:
    return {
        "resourceType": "List",
        "id": "list-1",
        "meta": {"profile": [SD + "UKCore-List"]},
        "status": "current",
        "mode": "snapshot",
        "code": {"coding": [{"system": SCT, "code": "886921000000105"}]},
        "subject": dict(PATIENT),
        "emptyReason": {"coding": [
            {"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-ListEmptyReasonCode",
             "code": "nilknown"},
        ]},
    }


GOOD = [heart_rate, body_weight_from_ctv3, blood_pressure, systolic_alone, hba1c, condition,
        allergy, no_known_allergy, medication, medication_request, medication_statement,
        immunization, patient, allergies_nil_known]


@pytest.mark.parametrize("make", GOOD, ids=lambda f: f.__name__)
def test_good_resources_pass(make: Callable[[], dict]) -> None:
    assert problems(make()) == []


def test_a_whole_record_passes_together() -> None:
    assert bundle_problems([make() for make in GOOD]) == []


# --- Bad resources -------------------------------------------------------------------------


def _set(path: str, value):
    """A change setting (or, with value DELETE, removing) a dotted path; [n] indexes a list."""

    def change(resource: dict) -> None:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        node = resource
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        key = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = copy.deepcopy(value)

    return change


DELETE = object()


def _coding(system: str, code: str) -> dict:
    return {"system": system, "code": code}


BAD = [
    # vital signs: a heart rate
    ("hr LOINC of systolic", heart_rate, _set("code.coding.1.code", "8480-6"), "vital-loinc"),
    ("hr without LOINC", heart_rate, _set("code.coding", [_coding(SCT, "364075005")]),
     "vital-loinc"),
    ("hr two LOINC codings", heart_rate,
     _set("code.coding", [_coding(SCT, "364075005"), _coding(LN, "8867-4"),
                          _coding(LN, "8893-0")]), "vital-loinc"),
    ("hr without category", heart_rate, _set("category", DELETE), "vital-category"),
    ("hr category laboratory", heart_rate,
     _set("category", [{"coding": [_coding(OBS_CAT, "laboratory")]}]), "vital-category"),
    ("hr two categories", heart_rate,
     _set("category", [*VITAL_SIGNS_CATEGORY, {"coding": [_coding(OBS_CAT, "exam")]}]),
     "vital-category"),
    ("hr status amended", heart_rate, _set("status", "amended"), "vital-status"),
    ("hr status bogus", heart_rate, _set("status", "bogus"), "binding"),
    ("hr comparator =>", heart_rate, _set("valueQuantity.comparator", "=>"), "quantity"),
    ("hr unit bpm", heart_rate, _set("valueQuantity.code", "bpm"), "ucum"),
    ("hr unit {beats}/min", heart_rate, _set("valueQuantity.code", "{beats}/min"), "vital-ucum"),
    ("hr unit text", heart_rate, _set("valueQuantity.unit", "beats per minute"), "vital-unit"),
    ("hr UCUM without code", heart_rate, _set("valueQuantity.code", DELETE), "ucum"),
    ("hr code without system", heart_rate, _set("valueQuantity.system", DELETE), "quantity"),
    ("hr value as string", heart_rate, _set("valueQuantity.value", "72"), "decimal"),
    ("hr value NaN", heart_rate, _set("valueQuantity.value", float("nan")), "decimal"),
    ("hr value boolean", heart_rate, _set("valueQuantity.value", True), "decimal"),
    ("hr no value", heart_rate, _set("valueQuantity", DELETE), "vital-value"),
    ("hr value and dataAbsentReason", heart_rate,
     _set("dataAbsentReason", {"coding": [_coding(
         "http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown")]}), "obs-6"),
    ("hr two value[x]", heart_rate, _set("valueString", "72"), "choice"),
    ("hr CTV3 only", heart_rate,
     _set("code.coding", [_coding(CTV3, "242.."), _coding(LN, "8867-4")]), "vital-snomed"),
    ("hr two SNOMED codings", heart_rate,
     _set("code.coding", [_coding(SCT, "364075005"), _coding(SCT, "78564009"),
                          _coding(LN, "8867-4")]), "vital-snomed"),
    ("hr weight profile", heart_rate,
     _set("meta.profile", [SD + "UKCore-Observation-VitalSigns-BodyWeight"]), "vital-profile"),
    ("hr no profile", heart_rate, _set("meta", DELETE), "profile"),
    ("hr Patient profile", heart_rate, _set("meta.profile", [SD + "UKCore-Patient"]), "profile"),
    ("hr no subject", heart_rate, _set("subject", DELETE), "required"),
    ("hr no effective", heart_rate, _set("effectiveDateTime", DELETE), "required"),
    ("hr no status", heart_rate, _set("status", DELETE), "required"),
    ("hr time without offset", heart_rate, _set("effectiveDateTime", "2025-07-01T09:30:00"),
     "date"),
    ("hr time without seconds", heart_rate, _set("effectiveDateTime", "2025-07-01T09:30+01:00"),
     "date"),
    ("hr 30 February", heart_rate, _set("effectiveDateTime", "2025-02-30"), "date"),
    ("hr month 13", heart_rate, _set("effectiveDateTime", "2020-13-45"), "date"),
    ("hr UK date", heart_rate, _set("effectiveDateTime", "01/07/2025"), "date"),
    ("hr reference no type", heart_rate, _set("subject.reference", "patient-1"), "reference"),
    ("hr reference empty id", heart_rate, _set("subject.reference", "Patient/"), "reference"),
    ("hr reference unknown type", heart_rate, _set("subject.reference", "Patients/patient-1"),
     "reference"),
    ("hr reference urn", heart_rate,
     _set("subject.reference", "urn:uuid:ab87a3f8-1d37-44a9-804e-5e962598a6e4"), "reference"),
    ("hr subject Practitioner", heart_rate, _set("subject.reference", "Practitioner/gp-1"),
     "reference-target"),
    ("coding without system", heart_rate, _set("code.coding.0.system", DELETE), "coding"),
    ("coding without code", heart_rate, _set("code.coding.0.code", DELETE), "coding"),
    ("coding system not a URI", heart_rate, _set("code.coding.0.system", "SNOMED"), "coding"),
    ("CTV3 under another system", heart_rate,
     _set("code.coding", [_coding(SCT, "364075005"), _coding(LN, "8867-4"),
                          _coding("http://read.info/readv3", "242..")]), "ctv3-system"),
    ("CTV3 code as SNOMED", heart_rate, _set("code.coding.0.code", "242.."), "snomed-code"),
    ("SNOMED check digit", heart_rate, _set("code.coding.0.code", "364075006"), "snomed-code"),
    ("SNOMED description id", heart_rate, _set("code.coding.0.code", "253669010"), "snomed-code"),
    ("LOINC check digit", heart_rate, _set("code.coding.1.code", "8867-5"), "loinc-code"),
    ("CTV3 too long", body_weight_from_ctv3, _set("code.coding.2.code", "22A..00"), "ctv3-code"),
    ("empty string", heart_rate, _set("code.text", ""), "empty"),
    ("empty list", heart_rate, _set("performer", []), "empty"),
    ("bad id", heart_rate, _set("id", "hr_1"), "resource"),
    ("unknown observation-category", heart_rate,
     _set("category", [{"coding": [_coding(OBS_CAT, "vital-sign")]}]), "code-not-in-system"),
    # vital signs: weight recorded as CTV3 + SNOMED
    ("weight in grams", body_weight_from_ctv3, _set("valueQuantity.code", "g"), "vital-ucum"),
    ("weight LOINC of height", body_weight_from_ctv3, _set("code.coding.1.code", "8302-2"),
     "vital-loinc"),
    ("weight category exam", body_weight_from_ctv3,
     _set("category", [{"coding": [_coding(OBS_CAT, "exam")]}]), "vital-category"),
    ("weight SNOMED dropped", body_weight_from_ctv3, _set("code.coding.0", _coding(LN, "3141-9")),
     "vital-snomed"),
    # vital signs: blood pressure
    ("bp with a value", blood_pressure,
     _set("valueQuantity", {"value": 142, "system": UCUM, "code": "mm[Hg]"}), "bp-value"),
    ("bp without systolic", blood_pressure, _set("component", [
        _bp_component("163031004", "8462-4", "Diastolic blood pressure", 88)]), "bp-component"),
    ("bp three components", blood_pressure, _set("component", [
        _bp_component("163030003", "8480-6", "Systolic blood pressure", 142),
        _bp_component("163031004", "8462-4", "Diastolic blood pressure", 88),
        _bp_component("163031004", "8462-4", "Diastolic blood pressure", 86)]), "bp-component"),
    ("bp component text", blood_pressure, _set("component.0.code.text", "Systolic BP"),
     "bp-component"),
    ("bp systolic LOINC of diastolic", blood_pressure,
     _set("component.0.code.coding.1.code", "8462-4"), "bp-component-loinc"),
    ("bp systolic LOINC display", blood_pressure,
     _set("component.0.code.coding.1.display", "Systolic BP"), "bp-component-loinc"),
    ("bp systolic with diastolic SNOMED", blood_pressure,
     _set("component.0.code.coding.0.code", "163031004"), "bp-component-snomed"),
    ("bp component without SNOMED", blood_pressure,
     _set("component.1.code.coding", [_coding(LN, "8462-4")]), "bp-component-snomed"),
    ("bp component mmHg", blood_pressure, _set("component.0.valueQuantity.code", "mmHg"), "ucum"),
    ("bp component unit text", blood_pressure,
     _set("component.1.valueQuantity.unit", "mmHg"), "vital-unit"),
    ("bp component no value", blood_pressure, _set("component.1.valueQuantity", DELETE),
     "bp-component-unit"),
    ("bp specimen", blood_pressure, _set("specimen", {"reference": "Specimen/s1"}),
     "bp-specimen"),
    ("bp period end before zone", blood_pressure,
     _set("effectivePeriod.start", "2025-07-01T09:30:00"), "date"),
    # a systolic reading on its own
    ("systolic with heart-rate profile", systolic_alone,
     _set("meta.profile", [SD + "UKCore-Observation-VitalSigns-HeartRate"]), "vital-profile"),
    ("systolic LOINC of BP panel", systolic_alone, _set("code.coding.2.code", "85354-9"),
     "vital-loinc"),
    ("systolic in kPa", systolic_alone, _set("valueQuantity.code", "kPa"), "vital-ucum"),
    # laboratory
    ("hba1c vital-signs category", hba1c, _set("category", copy.deepcopy(VITAL_SIGNS_CATEGORY)),
     "lab-category"),
    ("hba1c no category", hba1c, _set("category", DELETE), "lab-category"),
    ("hba1c generic profile", hba1c, _set("meta.profile", [SD + "UKCore-Observation"]),
     "lab-profile"),
    ("hba1c IFCC in %", hba1c, _set("valueQuantity.code", "%"), "lab-ucum"),
    ("hba1c IFCC with the DCCT LOINC", hba1c, _set("code.coding.2.code", "4548-4"), "lab-loinc"),
    ("hba1c subject Group", hba1c, _set("subject.reference", "Group/g1"), "reference-target"),
    ("hba1c issued without time", hba1c, _set("issued", "2025-01-16"), "date"),
    ("hba1c HbA1c DCCT and IFCC", hba1c, _set("code.coding.1", _coding(SCT, "1019431000000105")),
     "code-conflict"),
    # Condition
    ("condition clinicalStatus current", condition, _set("clinicalStatus.coding.0.code", "current"),
     "binding"),
    ("condition clinicalStatus other system", condition,
     _set("clinicalStatus.coding.0.system", "http://hl7.org/fhir/condition-clinical"), "binding"),
    ("condition verification 'verified'", condition,
     _set("verificationStatus.coding.0.code", "verified"), "code-not-in-system"),
    ("condition category 'problem'", condition, _set("category.0.coding.0.code", "problem"),
     "code-not-in-system"),
    ("condition severity Major", condition,
     _set("severity.coding.0", {"system": SCT, "code": "255603008"}), "condition-severity"),
    ("condition without subject", condition, _set("subject", DELETE), "required"),
    ("condition entered-in-error keeps clinicalStatus", condition,
     _set("verificationStatus.coding.0.code", "entered-in-error"), "con-5"),
    ("condition problem without clinicalStatus", condition, _set("clinicalStatus", DELETE),
     "con-3"),
    ("condition abated but active", condition, _set("abatementDateTime", "2020-01-01"), "con-4"),
    # AllergyIntolerance
    ("allergy without code", allergy, _set("code", DELETE), "required"),
    ("allergy without patient", allergy, _set("patient", DELETE), "required"),
    ("allergy type 'allergic'", allergy, _set("type", "allergic"), "binding"),
    ("allergy category drug", allergy, _set("category", ["drug"]), "binding"),
    ("allergy criticality moderate", allergy, _set("criticality", "moderate"), "binding"),
    ("allergy reaction severity", allergy, _set("reaction.0.severity", "severe!"), "binding"),
    ("allergy without clinicalStatus", allergy, _set("clinicalStatus", DELETE), "ait-1"),
    ("allergy entered-in-error keeps clinicalStatus", allergy,
     _set("verificationStatus.coding.0.code", "entered-in-error"), "ait-2"),
    ("allergy verification 'verified'", allergy,
     _set("verificationStatus.coding.0.code", "verified"), "binding"),
    ("no known allergy refuted", no_known_allergy,
     _set("verificationStatus.coding.0.code", "refuted"), "nka-verification"),
    ("no known allergy unconfirmed", no_known_allergy,
     _set("verificationStatus.coding.0.code", "unconfirmed"), "nka-verification"),
    ("no known allergy with a reaction", no_known_allergy,
     _set("reaction", [{"manifestation": [{"coding": [_coding(SCT, "247472004")]}]}]),
     "nka-reaction"),
    ("no known allergy with criticality", no_known_allergy, _set("criticality", "low"),
     "nka-criticality"),
    ("no known allergy in text only", no_known_allergy,
     _set("code", {"text": "No known allergies"}), "nka-text"),
    ("'None known' ingredient as the allergen", allergy,
     _set("code", {"coding": [{"system": "https://fhir.hl7.org.uk/Id/multilex-drug-codes",
                               "code": "1", "display": "None known"}]}), "nka-text"),
    # Medication*
    ("medication without code", medication, _set("code", DELETE), "required"),
    ("dm+d check digit", medication, _set("code.coding.0.code", "39732311000001105"), "dmd-code"),
    ("multilex as a name", medication, _set("code.coding.1.system", "Multilex"), "coding"),
    ("medication code from EMIS", medication,
     _set("code.coding.1.system", "https://fhir.hl7.org.uk/Id/emis-drug-codes"),
     "medication-system"),
    ("medication status", medication, _set("status", "current"), "binding"),
    ("request intent repeat", medication_request, _set("intent", "repeat"), "binding"),
    ("request status repeat", medication_request, _set("status", "repeat"), "binding"),
    ("request without substitution", medication_request, _set("substitution", DELETE),
     "required"),
    ("request substitution without allowed[x]", medication_request,
     _set("substitution", {"reason": {"text": "none"}}), "required"),
    ("request without intent", medication_request, _set("intent", DELETE), "required"),
    ("request without medication", medication_request, _set("medicationReference", DELETE),
     "required"),
    ("request medication is an Observation", medication_request,
     _set("medicationReference.reference", "Observation/hr-1"), "reference-target"),
    ("request category primarycare (inactive)", medication_request,
     _set("category.0.coding.0", {"system": ux.UKCORE_MEDREQ_CATEGORY, "code": "primarycare"}),
     "inactive-code"),
    ("request course repeat", medication_request, _set("courseOfTherapyType.coding.0.code",
                                                       "repeat"), "code-not-in-system"),
    ("request quantity as text", medication_request,
     _set("dispenseRequest.quantity.value", "21"), "decimal"),
    ("statement status taking", medication_statement, _set("status", "taking"), "binding"),
    ("statement identifier without system", medication_statement,
     _set("identifier.0.system", DELETE), "identifier"),
    ("statement two medication[x]", medication_statement,
     _set("medicationReference", {"reference": "Medication/med-1"}), "choice"),
    ("statement period end no offset", medication_statement,
     _set("effectivePeriod.end", "2021-05-15T13:50:00"), "date"),
    # Immunization
    ("immunization status given", immunization, _set("status", "given"), "binding"),
    ("immunization not-done without reason", immunization, _set("status", "not-done"),
     "ukcore-imm-001"),
    ("immunization without occurrence", immunization, _set("occurrenceDateTime", DELETE),
     "required"),
    # Patient
    ("nhs number check digit", patient, _set("identifier.0.value", "9000000008"), "nhs-number"),
    ("nhs number with spaces", patient, _set("identifier.0.value", "900 000 0009"), "nhs-number"),
    ("nhs number system", patient, _set("identifier.0.system", "http://fhir.nhs.net/Id/nhs-number"),
     "nhs-number"),
    ("gender M", patient, _set("gender", "M"), "binding"),
    ("birthDate with a time", patient, _set("birthDate", "1974-12-25T00:00:00Z"), "date"),
    ("two ethnic categories", patient, _set("extension", [
        {"url": SD + "Extension-UKCore-EthnicCategory",
         "valueCodeableConcept": {"coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/"
                                              "UKCore-EthnicCategoryEngland", "code": "A"}]}}] * 2),
     "ethnic-category"),
    # List
    ("list emptyReason with entries", allergies_nil_known,
     _set("entry", [{"item": {"reference": "AllergyIntolerance/alg-1"}}]), "lst-1"),
    ("list emptyReason nil-known", allergies_nil_known, _set("emptyReason.coding.0.code",
                                                            "nil-known"), "code-not-in-system"),
    ("list mode", allergies_nil_known, _set("mode", "summary"), "binding"),
]


@pytest.mark.parametrize(("make", "change", "tag"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_resources_are_caught(make, change, tag: str) -> None:
    resource = make()
    change(resource)
    found = problems(resource)
    assert any(p.startswith(f"[{tag}]") for p in found), found


# --- Sets of resources ---------------------------------------------------------------------


def test_duplicate_ids() -> None:
    found = bundle_problems([heart_rate(), heart_rate(), patient()])
    assert any(p.startswith("[duplicate-id] Observation/hr-1") for p in found), found


def test_reference_into_the_set_must_resolve() -> None:
    request = medication_request()
    request["medicationReference"]["reference"] = "Medication/med-9"
    found = bundle_problems([request, medication(), patient()])
    assert any(p.startswith("[dangling-reference] MedicationRequest/mr-1") for p in found), found


def test_patient_outside_the_set_is_allowed_but_only_one_patient() -> None:
    assert bundle_problems([heart_rate(), hba1c()]) == []
    other = hba1c()
    other["subject"]["reference"] = "Patient/patient-2"
    found = bundle_problems([heart_rate(), other])
    assert any(p.startswith("[multiple-patients]") for p in found), found
    found = bundle_problems([heart_rate(), other, patient()])
    assert any(p.startswith("[dangling-reference] Observation/lab-1.subject") for p in found)


def test_identifiers_are_unique() -> None:
    first, second = body_weight_from_ctv3(), body_weight_from_ctv3()
    second["id"] = "wt-2"
    found = bundle_problems([first, second])
    assert any(p.startswith("[duplicate-identifier] urn:systmone:id:event-item|e1-0")
               for p in found), found


def test_all_problems_names_the_resource() -> None:
    bad = heart_rate()
    bad["status"] = "amended"
    found = rules.all_problems([bad, bad])
    assert found[0].startswith("Observation/hr-1 [vital-status]")
    assert found[-1].startswith("[duplicate-id]")


# --- The tables themselves -----------------------------------------------------------------


@pytest.mark.parametrize(("system", "code", "category", "loinc", "ucum"), [
    (SCT, "364075005", "vital-signs", "8867-4", "/min"),
    (SCT, "78564009", "vital-signs", "8867-4", "/min"),
    (SCT, "27113001", "vital-signs", "29463-7", "kg"),
    (SCT, "60621009", "vital-signs", "39156-5", "kg/m2"),
    (SCT, "86290005", "vital-signs", "9279-1", "/min"),
    (SCT, "431314004", "vital-signs", "2708-6", "%"),
    (SCT, "276885007", "vital-signs", "8310-5", "Cel"),
    (SCT, "363812007", "vital-signs", "9843-4", "cm"),
    (SCT, "271649006", "vital-signs", "8480-6", "mm[Hg]"),
    (SCT, "1091811000000102", "vital-signs", "8462-4", "mm[Hg]"),
    (CTV3, "2469.", "vital-signs", "8480-6", "mm[Hg]"),
    (CTV3, "246A.", "vital-signs", "8462-4", "mm[Hg]"),
    (CTV3, "22A..", "vital-signs", "29463-7", "kg"),
    (CTV3, "229..", "vital-signs", "8302-2", "m"),
    (CTV3, "22K..", "vital-signs", "39156-5", "kg/m2"),
    (CTV3, "242..", "vital-signs", "8867-4", "/min"),
    (CTV3, "2E3..", "vital-signs", "8310-5", "Cel"),
    (SCT, "999791000000106", "laboratory", "59261-8", "mmol/mol"),
    (SCT, "1019431000000105", "laboratory", "4548-4", "%"),
    (CTV3, "XaPbt", "laboratory", "59261-8", "mmol/mol"),
    (SCT, "1005671000000105", "laboratory", "14647-2", "mmol/L"),
    (SCT, "1011481000000105", "laboratory", "62238-1", "mL/min/{1.73_m2}"),
    (SCT, "1000731000000107", "laboratory", "14682-9", "umol/L"),
])
def test_expected_for(system, code, category, loinc, ucum) -> None:
    exp = ux.expected_for(system, code)
    assert exp is not None
    assert (exp.category, loinc in exp.loinc, ucum in exp.ucum) == (category, True, True)
    if category == "laboratory":
        assert exp.profile == SD + "UKCore-Observation-Lab"
    else:
        assert exp.profile.startswith(SD + "UKCore-Observation-VitalSigns")


def test_blood_pressure_expectation() -> None:
    exp = ux.expected_for(SCT, "75367002")
    assert exp.loinc == {"85354-9"} and exp.ucum == set()
    assert exp.profile == SD + "UKCore-Observation-VitalSigns-BloodPressure"
    assert {c.loinc for c in ux.BP_COMPONENTS.values()} == {"8480-6", "8462-4"}
    assert {c.ucum for c in ux.BP_COMPONENTS.values()} == {"mm[Hg]"}


def test_unknown_codes_have_no_expectation() -> None:
    assert ux.expected_for(SCT, "38341003") is None  # hypertension: a condition
    assert ux.expected_for(CTV3, "XaZZZ") is None
    assert ux.expected_for(SCT, "446974000") is None  # BMI centile: not kg/m2


def test_tpp_comparators() -> None:
    assert ux.TPP_COMPARATORS == {"3": None, "4": None, "5": ">=", "6": ">", "7": "<", "8": "<="}
    assert set(ux.TPP_COMPARATORS.values()) - {None} == ux.QUANTITY_COMPARATORS


def _all_snomed() -> set[str]:
    codes = set().union(*(vs.snomed for vs in ux.VITAL_SIGNS.values()))
    codes |= set().union(*(lab.snomed for lab in ux.LAB_TESTS.values()))
    return codes | ux.NO_KNOWN_ALLERGY_CODES | ux.TRANSFER_DEGRADED_ALLERGY_CODES | \
        ux.CONDITION_SEVERITY_SNOMED | ux.BP_VALUESET_NOT_KEYED | ux.BMI_CENTILES_NOT_KEYED | \
        {ux.ALLERGIES_LIST_CODE}


def test_tables_hold_well_formed_codes() -> None:
    """A slip of the keyboard in a hand-written table fails a check digit."""
    assert [c for c in sorted(_all_snomed()) if rules.sctid_problem(c)] == []
    loincs = {vs.loinc for vs in ux.VITAL_SIGNS.values() if vs.loinc}
    loincs |= set().union(*(lab.loinc for lab in ux.LAB_TESTS.values()))
    assert [c for c in sorted(loincs) if not rules.loinc_ok(c)] == []
    ctv3 = set(ux.CTV3_VITAL_SIGNS) | set().union(*(lab.ctv3 for lab in ux.LAB_TESTS.values()))
    assert [c for c in sorted(ctv3) if not re.fullmatch(r"(?=.{5}$)[A-Za-z0-9]+\.*", c)] == []
    assert set(ux.CTV3_VITAL_SIGNS.values()) <= set(ux.VITAL_SIGNS)
    keyed = set().union(*(vs.snomed for vs in ux.VITAL_SIGNS.values()))
    assert not keyed & (ux.BP_VALUESET_NOT_KEYED | ux.BMI_CENTILES_NOT_KEYED)


def test_decimal_values_may_be_held_as_decimal() -> None:
    resource = hba1c()
    resource["valueQuantity"]["value"] = Decimal("53.0")
    assert problems(resource) == []


def test_check_digit_helpers() -> None:
    assert rules.verhoeff_ok("2363") and not rules.verhoeff_ok("2364")
    assert rules.sctid_problem("138875005") is None  # SNOMED CT Concept (the root)
    assert rules.loinc_ok("8480-6") and not rules.loinc_ok("8480-5")
    assert rules.nhs_number_ok("9000000009") and not rules.nhs_number_ok("9000000001")
    assert rules.valid_date("2024-02-29", "date") is None
    assert rules.valid_date("2023-02-29", "date")
    assert rules.valid_date("2025-03-30T01:30:00.123+01:00", "dateTime") is None
    assert rules.valid_date("2025", "dateTime") is None
    assert rules.valid_date("2025-03-30T01:30:00", "instant")


# --- The UK Core examples --------------------------------------------------------------------

# What the rules find in the published examples, and why that is right.
EXAMPLE_DEVIATIONS = {
    # Bundle-internal urn:uuid references (a REST response needs Type/id).
    "UKCore-Observation-Lab-Albumin-Example": {"reference"},
    # valueQuantity with system UCUM and unit "10*12/L" / "10*9/L" but no code.
    "UKCore-Observation-Lab-RedCellCount-Example": {"ucum"},
    "UKCore-Observation-Lab-WhiteCellCount-Example": {"ucum"},
}
EXAMPLE_TYPES = ("AllergyIntolerance", "Condition", "List", "Medication", "MedicationRequest",
                 "MedicationStatement", "Observation", "Patient")


def _examples() -> list[Path]:
    folder = UKCORE_REFERENCE / "examples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("UKCore-*-Example.xml")
                  if p.name.split("-")[1] in EXAMPLE_TYPES)


@pytest.mark.skipif(not _examples(), reason=f"UK Core reference not found at {UKCORE_REFERENCE} "
                    "(it lives in ../shared beside a development checkout)")
@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_uk_core_examples_pass_the_rules(path: Path) -> None:
    """The rules agree with UK Core's own examples.

    The examples carry no meta.profile (except one); the profile each illustrates is added
    from its file name (UKCore-Observation-VitalSigns-BMI-Example -> ...-VitalSigns-BMI).
    """
    from fhir.resources.R4B import get_fhir_model_class

    resource_type = path.name.split("-")[1]
    model = get_fhir_model_class(resource_type).model_validate_xml(path.read_bytes())
    resource = model.model_dump(mode="json", exclude_none=True)
    # The respiration-rate example's file says "RespiratoryRate"; its profile "RespirationRate".
    name = path.stem.removesuffix("-Example").replace("RespiratoryRate", "RespirationRate")
    parts = name.split("-")
    if resource_type == "Observation" and parts[2] == "VitalSigns":
        profile = "-".join(parts[:4])
    elif resource_type == "Observation" and parts[2] == "Lab":
        profile = "UKCore-Observation-Lab"
    else:
        profile = f"UKCore-{resource_type}"
    resource.setdefault("meta", {})["profile"] = [SD + profile]
    found = {p[1:p.index("]")] for p in problems(resource)}
    assert found == EXAMPLE_DEVIATIONS.get(path.stem, set()), problems(resource)
