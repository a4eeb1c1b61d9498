"""Every entry of the concept tables, mapped from a small hand-shaped record.

Each case builds a GetPatientRecord fragment (one Event holding the items under test), maps
it with the real mappings and checks the result against tests/ukcore/expectations.py: codes,
profiles, LOINC terms, UCUM codes and names, vaccine products, injection sites, smoking and
"no known allergy" codes written out by hand from UK Core, LOINC, UCUM, SNOMED CT and TPP.
Nothing here is read from mappings/ or facade/mapping/: a typo in a concept table (one digit
of a code, one letter of a unit's name) fails a case here.

Where the mappings and the hand-written expectation disagree, the case is marked
``xfail(strict=True)`` with the reason (``DISAGREEMENTS``): it fails today, and once the
mapping is put right the mark must go (a strict xfail that passes fails the run).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from facade.mapping.registry import DEFAULT, map_resource, map_resources
from tests.ukcore import expectations as ux
from tests.ukcore.rules import loinc_ok, sctid_problem

PATIENT = {"reference": "Patient/patient-1"}
LAST_UPDATED = "2025-06-01T12:00:00+00:00"
TODAY = "2026-01-15"
EVENT_UID = "e000000000000001"
SCHEME = {ux.SNOMED: "Snomed", ux.CTV3: "CTV3"}
UNKNOWN_CTV3 = "XaZZZ"  # no table knows it: the reading stays a plain Observation

# Where the mappings disagree with the hand-written expectations (case id -> why). Each is
# reported; the mapping, not the expectation, is to be put right (or the expectation shown
# wrong by its source).
_MISSING = "the mappings do not know this code: served as a plain UKCore-Observation"
DISAGREEMENTS: dict[str, str] = {}  # none today: each one found was put right in mappings/


def case(case_id: str, *values) -> pytest.param:
    """A parametrize case; xfail(strict) when DISAGREEMENTS names it."""
    marks = [pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[case_id])] \
        if case_id in DISAGREEMENTS else []
    return pytest.param(*values, id=case_id, marks=marks)


# --- Building records ------------------------------------------------------------------------

def record(items: str) -> etree._Element:
    return etree.fromstring(
        f'<Response><Clinical><Event DateTime="2025-03-03T10:00:00" DoneBy="SMITH, Jo " '
        f'EventUID="{EVENT_UID}">{items}</Event></Clinical></Response>')


def coded(scheme: str, code: str, term: str = "t") -> str:
    return f'<ClinicalCode><Code Scheme="{scheme}" Code="{code}" Term="{term}"/></ClinicalCode>'


def reading(scheme: str, code: str, value: str = "70", units: str = "",
            comparator: str = "") -> str:
    units = f"<Units>{units}</Units>" if units else ""
    comparator = f"<Comparator>{comparator}</Comparator>" if comparator else ""
    return (f'<ClinicalCode><Code Scheme="{scheme}" Code="{code}" Term="t"/>'
            f"<Value>{value}</Value>{units}{comparator}</ClinicalCode>")


def item_key(position: int, name: str = "ClinicalCode") -> str:
    return f"{EVENT_UID}-{name}-{position}"


def mapped(name: str, items: str) -> list[dict]:
    return map_resources(name, record(items), patient=PATIENT, last_updated=LAST_UPDATED,
                         __xpath__={"today": TODAY})


def one(name: str, items: str) -> dict:
    found = mapped(name, items)
    assert len(found) == 1, [r.get("id") for r in found]
    return found[0]


def codings(concept: dict, system: str) -> list[dict]:
    return [c for c in concept.get("coding", []) if c.get("system") == system]


def categories(resource: dict) -> list[tuple[str, str, str]]:
    return [(c.get("system"), c.get("code"), c.get("display"))
            for cc in resource.get("category", []) for c in cc.get("coding", [])]


def category(code: str) -> list[tuple[str, str, str]]:
    return [(ux.OBSERVATION_CATEGORY, code, ux.OBSERVATION_CATEGORY_DISPLAYS[code])]


def unit_text(ucum: frozenset[str]) -> str:
    """A SystmOne unit text for one of ``ucum`` (from the hand-written table)."""
    return next(text for text, code in ux.SYSTMONE_UNITS.items() if code in ucum)


# --- Vital signs -----------------------------------------------------------------------------

# Keyed vital signs read from a value (the blood-pressure panel and the generic profile are
# not single readings: the panel is tested as a pair below).
READINGS = {key: vs for key, vs in ux.VITAL_SIGNS.items()
            if key not in ("BloodPressure", "VitalSigns")}
VITAL_CASES = [case(f"vital-Snomed-{code}", ux.SNOMED, code, key)
               for key, vs in READINGS.items() for code in sorted(vs.snomed)]
VITAL_CASES += [case(f"vital-CTV3-{code}", ux.CTV3, code, key)
                for code, key in ux.CTV3_VITAL_SIGNS.items() if key in READINGS]


@pytest.mark.parametrize(("system", "code", "key"), VITAL_CASES)
def test_every_vital_sign_code_is_its_uk_core_profile(system, code, key):
    vs = ux.VITAL_SIGNS[key]
    expected_ucum = ux.SYSTMONE_UNITS[unit_text(vs.ucum)]
    obs = one("observation", reading(SCHEME[system], code, "70", unit_text(vs.ucum)))
    assert obs["meta"] == {"profile": [vs.profile], "lastUpdated": LAST_UPDATED}
    assert obs["status"] == ux.VITAL_SIGNS_FIXED_STATUS
    assert categories(obs) == category(ux.VITAL_SIGNS_CATEGORY)
    # The profile fixes the LOINC code; its display as the profile's example writes it
    # (compared without case: LOINC's own name for 9279-1 is "Respiratory rate").
    assert [(c["code"], c["display"].lower()) for c in codings(obs["code"], ux.LOINC)] == [
        (vs.loinc, vs.loinc_display.lower())]
    snomed = codings(obs["code"], ux.SNOMED)
    assert snomed, "UK Core's vital signs need a SNOMED CT coding (snomedCT 1..*)"
    assert {c["code"] for c in snomed} <= vs.snomed, "SNOMED CT from the profile's value set"
    assert len(snomed) == 1 or not vs.single_snomed
    if system == ux.SNOMED:
        assert snomed[0]["code"] == code
    else:
        assert [c["code"] for c in codings(obs["code"], ux.CTV3)] == [code]
    quantity = obs["valueQuantity"]
    assert (quantity["system"], quantity["code"]) == (ux.UCUM, expected_ucum)
    assert quantity["unit"] == (vs.unit or ux.UCUM_NAMES[expected_ucum])
    assert quantity["value"] == 70


DISPLAY_CASES = [case(f"vital-display-CTV3-{code}", code, key)
                 for code, key in ux.CTV3_VITAL_SIGNS.items()]


@pytest.mark.parametrize(("code", "key"), DISPLAY_CASES)
def test_a_ctv3_vital_sign_gains_the_snomed_code_uk_core_names(code, key):
    vs = ux.VITAL_SIGNS[key]
    if key == "BloodPressure":  # a header code: recorded without a value
        obs = one("observation", coded("CTV3", code))
        assert obs["meta"] == {"profile": [ux.PROFILES["Observation"]],
                               "lastUpdated": LAST_UPDATED}
    else:
        obs = one("observation", reading("CTV3", code, "70", unit_text(vs.ucum)))
    [snomed] = codings(obs["code"], ux.SNOMED)
    assert snomed["code"] in vs.snomed
    assert snomed["code"] == ux.CTV3_SNOMED_SAME_TERM.get(code, snomed["code"])
    assert snomed["display"] == ux.VITAL_SIGN_SNOMED_DISPLAYS[snomed["code"]]


def check_blood_pressure(obs: dict) -> None:
    panel = ux.VITAL_SIGNS["BloodPressure"]
    assert obs["meta"] == {"profile": [panel.profile], "lastUpdated": LAST_UPDATED}
    assert obs["status"] == ux.VITAL_SIGNS_FIXED_STATUS
    assert categories(obs) == category(ux.VITAL_SIGNS_CATEGORY)
    assert [(c["code"], c["display"]) for c in codings(obs["code"], ux.LOINC)] == [
        (panel.loinc, panel.loinc_display)]
    snomed = codings(obs["code"], ux.SNOMED)
    assert snomed and {c["code"] for c in snomed} <= panel.snomed
    for coding in snomed:
        assert coding["display"] == ux.VITAL_SIGN_SNOMED_DISPLAYS[coding["code"]]
    assert "valueQuantity" not in obs  # value[x] max 0
    components = obs["component"]
    assert len(components) == len(ux.BP_COMPONENTS)
    for component, spec in zip(components, ux.BP_COMPONENTS.values(), strict=True):
        assert component["code"]["text"] == spec.text
        assert [(c["code"], c["display"]) for c in codings(component["code"], ux.LOINC)] == [
            (spec.loinc, spec.loinc_display)]
        snomed = codings(component["code"], ux.SNOMED)
        assert snomed and {c["code"] for c in snomed} <= spec.snomed
        quantity = component["valueQuantity"]
        assert (quantity["system"], quantity["code"], quantity["unit"]) == (
            ux.UCUM, spec.ucum, spec.unit)


def _bp_cases(key: str) -> list:
    codes = [(ux.SNOMED, c) for c in sorted(ux.VITAL_SIGNS[key].snomed)]
    codes += [(ux.CTV3, c) for c, k in ux.CTV3_VITAL_SIGNS.items() if k == key]
    return [case(f"bp-{key}-{SCHEME[system]}-{code}", system, code) for system, code in codes]


@pytest.mark.parametrize(("system", "code"), _bp_cases("SystolicBP"))
def test_every_systolic_code_followed_by_a_diastolic_reading_is_a_blood_pressure(system, code):
    obs = one("observation", reading(SCHEME[system], code, "120", "mmHg")
              + reading("Snomed", "163031004", "80", "mmHg"))
    check_blood_pressure(obs)
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [120, 80]


@pytest.mark.parametrize(("system", "code"), _bp_cases("DiastolicBP"))
def test_every_diastolic_code_after_a_systolic_reading_is_a_blood_pressure(system, code):
    obs = one("observation", reading("Snomed", "163030003", "120", "mmHg")
              + reading(SCHEME[system], code, "80", "mmHg"))
    check_blood_pressure(obs)
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [120, 80]


# A blood-pressure code recorded without a value just before the pair: CTV3 246.. (keyed to
# BloodPressure in CTV3_VITAL_SIGNS), its SNOMED CT term 163020007 and 75367002 Blood
# pressure (both in ValueSet-UKCore-BloodPressure).
HEADERS = [case(f"bp-header-CTV3-{code}", "CTV3", code)
           for code, key in ux.CTV3_VITAL_SIGNS.items() if key == "BloodPressure"]
HEADERS += [case(f"bp-header-Snomed-{code}", "Snomed", code)
            for code in (ux.CTV3_SNOMED_SAME_TERM["246.."], "75367002")]


@pytest.mark.parametrize(("scheme", "code"), HEADERS)
def test_a_blood_pressure_header_belongs_to_the_pair_after_it(scheme, code):
    obs = one("observation", coded(scheme, code) + reading("CTV3", "2469.", "120", "mmHg")
              + reading("CTV3", "246A.", "80", "mmHg"))
    check_blood_pressure(obs)
    assert [i["value"] for i in obs["identifier"]] == [item_key(0), item_key(1), item_key(2)]


NOT_KEYED = [case(f"not-BMI-{code}", code, "BMI") for code in sorted(ux.BMI_CENTILES_NOT_KEYED)]
NOT_KEYED += [case(f"not-BodyHeight-{code}", code, "BodyHeight")
              for code in sorted(ux.BODY_HEIGHT_VALUESET_NOT_KEYED)]
NOT_KEYED += [case(f"not-BloodPressure-{code}", code, "BloodPressure")
              for code in sorted(ux.BP_VALUESET_NOT_KEYED)]


@pytest.mark.parametrize(("code", "key"), NOT_KEYED)
def test_value_set_members_that_are_not_the_measurement_do_not_claim_its_profile(code, key):
    vs = ux.VITAL_SIGNS[key]
    obs = one("observation", reading("Snomed", code, "70", "cm"))
    assert vs.profile not in obs["meta"]["profile"]
    assert vs.loinc not in {c["code"] for c in codings(obs["code"], ux.LOINC)}


# --- Laboratory results ----------------------------------------------------------------------

LABS = {**ux.LAB_TESTS, **ux.MORE_LAB_TESTS}
LAB_CASES = [case(f"lab-Snomed-{code}", ux.SNOMED, code, key)
             for key, lab in LABS.items() for code in sorted(lab.snomed)]
LAB_CASES += [case(f"lab-CTV3-{code}", ux.CTV3, code, key)
              for key, lab in LABS.items() for code in sorted(lab.ctv3)]


@pytest.mark.parametrize(("system", "code", "key"), LAB_CASES)
def test_every_laboratory_code_is_a_uk_core_lab_observation(system, code, key):
    lab = LABS[key]
    expected_ucum = ux.SYSTMONE_UNITS[unit_text(lab.ucum)]
    obs = one("observation", reading(SCHEME[system], code, "5.0", unit_text(lab.ucum)))
    assert obs["meta"] == {"profile": [ux.OBSERVATION_LAB], "lastUpdated": LAST_UPDATED}
    assert categories(obs) == category(ux.LAB_CATEGORY)
    loinc = codings(obs["code"], ux.LOINC)
    if lab.loinc:
        assert len(loinc) == 1 and loinc[0]["code"] in lab.loinc
        assert loinc[0]["display"] == ux.LOINC_NAMES[loinc[0]["code"]]
    quantity = obs["valueQuantity"]
    assert (quantity["system"], quantity["code"]) == (ux.UCUM, expected_ucum)
    assert quantity["unit"] == ux.UCUM_NAMES[expected_ucum]
    assert quantity["value"] == Decimal("5.0")
    # The code as recorded, and the same test in the other scheme where the table names it.
    assert [c["code"] for c in codings(obs["code"], system)] == [code]
    other = ux.CTV3 if system == ux.SNOMED else ux.SNOMED
    other_codes = {c["code"] for c in codings(obs["code"], other)}
    assert other_codes <= (lab.ctv3 if other == ux.CTV3 else lab.snomed)
    if system == ux.CTV3 and lab.snomed:
        assert other_codes, "a CTV3 result gains the SNOMED CT code of the same test"
        for coding in codings(obs["code"], ux.SNOMED):
            assert coding["display"] == ux.LAB_SNOMED_DISPLAYS.get(coding["code"],
                                                                   coding["display"])


# --- Units and comparators -------------------------------------------------------------------

UNIT_CASES = [case(f"unit-code-{text}", text, code) for text, code in ux.SYSTMONE_UNITS.items()]
UNIT_NAME_CASES = [case(f"unit-name-{text}", text, code)
                   for text, code in ux.SYSTMONE_UNITS.items()]


@pytest.mark.parametrize(("text", "code"), UNIT_CASES)
def test_every_systmone_unit_text_is_its_ucum_code(text, code):
    quantity = one("observation", reading("CTV3", UNKNOWN_CTV3, "5", text))["valueQuantity"]
    assert (quantity["value"], quantity["system"], quantity["code"]) == (5, ux.UCUM, code)


@pytest.mark.parametrize(("text", "code"), UNIT_NAME_CASES)
def test_every_systmone_unit_text_is_written_as_the_ucum_name(text, code):
    quantity = one("observation", reading("CTV3", UNKNOWN_CTV3, "5", text))["valueQuantity"]
    assert quantity == {"value": 5, "unit": ux.UCUM_NAMES[code], "system": ux.UCUM,
                        "code": code}


def test_a_unit_text_ucum_does_not_know_is_kept_without_a_code():
    quantity = one("observation", reading("CTV3", UNKNOWN_CTV3, "5", "puffs"))["valueQuantity"]
    assert quantity == {"value": 5, "unit": "puffs"}


@pytest.mark.parametrize(("comparator", "fhir"), list(ux.TPP_COMPARATORS.items()))
def test_every_tpp_comparator(comparator, fhir):
    obs = one("observation", reading("CTV3", UNKNOWN_CTV3, "5", "mmol/L", comparator))
    assert obs["valueQuantity"].get("comparator") == fhir
    # TPP 3 "approximate" has no FHIR comparator: MAPPINGS.md ("Comparators") keeps it as a
    # note on the Observation.
    approximate = [n["text"] for n in obs.get("note", []) if "approximate" in n["text"].lower()]
    assert len(approximate) == (1 if comparator == "3" else 0)


@pytest.mark.parametrize(("text", "code"), list(ux.SYSTMONE_DOSE_UNITS.items()))
def test_every_dose_unit_is_ucum(text, code):
    immunization = one("immunization", f"<Vaccination><Name>Influenza</Name>"
                                       f"<Dosage>0.5 {text}</Dosage></Vaccination>")
    dose = immunization["doseQuantity"]
    assert (dose["value"], dose["system"], dose["code"]) == (Decimal("0.5"), ux.UCUM, code)


# --- Smoking status --------------------------------------------------------------------------

SMOKING_CASES = [case(f"smoking-{scheme}-{code}", scheme, code, snomed)
                 for snomed, (_, ctv3) in ux.SMOKING_STATUSES.items()
                 for scheme, code in (("Snomed", snomed), ("CTV3", ctv3))]


@pytest.mark.parametrize(("scheme", "code", "snomed"), SMOKING_CASES)
def test_every_smoking_status_is_a_social_history_observation(scheme, code, snomed):
    display, ctv3 = ux.SMOKING_STATUSES[snomed]
    obs = one("observation", coded(scheme, code, display))
    assert obs["meta"] == {"profile": [ux.SMOKING_STATUS_PROFILE], "lastUpdated": LAST_UPDATED}
    assert categories(obs) == category(ux.SMOKING_STATUS_CATEGORY)
    for system, (expected, expected_display) in ux.SMOKING_STATUS_CODES.items():
        assert [(c["code"], c["display"]) for c in codings(obs["code"], system)] == [
            (expected, expected_display)]
    value = obs["valueCodeableConcept"]
    assert [(c["code"], c["display"]) for c in codings(value, ux.SNOMED)] == [(snomed, display)]
    assert [c["code"] for c in codings(value, ux.CTV3)] == [ctv3]
    assert "valueQuantity" not in obs


# --- No known allergy ------------------------------------------------------------------------

ACTIVE_DRUG_SENSITIVITY = ('<DrugSensitivity><Type>Drug</Type><Drug Name="Penicillin V 250mg '
                           'tablets" ProductID="1004531" Scheme="Multilex"/></DrugSensitivity>')


def _clinical_status(allergy: dict) -> str:
    [coding] = allergy["clinicalStatus"]["coding"]
    assert coding["system"] == ux.ALLERGY_CLINICAL
    return coding["code"]


@pytest.mark.parametrize("code", [case(f"nka-{code}", code)
                                  for code in sorted(ux.NO_KNOWN_ALLERGY_CODES)])
def test_every_no_known_allergy_code_is_the_uk_core_negation(code):
    items = coded("Snomed", code, "No known allergy")
    nka = one("allergyintolerance", items)
    assert nka["meta"] == {"profile": [ux.PROFILES["AllergyIntolerance"]],
                           "lastUpdated": LAST_UPDATED}
    assert [c["code"] for c in codings(nka["code"], ux.SNOMED)] == [code]
    assert [(c["system"], c["code"]) for c in nka["verificationStatus"]["coding"]] == [
        (ux.ALLERGY_VERIFICATION, "confirmed")]
    assert _clinical_status(nka) == "active"
    for element in ("category", "type", "criticality", "reaction"):
        assert element not in nka
    assert mapped("observation", items) == []  # never also an Observation


@pytest.mark.parametrize("code", [case(f"nka-contradicted-{code}", code)
                                  for code in sorted(ux.NO_KNOWN_ALLERGY_CODES)])
def test_a_drug_sensitivity_contradicts_only_no_known_allergy_and_no_known_drug_allergy(code):
    [nka] = [a for a in mapped("allergyintolerance",
                               coded("Snomed", code, "No known allergy") + ACTIVE_DRUG_SENSITIVITY)
             if codings(a["code"], ux.SNOMED)]
    expected = "inactive" if code in ux.NO_KNOWN_ALLERGY_CONTRADICTED_BY_DRUG else "active"
    assert _clinical_status(nka) == expected


# --- Immunisation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "product"), list(ux.VACCINE_PRODUCTS.items()))
def test_every_vaccine_name_with_a_product_is_coded_by_it(name, product):
    code, display = product
    immunization = one("immunization", f"<Vaccination><Name>{name}</Name></Vaccination>")
    assert immunization["meta"] == {"profile": [ux.PROFILES["Immunization"]],
                                    "lastUpdated": LAST_UPDATED}
    assert immunization["vaccineCode"] == {
        "coding": [{"system": ux.SNOMED, "code": code, "display": display}], "text": name}


@pytest.mark.parametrize(("note", "code"), list(ux.SITE_NOTES.items()))
def test_every_injection_site_note_is_a_uk_core_body_site(note, code):
    immunization = one("immunization", f"<Vaccination><Name>Influenza</Name>"
                                       f"<Notes>{note}</Notes></Vaccination>")
    assert immunization["site"] == {
        "coding": [{"system": ux.SNOMED, "code": code, "display": ux.IMMUNIZATION_SITES[code]}],
        "text": note}
    assert immunization["note"] == [{"text": note}]


# --- Meta tags -------------------------------------------------------------------------------

def test_a_search_result_patient_carries_the_subsetted_tag():
    result = etree.fromstring("<Result><Surname>Smith</Surname><Sex>F</Sex>"
                              "<DateOfBirth>1980-01-01</DateOfBirth></Result>")
    patient = map_resource("patient", result, id="p")
    assert patient["meta"]["tag"] == [ux.SUBSETTED_TAG]


# --- The hand-written tables themselves ------------------------------------------------------

def test_the_new_tables_hold_well_formed_codes():
    """A slip of the keyboard in the hand-written tables fails a check digit here."""
    snomed = set(ux.VITAL_SIGN_SNOMED_DISPLAYS) | set(ux.CTV3_SNOMED_SAME_TERM.values())
    snomed |= set().union(*(lab.snomed for lab in ux.MORE_LAB_TESTS.values()))
    snomed |= set(ux.SMOKING_STATUSES) | ux.NO_KNOWN_ALLERGY_CONTRADICTED_BY_DRUG
    snomed |= set(ux.LAB_SNOMED_DISPLAYS)
    snomed |= set(ux.IMMUNIZATION_SITES) | {code for code, _ in ux.VACCINE_PRODUCTS.values()}
    snomed |= ux.BODY_HEIGHT_VALUESET_NOT_KEYED | {ux.SMOKING_STATUS_CODES[ux.SNOMED][0]}
    assert [c for c in sorted(snomed) if sctid_problem(c)] == []
    loinc = set(ux.LOINC_NAMES) | set().union(*(lab.loinc for lab in ux.MORE_LAB_TESTS.values()))
    loinc.add(ux.SMOKING_STATUS_CODES[ux.LOINC][0])
    assert [c for c in sorted(loinc) if not loinc_ok(c)] == []
    # Every UCUM code the tables expect has its name; every site note names a listed site.
    used = set(ux.SYSTMONE_UNITS.values()) | set().union(*(
        t.ucum for t in (*ux.VITAL_SIGNS.values(), *LABS.values())))
    assert {u for u in used if u not in ux.UCUM_NAMES} <= {"mm", "[in_i]", "[ft_i]"}
    assert set(ux.SITE_NOTES.values()) == set(ux.IMMUNIZATION_SITES)
    assert ux.NO_KNOWN_ALLERGY_CONTRADICTED_BY_DRUG <= ux.NO_KNOWN_ALLERGY_CODES
    assert set(ux.SMOKING_STATUS_CODES) == {ux.LOINC, ux.SNOMED}


# --- GetPatientRecord filter sections --------------------------------------------------------

@pytest.mark.parametrize(("resource_type", "sections"), list(ux.RECORD_SECTIONS.items()))
def test_every_type_asks_tpp_for_the_sections_its_items_come_in(resource_type, sections):
    assert DEFAULT.declarations()[resource_type].sections == sections
