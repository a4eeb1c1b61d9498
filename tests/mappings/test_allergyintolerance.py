"""The AllergyIntolerance mapping: drug sensitivities and "no known allergy" codes.

Expectations are written from UK Core (UKCore-AllergyIntolerance, Extension-UKCore-
AllergyIntoleranceEnd, ValueSet-UKCore-AllergyCode), FHIR R4's no-known-allergy examples,
GP Connect's allergy rules and TPP's specification (the "None known" ingredient example),
never read from mappings/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import map_resources
from facade.protocol.envelope import OutputScheme
from simulator.practice.generator import GeneratedPractice
from simulator.practice.render import translate

SAMPLES = Path(__file__).resolve().parent / "samples"
PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"
SNOMED = "http://snomed.info/sct"
DMD = "https://dmd.nhs.uk"
MULTILEX = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
END = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AllergyIntoleranceEnd"


def allergies(name: str, today: str = TODAY) -> dict[str, dict]:
    source = etree.parse(str(SAMPLES / f"{name}.xml")).getroot()
    found = map_resources("allergyintolerance", source, patient=PATIENT,
                          __xpath__={"today": today})
    return {a["id"]: a for a in found}


def status(resource: dict) -> str:
    [coding] = resource["clinicalStatus"]["coding"]
    assert coding["system"] == CLINICAL
    return coding["code"]


def test_no_known_allergy_is_the_uk_core_negation_never_an_allergy():
    found = allergies("no-known-allergies")
    nka = found["6f70000000000000-ClinicalCode-0"]
    assert nka["code"]["coding"] == [{"system": SNOMED, "code": "716186003",
                                      "display": "No known allergy"}]
    assert nka["verificationStatus"] == {"coding": [
        {"system": VERIFICATION, "code": "confirmed", "display": "Confirmed"}]}
    assert status(nka) == "active"
    for element in ("category", "type", "criticality", "reaction"):
        assert element not in nka
    assert nka["note"] == [{"text": "Penicillin allergy de-labelled after testing"}]
    food = found["6f70000000000000-ClinicalCode-1"]  # No known food allergy: also a negation
    assert food["code"]["coding"][0]["code"] == "429625007" and status(food) == "active"


def test_a_drug_sensitivity_not_ended_contradicts_no_known_drug_allergy():
    nkda = allergies("sensitivities")["1a2b000000000000-ClinicalCode-0"]
    assert nkda["code"]["coding"][0]["code"] == "409137002"
    assert status(nkda) == "inactive"  # penicillin and ibuprofen are recorded and active
    # An ended sensitivity contradicts nothing (no-known-allergies: penicillin ended 2018).
    assert status(allergies("no-known-allergies")["6f70000000000000-ClinicalCode-0"]) == "active"


def test_none_known_ingredient_is_the_details_substance_not_a_negation():
    # TPP's own example: Ingredient Name="None known" Details="LATEX FOAM - ADHESIVE".
    latex = allergies("sensitivities")["3c891fb900000000-DrugSensitivity-0"]
    assert latex["code"] == {"text": "LATEX FOAM - ADHESIVE"}
    assert "verificationStatus" not in latex
    assert latex["category"] == ["medication"]


def test_drug_codes_keep_their_scheme():
    found = allergies("sensitivities")
    assert found["b95ee04200000000-DrugSensitivity-0"]["code"] == {
        "coding": [{"system": MULTILEX, "code": "1004531",
                    "display": "Penicillin V 250mg tablets"}],
        "text": "Penicillin V 250mg tablets"}
    assert found["4d5e000000000000-DrugSensitivity-0"]["code"]["coding"] == [
        {"system": DMD, "code": "329652003", "display": "Ibuprofen 200mg tablets"}]


def test_an_ingredient_sensitivity_is_coded_by_its_ingredient_with_the_screen_name_as_text():
    penicillins = allergies("sensitivities")["3c891fb900000000-DrugSensitivity-1"]
    [coding] = penicillins["code"]["coding"]
    assert (coding["code"], coding["display"]) == ("10412", "Penicillin")
    assert coding["system"] not in (MULTILEX, DMD, SNOMED)  # ingredients are not products
    assert penicillins["code"]["text"] == "PENICILLINS"
    # Two ingredients are not two codings of one concept: the text alone.
    co_amoxiclav = allergies("sensitivities")["4d5e000000000000-DrugSensitivity-1"]
    assert co_amoxiclav["code"] == {"text": "CO-AMOXICLAV"}


def test_ended_sensitivities_are_resolved_with_the_uk_core_end_date():
    found = allergies("sensitivities")
    penicillin = found["b95ee04200000000-DrugSensitivity-0"]
    assert status(penicillin) == "resolved"
    assert penicillin["clinicalStatus"]["extension"] == [
        {"url": END, "extension": [{"url": "endDate", "valueDateTime": "2019-01-01"}]}]
    latex = found["3c891fb900000000-DrugSensitivity-0"]  # EndedWithUnknownDate
    assert status(latex) == "resolved" and "extension" not in latex["clinicalStatus"]
    later = found["4d5e000000000000-DrugSensitivity-1"]  # an end date still to come
    assert status(later) == "active"
    assert later["note"] == [{"text": "End date: 2026-03-01"}]
    on_the_day = allergies("sensitivities", today="2026-03-01")
    assert status(on_the_day["4d5e000000000000-DrugSensitivity-1"]) == "resolved"


def test_only_what_systmone_records():
    for allergy in allergies("sensitivities").values():
        for element in ("type", "criticality", "reaction", "onsetDateTime"):
            assert element not in allergy
        assert allergy["patient"] == PATIENT and allergy["recordedDate"]
    penicillin = allergies("sensitivities")["b95ee04200000000-DrugSensitivity-0"]
    assert penicillin["note"] == [{"text": "rash"}]
    assert penicillin["recorder"] == {"display": "Drew Littler"}
    assert penicillin["recordedDate"] == "2014-03-26T09:06:50+00:00"


def test_every_sensitivity_and_no_known_allergy_of_a_generated_practice_is_served():
    practice = GeneratedPractice(40, seed=7, as_of=dt.date(2026, 11, 1))
    for scheme in (OutputScheme("CTV3", None), OutputScheme("Snomed", "Dmd")):
        for index in range(len(practice)):
            source = etree.fromstring(etree.tostring(practice.record(index)))
            translate(source, scheme)
            found = map_resources("allergyintolerance", source, patient=PATIENT,
                                  __xpath__={"today": "2026-11-01"})
            served = found + map_resources("observation", source, patient=PATIENT) \
                + map_resources("condition", source, patient=PATIENT)
            report = fidelity(source, served)
            assert report.unserved["DrugSensitivity"] == 0, f"patient {index}"
            assert report.unserved["coded"] == 0, f"patient {index}"  # NKA codes too
            for allergy in found:
                texts = [allergy["code"].get("text", "")] + [
                    c.get("display", "") for c in allergy["code"].get("coding", [])]
                if allergy.get("category") == ["medication"]:
                    assert not any(t.lower().startswith("none known") for t in texts)
