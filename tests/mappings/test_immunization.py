"""The Immunization mapping: SystmOne Vaccination items as UK Core Immunizations.

Expectations are written from UK Core (UKCore-Immunization, ValueSet-UKCore-VaccineCode,
-ImmunizationAdministrationBodySite), GP Connect's immunisation rules (UNK for an unknown
vaccine, primarySource true when unknown, no performer role when unknown), TPP's
Vaccination template and SNOMED CT's vaccine product concepts (eHealth Suisse's published
vaccine value set), never read from mappings/.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import map_resources
from simulator.practice.generator import GeneratedPractice

SAMPLES = Path(__file__).resolve().parent / "samples"
PATIENT = {"reference": "Patient/patient-1"}
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def found() -> dict[str, dict]:
    source = etree.parse(str(SAMPLES / "vaccinations.xml")).getroot()
    return {i["id"]: i for i in map_resources("immunization", source, patient=PATIENT)}


def test_a_vaccination_is_a_completed_immunization(found):
    mmr = found["9b00000000000000-Vaccination-0"]
    assert mmr["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Immunization"]
    assert mmr["status"] == "completed" and mmr["primarySource"] is True
    assert mmr["patient"] == PATIENT
    assert mmr["occurrenceDateTime"] == "2020-04-20T09:50:00+01:00"
    assert mmr["lotNumber"] == "MR20931"
    assert mmr["protocolApplied"] == [{"doseNumberString": "Part 1"}]
    assert mmr["performer"] == [{"actor": {"display": "JONES, Amy (Practice Nurse)"}}]
    assert mmr["identifier"] == [{"system": "urn:systmone:id:event-item",
                                  "value": "9b00000000000000-Vaccination-0"}]


def test_dose_sequence_is_the_part_type_as_written(found):
    booster = found["9b00000000000000-Vaccination-1"]
    assert booster["protocolApplied"] == [{"doseNumberString": "Booster 1"}]
    second = found["9d00000000000000-Vaccination-0"]
    assert second["protocolApplied"] == [{"doseNumberString": "Part 2"}]


def test_dosage_becomes_a_ucum_dose_quantity(found):
    dose = found["9a00000000000000-Vaccination-0"]["doseQuantity"]
    assert dose == {"value": Decimal("0.5"), "unit": "ml", "system": UCUM, "code": "mL"}
    assert found["9a00000000000000-Vaccination-1"]["doseQuantity"]["value"] == Decimal("1.5")
    influenza = found["9c00000000000000-Vaccination-0"]  # "as directed" is not a quantity
    assert "doseQuantity" not in influenza
    assert {"text": "Dosage: as directed"} in influenza["note"]
    assert "doseQuantity" not in found["9b00000000000000-Vaccination-1"]  # <Dosage/> empty


def test_vaccine_code_text_and_snomed_only_where_the_name_is_exact(found):
    mmr = found["9b00000000000000-Vaccination-0"]["vaccineCode"]
    assert mmr["text"] == "MMR (Measles, Mumps, Rubella)"
    assert [(c["system"], c["code"]) for c in mmr["coding"]] == [(SNOMED, "871831003")]
    first_code = found["9a00000000000000-Vaccination-0"]["vaccineCode"]["coding"][0]["code"]
    assert first_code == "871895005"
    second_code = found["9d00000000000000-Vaccination-0"]["vaccineCode"]["coding"][0]["code"]
    assert second_code == "1156183006"
    # Influenza, MenB and Hib/MenC names do not say which product: text only.
    assert found["9c00000000000000-Vaccination-0"]["vaccineCode"] == {"text": "Influenza"}
    menb = found["9a00000000000000-Vaccination-2"]
    assert menb["vaccineCode"] == {"text": "MenB (Meningococcal group B)"}
    assert "coding" not in found["9b00000000000000-Vaccination-1"]["vaccineCode"]


def test_a_vaccination_naming_no_vaccine_is_coded_unknown(found):
    empty = found["9d00000000000000-Vaccination-1"]
    assert empty["vaccineCode"] == {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK",
        "display": "unknown"}]}
    assert "protocolApplied" not in empty and "lotNumber" not in empty


def test_notes_that_name_a_site_give_the_site(found):
    assert found["9b00000000000000-Vaccination-0"]["site"] == {
        "coding": [{"system": SNOMED, "code": "368208006", "display": "Left upper arm structure"}],
        "text": "Left deltoid"}
    assert found["9a00000000000000-Vaccination-0"]["site"]["coding"][0]["code"] == "61396006"
    assert found["9b00000000000000-Vaccination-0"]["note"] == [{"text": "Left deltoid"}]
    other = found["9a00000000000000-Vaccination-2"]  # notes saying more than a site
    assert "site" not in other
    assert other["note"] == [{"text": "Right thigh. Paracetamol advice given."}]


def test_every_vaccination_of_a_generated_practice_is_served():
    practice = GeneratedPractice(40, seed=13, as_of=dt.date(2026, 11, 1))
    for index in range(len(practice)):
        source = etree.fromstring(etree.tostring(practice.record(index)))
        found = map_resources("immunization", source, patient=PATIENT)
        assert fidelity(source, found).unserved["Vaccination"] == 0, f"patient {index}"
        assert len({i["id"] for i in found}) == len(found)
        assert all(i["vaccineCode"].get("text") for i in found)
