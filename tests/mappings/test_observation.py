"""The Observation mapping: golden files per sample, and rules over generated records.

Regenerate goldens after a deliberate change: ``UPDATE_GOLDEN=1 scripts/test tests/mappings``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import orjson
import pytest
from lxml import etree

from facade.mapping.registry import map_resources
from facade.protocol.envelope import OutputScheme
from mappings.observation import SMOKING_CODES
from simulator.practice.generator import GeneratedPractice
from simulator.practice.render import translate
from tests.mappings.rules import leaves

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "Observation"
PATIENT = {"reference": "Patient/patient-1"}


def event(attributes: str, items: str) -> str:
    return (f'<Event DateTime="{attributes}" UserName="jsmith" DoneBy="SMITH, Jo (General '
            f'Medical Practitioner) " DoneAt="Surgery" EventUID="b95ee04200000000">{items}</Event>')


def code(scheme: str, value: str, term: str) -> str:
    return f'<Code Scheme="{scheme}" Code="{value}" Term="{term}"/>'


SAMPLES = {
    "ctv3-vitals": event("2025-07-01T09:30:00",
                         f"<ClinicalCode>{code('CTV3', '2469.', 'O/E - Systolic BP reading')}"
                         "<Value>142</Value><Units>mmHg</Units></ClinicalCode>"
                         f"<ClinicalCode>{code('CTV3', '246A.', 'O/E - Diastolic BP reading')}"
                         "<Value>88</Value><Units>mmHg</Units></ClinicalCode>"
                         f"<ClinicalCode>{code('CTV3', '22A..', 'O/E - weight')}"
                         "<Value>82.4</Value><Units>kg</Units></ClinicalCode>"),
    "snomed-labs": event("2025-01-15T11:05:00",
                         f"<ClinicalCode>{code('Snomed', '1011481000000105', 'eGFR')}"
                         "<Value>90</Value><Units>mL/min/1.73m2</Units><Comparator>6</Comparator>"
                         "</ClinicalCode>"
                         f"<ClinicalCode>{code('Snomed', '999791000000106', 'HbA1c level')}"
                         "<Value>53</Value><Units>mmol/mol</Units>"
                         "<FreeText>Repeat in 3 months</FreeText></ClinicalCode>"),
    "unknown-code-approximate": event("2024-12-01T16:00:00",
                                      f"<ClinicalCode>{code('CTV3', 'XaZZZ', 'Some reading')}"
                                      "<Value>7</Value><Units>units</Units>"
                                      "<Comparator>3</Comparator></ClinicalCode>"),
}


def record(events: str) -> etree._Element:
    return etree.fromstring(f"<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity>"
                            f"<Clinical>{events}</Clinical></Response>")


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_golden(sample):
    resources = map_resources("observation", record(SAMPLES[sample]), patient=PATIENT)
    path = GOLDEN / f"{sample}.json"
    rendered = orjson.dumps(resources, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(rendered)
    assert rendered.decode() == path.read_text(), f"{sample} differs from {path}"


def test_blood_pressure_is_one_observation_with_two_components():
    [bp, weight] = map_resources("observation", record(SAMPLES["ctv3-vitals"]), patient=PATIENT)
    loinc = [c["code"]["coding"][1]["code"] for c in bp["component"]]
    assert bp["code"]["coding"][1]["code"] == "85354-9" and loinc == ["8480-6", "8462-4"]
    assert {c["valueQuantity"]["code"] for c in bp["component"]} == {"mm[Hg]"}
    assert weight["valueQuantity"] == {"value": 82.4, "unit": "kilogram",
                                       "system": "http://unitsofmeasure.org", "code": "kg"}
    assert bp["effectiveDateTime"] == "2025-07-01T09:30:00+01:00"  # BST


def test_comparators_and_notes():
    egfr, hba1c = map_resources("observation", record(SAMPLES["snomed-labs"]), patient=PATIENT)
    assert egfr["valueQuantity"]["comparator"] == ">"
    assert hba1c["note"] == [{"text": "Repeat in 3 months"}]
    assert egfr["category"][0]["coding"][0]["code"] == "laboratory"
    [unknown] = map_resources("observation", record(SAMPLES["unknown-code-approximate"]),
                              patient=PATIENT)
    assert unknown["note"] == [{"text": "Value recorded as approximate"}]
    assert "category" not in unknown and "code" not in unknown["valueQuantity"]


@pytest.mark.parametrize("scheme", [OutputScheme("CTV3", None), OutputScheme("Snomed", None)])
def test_every_numeric_item_of_generated_records_is_mapped_once(scheme):
    practice = GeneratedPractice(40, seed=7, as_of=dt.date(2026, 11, 1))
    for index in range(len(practice)):
        source = etree.fromstring(etree.tostring(practice.record(index)))
        translate(source, scheme)
        resources = map_resources("observation", source, patient=PATIENT)
        ids = [r["id"] for r in resources]
        assert len(ids) == len(set(ids)), f"patient {index}: duplicate ids"
        numeric_items = len(source.findall("Clinical/Event/ClinicalCode[Value]"))
        mapped_items = sum(len(r.get("component", [])) or 1 for r in resources
                           if "valueCodeableConcept" not in r)
        assert mapped_items == numeric_items, f"patient {index}: an item disappeared"
        smoking_items = sum(1 for item in source.iterfind("Clinical/Event/ClinicalCode")
                            if item.find("Value") is None
                            and item.find("Code").get("Code") in SMOKING_CODES)
        social = [r for r in resources if "valueCodeableConcept" in r]
        assert len(social) == smoking_items
        assert all(r["code"]["coding"][1]["code"] == "72166-2" for r in social)
        kinds = Counter(r["category"][0]["coding"][0]["code"] for r in resources
                        if "category" in r)
        assert sum(kinds.values()) == len(resources), "every generated concept is categorised"


def test_smoking_status_is_a_social_history_observation():
    source = record(event("2025-03-03T10:00:00",
                          f"<ClinicalCode>{code('CTV3', 'Ub1na', 'Ex-smoker')}</ClinicalCode>"
                          f"<ClinicalCode>{code('CTV3', 'H33..', 'Asthma')}</ClinicalCode>"))
    [smoking] = map_resources("observation", source, patient=PATIENT)
    assert smoking["category"][0]["coding"][0]["code"] == "social-history"
    assert smoking["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct", "code": "8517006", "display": "Ex-smoker"}
    assert "valueQuantity" not in smoking


def test_fixed_values_of_the_uk_core_vital_signs_profiles():
    [bp, weight] = map_resources("observation", record(SAMPLES["ctv3-vitals"]), patient=PATIENT)
    assert [c["code"]["text"] for c in bp["component"]] == ["Systolic blood pressure",
                                                            "Diastolic blood pressure"]
    assert {c["valueQuantity"]["unit"] for c in bp["component"]} == {"millimeter of mercury"}
    assert weight["valueQuantity"]["unit"] == "kilogram"
    [unknown] = map_resources("observation", record(SAMPLES["unknown-code-approximate"]),
                              patient=PATIENT)
    assert unknown["valueQuantity"]["unit"] == "units"  # a unit we cannot name is kept


def test_snomed_records_also_carry_the_ctv3_code():
    [egfr, _] = map_resources("observation", record(SAMPLES["snomed-labs"]), patient=PATIENT)
    systems = [coding["system"] for coding in egfr["code"]["coding"]]
    assert systems == ["http://snomed.info/sct", "http://loinc.org", "http://read.info/ctv3"]


def test_rules_over_every_observation_of_a_generated_practice():
    """Ids unique across the practice, the subject is the patient asked for, nothing empty,
    every coding has a system and a code, every quantity a value."""
    practice = GeneratedPractice(60, seed=11, as_of=dt.date(2026, 11, 1))
    seen_ids = set()
    for index in range(len(practice)):
        subject = {"reference": f"Patient/p{index}"}
        for resource in map_resources("observation", practice.record(index), patient=subject):
            key = (index, resource["id"])
            assert key not in seen_ids
            seen_ids.add(key)
            assert resource["subject"] == subject
            for path, value in leaves(resource, "Observation"):
                assert value not in ("", None), f"empty {path}"
            for coding in [c for part in ("code", "valueCodeableConcept")
                           for c in resource.get(part, {}).get("coding", [])]:
                assert coding.get("system") and coding.get("code")
            quantities = [resource.get("valueQuantity")] + [
                c.get("valueQuantity") for c in resource.get("component", [])]
            assert all(q is None or "value" in q for q in quantities)
    assert len(seen_ids) > 1000
