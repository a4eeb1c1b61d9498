"""The concept and drug tables: well-formed identifiers in both schemes, no clashes."""

from __future__ import annotations

import re

import pytest

from simulator.practice import concepts

# Verhoeff's dihedral check, which every SNOMED CT (and dm+d) identifier carries.
_D = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
      (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
      (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
      (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
      (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
_P = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
      (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
      (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
      (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8))

NUMERIC_KEYS = ("systolic_bp", "diastolic_bp", "weight", "height", "bmi", "pulse",
                "temperature", "hba1c", "cholesterol", "egfr", "creatinine", "o2_saturation",
                "waist", "peak_flow", "sodium", "potassium", "tsh", "haemoglobin", "alt",
                "urine_acr", "alcohol_units", "heart_rate", "respiratory_rate",
                "core_temperature", "systolic_arterial", "diastolic_arterial", "hba1c_dcct")
#: Numeric, but written without units (a ratio).
UNITLESS_NUMERIC_KEYS = ("cholesterol_hdl_ratio",)
REQUIRED_KEYS = (
    *NUMERIC_KEYS, "current_smoker", "ex_smoker", "never_smoked", "hypertension",
    "type2_diabetes", "asthma", "copd", "hypothyroidism", "depression", "osteoarthritis",
    "atrial_fibrillation", "gord", "ckd3", "white_british", "single", "married", "divorced",
    "widowed", "english")
REQUIRED_DRUGS = ("amlodipine", "ramipril", "metformin", "atorvastatin", "salbutamol",
                  "beclometasone", "levothyroxine", "omeprazole", "sertraline", "paracetamol",
                  "bisoprolol", "apixaban", "amoxicillin", "ibuprofen", "codeine", "trimethoprim")


def verhoeff_valid(number: str) -> bool:
    check = 0
    for position, digit in enumerate(reversed(number)):
        check = _D[check][_P[position % 8][int(digit)]]
    return check == 0


def is_concept_id(sctid: str) -> bool:
    """A SNOMED CT concept id: 6-18 digits, concept partition (00 or 10), valid check digit."""
    return (sctid.isdigit() and 6 <= len(sctid) <= 18 and not sctid.startswith("0")
            and sctid[-3:-1] in ("00", "10") and verhoeff_valid(sctid))


def test_verhoeff_accepts_known_ids_and_rejects_a_typo():
    assert verhoeff_valid("138875005") and verhoeff_valid("404684003")
    assert not verhoeff_valid("138875006")


@pytest.mark.parametrize("concept", concepts.CONCEPTS, ids=lambda concept: concept.key)
def test_concept_codes_are_well_formed(concept):
    if concept.ctv3 is None:  # held in SNOMED CT only
        assert concept.ctv3_term is None
    else:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.]{4}", concept.ctv3), concept.ctv3
        assert concept.ctv3_term
    assert is_concept_id(concept.snomed), concept.snomed
    assert concept.snomed_term


@pytest.mark.parametrize("drug", concepts.DRUGS, ids=lambda drug: drug.key)
def test_drug_identifiers_are_well_formed(drug):
    assert re.fullmatch(r"[1-9]\d{6}", drug.multilex), drug.multilex
    assert is_concept_id(drug.dmd), drug.dmd
    assert drug.name


def test_lookups_cover_every_entry_without_clashes():
    with_ctv3 = [concept for concept in concepts.CONCEPTS if concept.ctv3 is not None]
    assert len(concepts.BY_KEY) == len(concepts.CONCEPTS)
    assert len(concepts.BY_CTV3) == len(with_ctv3)
    assert len(concepts.BY_SNOMED) == len(concepts.CONCEPTS)
    assert len(concepts.DRUG_BY_KEY) == len(concepts.DRUGS)
    assert len(concepts.DRUG_BY_MULTILEX) == len(concepts.DRUGS)
    assert len(concepts.DRUG_BY_DMD) == len(concepts.DRUGS)
    for concept in concepts.CONCEPTS:
        assert concept.ctv3 is None or concepts.BY_CTV3[concept.ctv3] is concept
        assert concepts.BY_SNOMED[concept.snomed] is concept


def test_required_concepts_and_drugs_are_present():
    assert set(REQUIRED_KEYS) <= set(concepts.BY_KEY)
    assert set(REQUIRED_DRUGS) <= set(concepts.DRUG_BY_KEY)
    assert len(concepts.ETHNICITIES) >= 4 and len(concepts.LANGUAGES) >= 3


def test_numeric_concepts_carry_units_and_others_do_not():
    expected = {"systolic_bp": "mmHg", "diastolic_bp": "mmHg", "weight": "kg", "height": "m",
                "bmi": "kg/m2", "pulse": "beats/min", "temperature": "degrees C",
                "hba1c": "mmol/mol", "cholesterol": "mmol/L", "egfr": "mL/min/1.73m2"}
    for key, units in expected.items():
        assert concepts.BY_KEY[key].units == units
    for concept in concepts.CONCEPTS:
        assert (concept.units is not None) == (concept.key in NUMERIC_KEYS), concept.key
    assert set(UNITLESS_NUMERIC_KEYS) <= set(concepts.BY_KEY)


def test_blood_pressure_is_two_separate_codes():
    systolic, diastolic = concepts.BY_KEY["systolic_bp"], concepts.BY_KEY["diastolic_bp"]
    assert systolic.ctv3 != diastolic.ctv3 and systolic.snomed != diastolic.snomed


def test_ingredients_are_well_formed_and_unique():
    assert {"penicillin", "ibuprofen", "codeine", "latex"} <= set(concepts.INGREDIENT_BY_KEY)
    assert len(concepts.INGREDIENT_BY_KEY) == len(concepts.INGREDIENTS)
    assert len(concepts.INGREDIENT_BY_MULTILEX) == len(concepts.INGREDIENTS)
    for ingredient in concepts.INGREDIENTS:
        assert re.fullmatch(r"[1-9]\d{3,6}", ingredient.multilex)
        assert ingredient.name and ingredient.details


def test_snomed_native_alternatives_exist_only_in_snomed_and_keep_units():
    for key, native in concepts.NATIVE_SNOMED.items():
        recorded = concepts.BY_KEY[key]
        assert recorded.ctv3 is not None and native.ctv3 is None
        assert native.units == recorded.units
        assert concepts.in_scheme(recorded, snomed=True) == (
            "Snomed", native.snomed, native.snomed_term, native.units)
        assert concepts.in_scheme(recorded, snomed=False)[:2] == ("CTV3", recorded.ctv3)


def test_in_scheme_writes_snomed_only_concepts_in_snomed_whatever_the_event():
    nkda = concepts.BY_KEY["no_known_drug_allergy"]
    assert concepts.in_scheme(nkda, snomed=False) == (
        "Snomed", "409137002", "No known drug allergy", None)
    weight = concepts.BY_KEY["weight"]
    assert concepts.in_scheme(weight, snomed=True) == ("Snomed", "27113001", "Body weight", "kg")


def test_uk_core_vital_signs_codes_are_held():
    for sctid in ("364075005", "86290005", "431314004", "276885007", "27113001", "50373000",
                  "60621009", "72313002", "1091811000000102"):
        assert sctid in concepts.BY_SNOMED, sctid


def test_hba1c_is_held_in_ifcc_and_dcct_units():
    ifcc, dcct = concepts.BY_KEY["hba1c"], concepts.BY_KEY["hba1c_dcct"]
    assert (ifcc.snomed, ifcc.units) == ("999791000000106", "mmol/mol")
    assert (dcct.ctv3, dcct.snomed, dcct.units) == ("XaERp", "1019431000000105", "%")


def test_no_known_allergy_codes_are_held():
    assert concepts.BY_SNOMED["409137002"].key == "no_known_drug_allergy"
    assert concepts.BY_SNOMED["716186003"].key == "no_known_allergy"


def test_the_tables_reach_well_beyond_the_first_few_concepts():
    beyond = (concepts.MORE_OBSERVATIONS + concepts.SNOMED_OBSERVATIONS + concepts.FINDINGS
              + concepts.CONDITIONS + concepts.PROCEDURES + concepts.LIFESTYLE
              + concepts.ALLERGY_STATUS)
    assert len(beyond) >= 40
    assert sum(concept.ctv3 is None for concept in beyond) >= 8
