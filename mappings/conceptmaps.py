"""Value maps, as data. Keys are SystmOne values; values are what FHIR gets."""

from . import systems

# Demographics/Sex (M, F, I, U) → Patient.gender (required binding).
GENDER = {"M": "male", "F": "female", "I": "other", "U": "unknown"}


def _ethnic(code: str, display: str) -> dict:
    return {"system": systems.UKCORE_ETHNIC_CATEGORY, "code": code, "display": display}


_WHITE_BRITISH = _ethnic("A", "White - British")
_WHITE_IRISH = _ethnic("B", "White - Irish")
_OTHER_WHITE = _ethnic("C", "White - Any other White background")
_INDIAN = _ethnic("H", "Asian or Asian British - Indian")
_PAKISTANI = _ethnic("J", "Asian or Asian British - Pakistani")
_CARIBBEAN = _ethnic("M", "Black or Black British - Caribbean")
_AFRICAN = _ethnic("N", "Black or Black British - African")
_CHINESE = _ethnic("R", "Other Ethnic Groups - Chinese")

# Demographics/Ethnicity/Code/@Code (CTV3 or SNOMED CT, 2001-census categories)
# → UK Core ethnic category (England). Codes not listed leave the extension out;
# add a site's codes through the overlay folder rather than guessing here.
ETHNIC_CATEGORY = {
    # CTV3
    "XaFwD": _WHITE_BRITISH,  # the code TPP's own specification example uses
    "XaQEa": _WHITE_BRITISH,
    "XaQEb": _WHITE_IRISH,
    "XaJQx": _OTHER_WHITE,
    "XaJR2": _INDIAN,
    "XaJR3": _PAKISTANI,
    "XaJR6": _CARIBBEAN,
    "XaJR7": _AFRICAN,
    "XaJR9": _CHINESE,
    # SNOMED CT
    "494131000000105": _WHITE_BRITISH,
    "494161000000100": _WHITE_IRISH,
    "92411000000108": _OTHER_WHITE,
    "110751000000108": _INDIAN,
    "92461000000105": _PAKISTANI,
    "107691000000105": _CARIBBEAN,
    "92491000000104": _AFRICAN,
    "92511000000107": _CHINESE,
}

CONCEPT_MAPS = {
    "gender": GENDER,
    "ethnic_category": ETHNIC_CATEGORY,
}


# --- Observations -------------------------------------------------------------------

# One row per concept: CTV3, SNOMED CT (code, display), LOINC (code, display),
# category, UK Core profile. The maps below are keyed by both the CTV3 and the
# SNOMED CT code, so a record in either OutputScheme finds its row.
_VITAL, _LAB = "vital-signs", "laboratory"
OBSERVATION_CONCEPTS = (
    ("2469.", "163030003", "On examination - Systolic blood pressure reading",
     "8480-6", "Systolic blood pressure", _VITAL, systems.UKCORE_VITAL_SIGNS),
    ("246A.", "163031004", "On examination - Diastolic blood pressure reading",
     "8462-4", "Diastolic blood pressure", _VITAL, systems.UKCORE_VITAL_SIGNS),
    ("22A..", "27113001", "Body weight", "29463-7", "Body weight", _VITAL,
     "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-BodyWeight"),
    ("229..", "50373000", "Body height measure", "8302-2", "Body height", _VITAL,
     "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-BodyHeight"),
    ("22K..", "60621009", "Body mass index", "39156-5", "Body mass index (BMI) [Ratio]", _VITAL,
     "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-BMI"),
    ("242..", "78564009", "Pulse rate", "8867-4", "Heart rate", _VITAL,
     "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-HeartRate"),
    ("2E3..", "386725007", "Body temperature", "8310-5", "Body temperature", _VITAL,
     "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-BodyTemperature"),
    ("XaPbt", "999791000000106", "Haemoglobin A1c level - International Federation of "
     "Clinical Chemistry and Laboratory Medicine standardised",
     "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", _LAB,
     systems.UKCORE_LAB),
    ("XaJe9", "994351000000103", "Serum total cholesterol level",
     "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", _LAB, systems.UKCORE_LAB),
    ("XacUK", "1011481000000105", "eGFR (estimated glomerular filtration rate) using "
     "creatinine Chronic Kidney Disease Epidemiology Collaboration equation per 1.73 square "
     "metres", "62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] "
     "in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)", _LAB, systems.UKCORE_LAB),
    ("XE2q5", "1000731000000107", "Serum creatinine level",
     "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", _LAB, systems.UKCORE_LAB),
)
_CATEGORY_DISPLAY = {_VITAL: "Vital Signs", _LAB: "Laboratory"}


def _by_both_codes(value_of) -> dict:
    table = {}
    for row in OBSERVATION_CONCEPTS:
        table[row[0]] = table[row[1]] = value_of(*row)
    return table


OBSERVATION_SNOMED = _by_both_codes(lambda ctv3, snomed, display, *_: {
    "system": systems.SNOMED, "code": snomed, "display": display})

# Coded findings reported as Observation values: smoking status (CTV3, SNOMED CT, display).
SMOKING_STATUS = (
    ("137R.", "77176002", "Smoker"),
    ("Ub1na", "8517006", "Ex-smoker"),
    ("XE0oh", "266919005", "Never smoked tobacco"),
)
for _ctv3, _snomed, _display in SMOKING_STATUS:
    OBSERVATION_SNOMED[_ctv3] = OBSERVATION_SNOMED[_snomed] = {
        "system": systems.SNOMED, "code": _snomed, "display": _display}

# SNOMED CT → the CTV3 coding of the same concept, so that a record SystmOne
# returned in SNOMED CT (as the facade asks) still carries the code GP staff know.
OBSERVATION_CTV3 = {row[1]: {"system": systems.CTV3, "code": row[0]}
                    for row in OBSERVATION_CONCEPTS}
OBSERVATION_CTV3.update({snomed: {"system": systems.CTV3, "code": ctv3}
                         for ctv3, snomed, _ in SMOKING_STATUS})
OBSERVATION_LOINC = _by_both_codes(lambda ctv3, snomed, display, loinc, loinc_display, *_: {
    "system": systems.LOINC, "code": loinc, "display": loinc_display})
OBSERVATION_CATEGORY = _by_both_codes(lambda *row: {
    "system": systems.OBSERVATION_CATEGORY, "code": row[5],
    "display": _CATEGORY_DISPLAY[row[5]]})
OBSERVATION_PROFILE = _by_both_codes(lambda *row: row[6])

# SystmOne's unit text (GetReferenceData's NumericReadCodeUnits) → UCUM code.
UCUM = {
    "kg": "kg",
    "m": "m",
    "cm": "cm",
    "kg/m2": "kg/m2",
    "mmHg": "mm[Hg]",
    "beats/min": "/min",
    "/min": "/min",
    "degrees C": "Cel",
    "mmol/mol": "mmol/mol",
    "mmol/L": "mmol/L",
    "umol/L": "umol/L",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "%": "%",
}
UCUM_SYSTEM = {unit: systems.UCUM for unit in UCUM}
# SystmOne's unit text → the UCUM unit's name, which UK Core's vital-signs
# profiles fix as Quantity.unit (e.g. "kilogram", "millimeter of mercury").
UCUM_NAME = {
    "kg": "kilogram", "m": "meter", "cm": "centimeter", "kg/m2": "kilogram / (meter ^ 2)",
    "mmHg": "millimeter of mercury", "beats/min": "per minute", "/min": "per minute",
    "degrees C": "degree Celsius", "mmol/mol": "millimole per mole",
    "mmol/L": "millimole per liter", "umol/L": "micromole per liter",
    "mL/min/1.73m2": "milliliter per minute per 1.73 square meter", "%": "percent",
}

# ClinicalCode/Comparator (TPP: 3 approx, 4 equal, 5 >=, 6 >, 7 <, 8 <=) → Quantity.comparator.
# 3 and 4 have no FHIR comparator; 3 is kept in the Observation's note instead.
COMPARATOR = {"5": ">=", "6": ">", "7": "<", "8": "<="}

CONCEPT_MAPS.update({
    "observation_snomed": OBSERVATION_SNOMED,
    "observation_loinc": OBSERVATION_LOINC,
    "observation_category": OBSERVATION_CATEGORY,
    "observation_profile": OBSERVATION_PROFILE,
    "ucum": UCUM,
    "ucum_system": UCUM_SYSTEM,
    "ucum_name": UCUM_NAME,
    "observation_ctv3": OBSERVATION_CTV3,
    "comparator": COMPARATOR,
})
