"""The Observation mapping, against expectations written by hand from UK Core, LOINC and UCUM.

Nothing here is imported from mappings/: the codes, units and categories below are
copied from UK Core's profiles and value sets (reference/ukcore), so a wrong table in
the mapper fails here. The golden files (test_golden.py) pin every detail.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from facade.mapping.registry import map_resources

SAMPLES = Path(__file__).resolve().parent / "samples"
PATIENT = {"reference": "Patient/patient-1"}


def observations(sample: str) -> dict[str, dict]:
    record = etree.parse(str(SAMPLES / f"{sample}.xml")).getroot()
    return {r["id"]: r for r in map_resources("observation", record, patient=PATIENT)}


def record(items: str, uid: str = "e000000000000001") -> etree._Element:
    return etree.fromstring(
        f'<Response><Clinical><Event DateTime="2025-03-03T10:00:00" DoneBy="X " '
        f'EventUID="{uid}">{items}</Event></Clinical></Response>')


def reading(scheme: str, code: str, value: str, units: str = "") -> str:
    units = f"<Units>{units}</Units>" if units else ""
    return (f'<ClinicalCode><Code Scheme="{scheme}" Code="{code}" Term="t"/>'
            f"<Value>{value}</Value>{units}</ClinicalCode>")


def codings(resource: dict, system: str) -> list[str]:
    return [c["code"] for c in resource["code"]["coding"] if c["system"] == system]


LOINC, SNOMED, CTV3 = "http://loinc.org", "http://snomed.info/sct", "http://read.info/ctv3"
VITALS = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns"

# UK Core vital-signs profiles: (scheme, code recorded, units) → (profile, LOINC, UCUM code).
# Codes from the profiles' value sets (UKCore-HeartRate, -RespirationRate, ...) in SNOMED
# CT, and the CTV3 codes GP systems record for the same readings.
VITAL_SIGNS = [
    ("Snomed", "364075005", "beats/min", "HeartRate", "8867-4", "/min"),  # Heart rate
    ("Snomed", "78564009", "beats/min", "HeartRate", "8867-4", "/min"),  # Pulse rate
    ("CTV3", "242..", "beats/min", "HeartRate", "8867-4", "/min"),
    ("Snomed", "86290005", "breaths/min", "RespirationRate", "9279-1", "/min"),
    ("Snomed", "103228002", "%", "OxygenSaturation", "2708-6", "%"),
    ("Snomed", "431314004", "%", "OxygenSaturation", "2708-6", "%"),
    ("Snomed", "276885007", "degrees C", "BodyTemperature", "8310-5", "Cel"),
    ("Snomed", "27113001", "kg", "BodyWeight", "29463-7", "kg"),
    ("CTV3", "22A..", "kg", "BodyWeight", "29463-7", "kg"),
    ("Snomed", "50373000", "m", "BodyHeight", "8302-2", "m"),
    ("CTV3", "229..", "m", "BodyHeight", "8302-2", "m"),
    ("Snomed", "60621009", "kg/m2", "BMI", "39156-5", "kg/m2"),
    ("CTV3", "22K..", "kg/m2", "BMI", "39156-5", "kg/m2"),
    ("Snomed", "363812007", "cm", "HeadCircumference", "9843-4", "cm"),
]


@pytest.mark.parametrize(("scheme", "code", "units", "profile", "loinc", "ucum"), VITAL_SIGNS)
def test_every_code_uk_core_names_is_a_vital_sign_in_either_scheme(scheme, code, units,
                                                                   profile, loinc, ucum):
    [found] = map_resources("observation", record(reading(scheme, code, "70", units)),
                            patient=PATIENT)
    assert found["meta"]["profile"] == [f"{VITALS}-{profile}"]
    assert found["category"] == [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "vital-signs", "display": "Vital Signs"}]}]
    assert codings(found, LOINC) == [loinc]
    assert codings(found, SNOMED), "UK Core's vital signs need a SNOMED CT coding"
    assert found["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert found["valueQuantity"]["code"] == ucum


# Laboratory results: SNOMED CT code → LOINC. HbA1c comes DCCT-aligned (%, 4548-4) or
# IFCC-standardised (mmol/mol, 59261-8): QOF clusters DCCTHBA1C_COD and IFCCHBAM_COD.
LABS = [("1019431000000105", "4548-4"), ("999791000000106", "59261-8"),
        ("1011481000000105", "62238-1"), ("1000731000000107", "14682-9"),
        ("994351000000103", "14647-2"), ("1000661000000107", "2951-2"),
        ("1000651000000109", "2823-3"), ("1022431000000105", "718-7")]


@pytest.mark.parametrize(("code", "loinc"), LABS)
def test_laboratory_results_carry_the_laboratory_category(code, loinc):
    [found] = map_resources("observation", record(reading("Snomed", code, "5.0")),
                            patient=PATIENT)
    assert [c["coding"][0]["code"] for c in found["category"]] == ["laboratory"]
    assert found["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-Lab"]
    assert codings(found, LOINC) == [loinc]


def test_every_blood_pressure_pair_of_an_event_is_its_own_observation():
    found = observations("observations-vitals-and-labs")
    pairs = [r for r in found.values() if "component" in r]
    assert len(pairs) == 2
    for bp in pairs:
        assert codings(bp, SNOMED) == ["75367002"] and codings(bp, LOINC) == ["85354-9"]
        assert [codings(c, LOINC) for c in bp["component"]] == [["8480-6"], ["8462-4"]]
        assert [c["code"]["text"] for c in bp["component"]] == [
            "Systolic blood pressure", "Diastolic blood pressure"]
        assert {c["valueQuantity"]["code"] for c in bp["component"]} == {"mm[Hg]"}
        assert {c["valueQuantity"]["unit"] for c in bp["component"]} == {
            "millimeter of mercury"}
    first, second = pairs
    assert [c["valueQuantity"]["value"] for c in first["component"]] == [142, 88]
    assert [c["valueQuantity"]["value"] for c in second["component"]] == [136, 84]
    # The header code before the first pair is named by it, so it counts as served.
    assert [i["value"] for i in first["identifier"]] == [
        "b95ee04200000000-ClinicalCode-0", "b95ee04200000000-ClinicalCode-1",
        "b95ee04200000000-ClinicalCode-2"]
    assert second["note"] == [{"text": "Repeat after 5 minutes"}]
    # A diastolic reading with no systolic before it stands alone, as a vital sign.
    alone = found["b95ee04200000000-ClinicalCode-7"]
    assert codings(alone, LOINC) == ["8462-4"] and "component" not in alone


def test_decimals_keep_their_written_precision():
    found = observations("observations-vitals-and-labs")
    assert found["b95ee04200000000-ClinicalCode-5"]["valueQuantity"]["value"] == Decimal("82.40")
    assert str(found["c0ffee0000000001-ClinicalCode-2"]["valueQuantity"]["value"]) == "1.00"
    whole = found["b95ee04200000000-ClinicalCode-6"]
    assert whole["valueQuantity"]["value"] == 72  # a whole number


def test_comparators_approximate_values_and_unknown_codes():
    found = observations("observations-vitals-and-labs")
    assert found["c0ffee0000000001-ClinicalCode-1"]["valueQuantity"]["comparator"] == ">"
    unknown = found["c0ffee0000000001-ClinicalCode-3"]
    assert unknown["note"] == [{"text": "Value recorded as approximate"}]
    assert "category" not in unknown and "code" not in unknown["valueQuantity"]
    assert unknown["valueQuantity"]["unit"] == "units"  # a unit we cannot name is kept
    assert unknown["code"]["coding"] == [{"system": CTV3, "code": "XaZZZ",
                                          "display": "Some reading nobody knows"}]


@pytest.mark.parametrize(("comparator", "fhir"), [("5", ">="), ("6", ">"), ("7", "<"),
                                                   ("8", "<=")])
def test_tpp_comparators(comparator, fhir):
    items = ('<ClinicalCode><Code Scheme="CTV3" Code="XaZZZ" Term="t"/><Value>5</Value>'
             f"<Comparator>{comparator}</Comparator></ClinicalCode>")
    [found] = map_resources("observation", record(items), patient=PATIENT)
    assert found["valueQuantity"]["comparator"] == fhir


def test_coded_entries_without_a_value_are_observations_in_their_own_scheme():
    found = observations("observations-coded-entries")
    raised = found["b95ee04200000001-ClinicalCode-3"]
    assert raised["code"] == {"coding": [{"system": CTV3, "code": "XM02V",
                                          "display": "Raised blood pressure reading"}],
                              "text": "Raised blood pressure reading"}
    assert "valueQuantity" not in raised and "category" not in raised
    assert raised["effectiveDateTime"] == "2024-03-26T09:06:50+00:00"  # GMT in March
    assert raised["performer"] == [{"display": "Drew Littler"}]
    telephone = found["b95ee04200000002-ClinicalCode-2"]
    assert telephone["note"] == [{"text": "Telephone follow-up arranged"}]
    assert codings(found["b95ee04200000002-ClinicalCode-3"], SNOMED) == ["185317003"]


def test_problems_their_plain_repeats_and_no_known_allergy_are_not_observations():
    found = observations("observations-coded-entries")
    assert "b95ee04200000001-ClinicalCode-0" not in found  # the plain code the header repeats
    assert "b95ee04200000001-ClinicalCode-1" not in found
    assert "b95ee04200000001-ClinicalCode-2" not in found
    assert "b95ee04200000002-ClinicalCode-0" not in found  # no known drug allergy


def test_smoking_status_is_a_social_history_observation_valued_by_the_code():
    smoking = observations("observations-coded-entries")["b95ee04200000001-ClinicalCode-4"]
    assert smoking["category"][0]["coding"][0]["code"] == "social-history"
    assert codings(smoking, LOINC) == ["72166-2"]
    assert smoking["valueCodeableConcept"]["coding"] == [
        {"system": SNOMED, "code": "8517006", "display": "Ex-smoker"},
        {"system": CTV3, "code": "Ub1na", "display": "Ex-smoker"}]


def test_a_ctv3_code_gains_snomed_and_a_snomed_code_gains_ctv3_where_known():
    [weight] = map_resources("observation", record(reading("CTV3", "22A..", "80", "kg")),
                             patient=PATIENT)
    assert codings(weight, SNOMED) == ["27113001"] and codings(weight, CTV3) == ["22A.."]
    [egfr] = map_resources("observation", record(reading("Snomed", "1011481000000105", "60")),
                           patient=PATIENT)
    assert [c["system"] for c in egfr["code"]["coding"]] == [SNOMED, LOINC, CTV3]
