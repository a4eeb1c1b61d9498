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


# --- Clinical codes in both schemes ------------------------------------------------

# Concepts whose CTV3 and SNOMED CT codes name the same thing: (CTV3, SNOMED CT, SNOMED
# CT display). A code keeps the scheme SystmOne returned it in and gains the other where
# listed here; codes not listed stay as they came (never dropped, never guessed).
CODE_PAIRS = (
    ("246..", "163020007", "O/E - blood pressure reading"),
    ("2469.", "163030003", "O/E - Systolic BP reading"),
    ("246A.", "163031004", "O/E - Diastolic BP reading"),
    # TPP's own weight and height concepts (before 22A../229..: a SNOMED code's CTV3 is the
    # last pair naming it).
    ("X76C7", "27113001", "Body weight"),
    ("XM01E", "50373000", "Body height measure"),
    ("22A..", "27113001", "Body weight"),
    ("229..", "50373000", "Body height measure"),
    ("22K..", "60621009", "Body mass index"),
    ("242..", "78564009", "Pulse rate"),
    ("2E3..", "386725007", "Body temperature"),
    ("XaPbt", "999791000000106", "Haemoglobin A1c level - International Federation of "
     "Clinical Chemistry and Laboratory Medicine standardised"),
    ("XaJe9", "994351000000103", "Serum total cholesterol level"),
    ("XacUK", "1011481000000105", "eGFR (estimated glomerular filtration rate) using "
     "creatinine Chronic Kidney Disease Epidemiology Collaboration equation per 1.73 "
     "square metres"),
    ("XE2q5", "1000731000000107", "Serum creatinine level"),
    ("XaERp", "1019431000000105", "HbA1c level (DCCT aligned)"),
    ("XE2eD", "1005671000000105", "Serum cholesterol level"),
    ("44P5.", "1005681000000107", "Serum HDL cholesterol level"),
    ("XaK8y", "1020291000000106", "GFR calculated by abbreviated MDRD Study Group "
     "calculation"),
    ("137R.", "77176002", "Smoker"),
    ("Ub1na", "8517006", "Ex-smoker"),
    ("XE0oh", "266919005", "Never smoked tobacco"),
    ("X40J5", "44054006", "Type 2 diabetes mellitus"),
    ("H33..", "195967001", "Asthma"),
    ("X3003", "235595009", "Gastroesophageal reflux disease"),
    ("G5730", "49436004", "Atrial fibrillation"),
)
SNOMED_OF_CTV3 = {ctv3: {"system": systems.SNOMED, "code": snomed, "display": display}
                  for ctv3, snomed, display in CODE_PAIRS}
CTV3_OF_SNOMED = {snomed: {"system": systems.CTV3, "code": ctv3}
                  for ctv3, snomed, _ in CODE_PAIRS}

# --- Observations: vital signs and laboratory results ---------------------------------

_VITALS = systems.UKCORE_VITAL_SIGNS
# UK Core's vital-signs profiles: profile, LOINC code and display (the profile's fixed
# code), and every SNOMED CT code the profile's value set names (UK Core R4 ValueSets
# UKCore-BodyWeightMeasurements, -BodyHeightMeasurements, -BMI, -HeartRate,
# -BodyTemperature, -OxygenSaturation, -RespirationRate, -HeadCircumferenceMeasurements,
# -BloodPressure-Systolic, -BloodPressure-Diastolic), plus the CTV3 codes GP systems use —
# except the codes of those value sets that are not the profile's measurement: BMI
# centiles (the BMI profile fixes kg/m2) and arm demispan / sitting height (not a body
# height); those stay plain Observations.
# Systolic and diastolic readings standing alone (no partner to make a blood-pressure
# panel) are vital signs of the generic profile.
VITAL_SIGNS = (
    (f"{_VITALS}-BodyWeight", "29463-7", "Body weight", (
        "364589006", "27113001", "363808001", "424927000", "425024002", "735395000",
        "1162388008", "445541000", "443245006", "1162420002", "1162414003", "1162416001",
        "1162421003", "784399000", "1230277003", "1162389000"), ("22A..", "X76C7")),
    (f"{_VITALS}-BodyHeight", "8302-2", "Body height", (
        "1153637007", "50373000", "1162418000", "248337003", "1162417005",
        "1162392001", "1149101003", "1162419008", "1230278008", "248333004"),
     ("229..", "XM01E")),
    (f"{_VITALS}-BMI", "39156-5", "Body mass index (BMI) [Ratio]", ("60621009",),
     ("22K..",)),
    (f"{_VITALS}-HeartRate", "8867-4", "Heart rate", (
        "422119006", "429525003", "249043002", "364075005", "1089491000000108", "399017001",
        "429614003", "78564009", "843941000000100", "444981005"), ("242..",)),
    (f"{_VITALS}-BodyTemperature", "8310-5", "Body temperature", (
        "415882003", "300076005", "698832009", "386725007", "431807005", "276885007",
        "1222808002", "415921007", "415922000", "415929009", "698831002", "415945006",
        "307047009", "708499008", "415974002"), ("2E3..",)),
    (f"{_VITALS}-OxygenSaturation", "2708-6", "Oxygen saturation in Arterial blood", (
        "442476006", "1097811000000106", "1097821000000100", "103228002", "1017311000000104",
        "442440005", "718059008", "373638005", "442381003", "442386008", "866661000000106",
        "866681000000102", "866701000000100", "866721000000109", "431314004"), ()),
    (f"{_VITALS}-RespirationRate", "9279-1", "Respiratory rate", (
        "271625008", "86290005", "250810003"), ()),
    (f"{_VITALS}-HeadCircumference", "9843-4", "Head Occipital-frontal circumference", (
        "169876006", "363812007", "363811000", "1269262007", "248396005"), ()),
    (_VITALS, "8480-6", "Systolic blood pressure", (
        "407556006", "163030003", "1162737008", "407554009", "400974009", "72313002",
        "271649006"), ("2469.",)),
    (_VITALS, "8462-4", "Diastolic blood pressure", (
        "1091811000000102", "271650006", "407557002", "163031004", "1162735000", "407555005",
        "400975005"), ("246A.",)),
)
SYSTOLIC = VITAL_SIGNS[-2][3] + VITAL_SIGNS[-2][4]
DIASTOLIC = VITAL_SIGNS[-1][3] + VITAL_SIGNS[-1][4]

# Laboratory results GP records hold: SNOMED CT and CTV3 codes (where known), LOINC code
# and display (where one LOINC term is the same test; None otherwise). Each is a UK Core
# Lab Observation, category laboratory.
LAB_RESULTS = (
    (("999791000000106", "XaPbt"), "59261-8",  # IFCC, mmol/mol
     "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol"),
    (("1019431000000105", "XaERp"), "4548-4",  # DCCT aligned, %
     "Hemoglobin A1c/Hemoglobin.total in Blood"),
    (("994351000000103", "1005671000000105", "XaJe9", "XE2eD"), "14647-2",
     "Cholesterol [Moles/volume] in Serum or Plasma"),
    (("1005681000000107", "44P5."), "14646-4",
     "Cholesterol in HDL [Moles/volume] in Serum or Plasma"),
    (("1011481000000105", "XacUK"), "62238-1",
     "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
     "Blood by Creatinine-based formula (CKD-EPI)"),
    (("1020291000000106", "XaK8y"), "33914-3",
     "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma "
     "by Creatinine-based formula (MDRD)"),
    (("1000731000000107", "XE2q5"), "14682-9", "Creatinine [Moles/volume] in Serum or Plasma"),
    (("1000661000000107",), "2951-2", "Sodium [Moles/volume] in Serum or Plasma"),
    (("1000651000000109",), "2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
    (("1022791000000101",), "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma"),
    (("1022431000000105",), "718-7", "Hemoglobin [Mass/volume] in Blood"),
    (("1018251000000107",), "1742-6",
     "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    (("1023491000000104",), None, None),  # urine albumin:creatinine ratio
)

# "No known allergy" codes: recorded as a coded entry, served as UK Core's negated
# AllergyIntolerance (never as an allergy to something). SNOMED CT: No known allergy,
# No known drug allergy, No known environmental allergy, No known food allergy, No known
# insect allergy (716186003 and its descendants in ValueSet-UKCore-AllergyCode).
NO_KNOWN_ALLERGY = ("716186003", "409137002", "428607008", "429625007", "428197003")

_CATEGORY = systems.OBSERVATION_CATEGORY
VITAL_SIGNS_CATEGORY = {"system": _CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
LABORATORY_CATEGORY = {"system": _CATEGORY, "code": "laboratory", "display": "Laboratory"}

# Keyed by every code (either scheme) of a reading with a value: its LOINC coding, its
# category and its UK Core profile.
OBSERVATION_LOINC: dict = {}
OBSERVATION_CATEGORY: dict = {}
OBSERVATION_PROFILE: dict = {}
for _profile, _loinc, _display, _snomed, _ctv3 in VITAL_SIGNS:
    for _code in _snomed + _ctv3:
        OBSERVATION_LOINC[_code] = {"system": systems.LOINC, "code": _loinc,
                                    "display": _display}
        OBSERVATION_CATEGORY[_code] = VITAL_SIGNS_CATEGORY
        OBSERVATION_PROFILE[_code] = _profile
for _codes, _loinc, _display in LAB_RESULTS:
    for _code in _codes:
        if _loinc:
            OBSERVATION_LOINC[_code] = {"system": systems.LOINC, "code": _loinc,
                                        "display": _display}
        OBSERVATION_CATEGORY[_code] = LABORATORY_CATEGORY
        OBSERVATION_PROFILE[_code] = systems.UKCORE_LAB

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
    "breaths/min": "/min",
    "mmol/l": "mmol/L",
    "g/L": "g/L",
    "g/l": "g/L",
    "mU/L": "m[IU]/L",
    "mIU/L": "m[IU]/L",
    "U/L": "U/L",
    "iu/L": "[IU]/L",
    "IU/L": "[IU]/L",
    "mg/mmol": "mg/mmol",
    "L/min": "L/min",
    "l/min": "L/min",
    "cm/s": "cm/s",
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
    "breaths/min": "per minute", "mmol/l": "millimole per liter", "g/L": "gram per liter",
    "g/l": "gram per liter", "mU/L": "milli international unit per liter",
    "mIU/L": "milli international unit per liter", "U/L": "enzyme unit per liter",
    "iu/L": "international unit per liter", "IU/L": "international unit per liter",
    "mg/mmol": "milligram per millimole", "L/min": "liter per minute",
    "l/min": "liter per minute", "cm/s": "centimeter per second",
}

# ClinicalCode/Comparator (TPP: 3 approx, 4 equal, 5 >=, 6 >, 7 <, 8 <=) → Quantity.comparator.
# 3 and 4 have no FHIR comparator; 3 is kept in the Observation's note instead.
COMPARATOR = {"5": ">=", "6": ">", "7": "<", "8": "<="}

CONCEPT_MAPS.update({
    "snomed": SNOMED_OF_CTV3,
    "ctv3": CTV3_OF_SNOMED,
    "observation_loinc": OBSERVATION_LOINC,
    "observation_category": OBSERVATION_CATEGORY,
    "observation_profile": OBSERVATION_PROFILE,
    "ucum": UCUM,
    "ucum_system": UCUM_SYSTEM,
    "ucum_name": UCUM_NAME,
    "comparator": COMPARATOR,
})


# --- Problems, allergies, medication and immunisations ------------------------------

# ClinicalCode/Episodicity → UK Core ConditionEpisodicity (first | new | review | end;
# Extension-UKCore-ConditionEpisode, extensible binding). Only words that mean the same
# thing are coded. SystmOne's "New" covers a first episode as well as a new episode of a
# condition recorded before (TPP's XSD offers only New and Ongoing), and "Ongoing" is not
# a review, so both stay as text.
def _episodicity(code: str, display: str) -> dict:
    return {"system": systems.UKCORE_CONDITION_EPISODICITY, "code": code, "display": display}


CONDITION_EPISODICITY = {
    "First": _episodicity("first", "First"),
    "Review": _episodicity("review", "Review"),
    "End": _episodicity("end", "End"),
}

# Drug@Scheme / Ingredient@Scheme → the code system of ProductID / IngredientID.
DRUG_SYSTEM = {"Dmd": systems.DMD, "Multilex": systems.MULTILEX_DRUG}
INGREDIENT_SYSTEM = {"Dmd": systems.DMD, "Multilex": systems.MULTILEX_INGREDIENT}


def _vaccine(code: str, display: str) -> dict:
    return {"system": systems.SNOMED, "code": code, "display": display}


# Vaccination/Name → SNOMED CT vaccine product ("... only vaccine product"), only where
# the name says exactly which antigens the vaccine holds. Codes and fully specified names
# (without the "(medicinal product)" tag) as listed in eHealth Suisse's published
# SNOMED CT vaccine value set (hl7ch/ch-vacd, ch-vacd-vaccines-snomedct-vs); all are
# International Edition concepts. Names that do not say enough (Influenza, Pneumococcal
# conjugate (PCV), HPV, MenB, Hib/MenC) stay as text.
VACCINE_PRODUCT = {
    "MMR": _vaccine("871831003", "Vaccine product containing only Measles morbillivirus and "
                    "Mumps orthorubulavirus and Rubella virus antigens"),
    "Hepatitis A": _vaccine("871751006",
                            "Vaccine product containing only Hepatitis A virus antigen"),
    "Rotavirus": _vaccine("871761004", "Vaccine product containing only Rotavirus antigen"),
    "MenC": _vaccine("871866001", "Vaccine product containing only Neisseria meningitidis "
                     "serogroup C antigen"),
    "MenACWY": _vaccine("871873006", "Vaccine product containing only Neisseria meningitidis "
                        "serogroup A, C, W135 and Y antigens"),
    "DTaP/IPV/Hib/HepB": _vaccine(
        "871895005", "Vaccine product containing only Bordetella pertussis and Clostridium "
        "tetani and Corynebacterium diphtheriae and Haemophilus influenzae type B and "
        "Hepatitis B virus and Human poliovirus antigens"),
    "DTaP/IPV/Hib": _vaccine(
        "871887006", "Vaccine product containing only Bordetella pertussis and Clostridium "
        "tetani and Corynebacterium diphtheriae and Haemophilus influenzae type B and Human "
        "poliovirus antigens"),
    "DTaP/IPV": _vaccine(
        "871878002", "Vaccine product containing only Bordetella pertussis and Clostridium "
        "tetani and Corynebacterium diphtheriae and Human poliovirus antigens"),
    "Td/IPV": _vaccine("871837004", "Vaccine product containing only Clostridium tetani and "
                       "Corynebacterium diphtheriae and Human poliovirus antigens"),
    "Shingles (live)": _vaccine("871919004", "Vaccine product containing only live "
                                "attenuated Human alphaherpesvirus 3 antigen"),
    "Shingles (recombinant)": _vaccine(
        "1156183006", "Vaccine product containing only Human alphaherpesvirus 3 recombinant "
        "surface glycoprotein E antigen"),
}


def _site(code: str, display: str) -> dict:
    return {"system": systems.SNOMED, "code": code, "display": display}


# A Vaccination's Notes, when they are nothing but an injection site → UK Core
# ImmunizationAdministrationBodySite (the eight sites of its expansion). A deltoid
# injection is coded as the upper arm, the only arm sites the value set holds.
IMMUNISATION_SITE = {
    "Left deltoid": _site("368208006", "Left upper arm structure"),
    "Right deltoid": _site("368209003", "Right upper arm structure"),
    "Left upper arm": _site("368208006", "Left upper arm structure"),
    "Right upper arm": _site("368209003", "Right upper arm structure"),
    "Left thigh": _site("61396006", "Structure of left thigh"),
    "Right thigh": _site("11207009", "Structure of right thigh"),
    "Left buttock": _site("723979003", "Structure of left buttock"),
    "Right buttock": _site("723980000", "Structure of right buttock"),
    "Oral": _site("74262004", "Oral cavity structure"),
    "Intranasal": _site("279549004", "Nasal cavity structure"),
}

# The unit of a Vaccination's Dosage ("0.5 ml") → UCUM.
DOSE_UCUM = {"ml": "mL", "mL": "mL"}
DOSE_UCUM_SYSTEM = {unit: systems.UCUM for unit in DOSE_UCUM}

CONCEPT_MAPS.update({
    "condition_episodicity": CONDITION_EPISODICITY,
    "drug_system": DRUG_SYSTEM,
    "ingredient_system": INGREDIENT_SYSTEM,
    "vaccine_product": VACCINE_PRODUCT,
    "immunisation_site": IMMUNISATION_SITE,
    "dose_ucum": DOSE_UCUM,
    "dose_ucum_system": DOSE_UCUM_SYSTEM,
})


# --- Non-clinical items: tasks, appointments, relationships ---------------------------
# Keys are SystmOne's words in lower case (the mappings lower-case what they read), so
# "Not Started" and "Not started" are one status.

# Task/Status → Task.status (required binding). SystmOne extracts only tasks not yet
# completed (TPP's Tasks filter); "Not Started" is a task waiting for its assignee (FHIR's
# ready: assignment taken as given). A status not listed is served as requested (open,
# action sought) with SystmOne's word in businessStatus.
TASK_STATUS = {
    "not started": "ready",
    "started": "in-progress",
    "in progress": "in-progress",
    "on hold": "on-hold",
    "completed": "completed",
    "complete": "completed",
    "cancelled": "cancelled",
    "rejected": "rejected",
}

# Appointment/Status and Visit/Status → Appointment.status (required binding). TPP names
# "booked, DNA or cancelled". A status not listed is served as booked (SystmOne lists only
# pending bookings) with SystmOne's word in the comment.
APPOINTMENT_STATUS = {
    "booked": "booked",
    "arrived": "arrived",
    "waiting": "arrived",
    "in progress": "checked-in",
    "finished": "fulfilled",
    "seen": "fulfilled",
    "dna": "noshow",
    "did not attend": "noshow",
    "cancelled": "cancelled",
    "cancelled by patient": "cancelled",
    "cancelled by unit": "cancelled",
    "cancelled by other service": "cancelled",
}


def _role(code: str, display: str) -> dict:
    return {"system": systems.V3_ROLE_CODE, "code": code, "display": display}


def _contact_role(code: str, display: str) -> dict:
    return {"system": systems.V2_CONTACT_ROLE, "code": code, "display": display}


def _uk_role(code: str, display: str) -> dict:
    return {"system": systems.UKCORE_ADDITIONAL_RELATIONSHIP, "code": code, "display": display}


# Relationship/Type → RelatedPerson.relationship, from UK Core's PersonRelationshipType
# value set (v3 RoleCode personal relationships, v2 contact roles, UK Core's additions).
# A type not listed is served as its text alone, never guessed.
RELATIONSHIP = {
    "mother": _role("MTH", "mother"),
    "father": _role("FTH", "father"),
    "parent": _role("PRN", "parent"),
    "stepmother": _role("STPMTH", "stepmother"),
    "stepfather": _role("STPFTH", "stepfather"),
    "son": _role("SONC", "son"),
    "daughter": _role("DAUC", "daughter"),
    "child": _role("CHILD", "child"),
    "brother": _role("BRO", "brother"),
    "sister": _role("SIS", "sister"),
    "sibling": _role("SIB", "sibling"),
    "husband": _role("HUSB", "husband"),
    "wife": _role("WIFE", "wife"),
    "spouse": _role("SPS", "spouse"),
    "partner": _role("DOMPART", "domestic partner"),
    "grandmother": _role("GRMTH", "grandmother"),
    "grandfather": _role("GRFTH", "grandfather"),
    "grandparent": _role("GRPRN", "grandparent"),
    "grandson": _role("GRNDSON", "grandson"),
    "granddaughter": _role("GRNDDAU", "granddaughter"),
    "grandchild": _role("GRNDCHILD", "grandchild"),
    "aunt": _role("AUNT", "aunt"),
    "uncle": _role("UNCLE", "uncle"),
    "niece": _role("NIECE", "niece"),
    "nephew": _role("NEPHEW", "nephew"),
    "cousin": _role("COUSN", "cousin"),
    "mother-in-law": _role("MTHINLAW", "mother-in-law"),
    "father-in-law": _role("FTHINLAW", "father-in-law"),
    "son-in-law": _role("SONINLAW", "son in-law"),
    "daughter-in-law": _role("DAUINLAW", "daughter in-law"),
    "friend": _role("FRND", "unrelated friend"),
    "neighbour": _role("NBOR", "neighbor"),
    "next of kin": _contact_role("N", "Next-of-Kin"),
    "emergency contact": _contact_role("C", "Emergency Contact"),
    "carer": _uk_role("Carer", "Carer of patient"),
    "guardian": _uk_role("Guardian", "Guardian of patient"),
    "legal guardian": _uk_role("Guardian", "Guardian of patient"),
}

CONCEPT_MAPS.update({
    "task_status": TASK_STATUS,
    "appointment_status": APPOINTMENT_STATUS,
    "relationship": RELATIONSHIP,
})


# --- Investigations (DiagnosticReport) -------------------------------------------------

def _service_section(code: str, display: str) -> dict:
    return {"system": systems.V2_DIAGNOSTIC_SERVICE_SECTION, "code": code, "display": display}


# Report/Type → DiagnosticReport.category (HL7 v2 table 0074). In UK usage "Pathology" is
# the whole laboratory service (chemistry, haematology, microbiology...), which is v2's
# "LAB", not its retired "PAT" (histopathology). A Type not listed keeps its text only.
REPORT_CATEGORY = {
    "Pathology": _service_section("LAB", "Laboratory"),
    "Microbiology": _service_section("MB", "Microbiology"),
    "Haematology": _service_section("HM", "Hematology"),
    "Biochemistry": _service_section("CH", "Chemistry"),
    "Clinical Chemistry": _service_section("CH", "Chemistry"),
    "Immunology": _service_section("IMM", "Immunology"),
    "Cytology": _service_section("CP", "Cytopathology"),
    "Radiology": _service_section("RAD", "Radiology"),
}
#: A report that names no Type: GP Connect's default, "Laboratory".
LABORATORY_SECTION = REPORT_CATEGORY["Pathology"]

CONCEPT_MAPS.update({
    "report_category": REPORT_CATEGORY,
})


# --- Consultations (Encounter) --------------------------------------------------------

def _encounter_class(code: str, display: str) -> dict:
    return {"system": systems.V3_ACT_CODE, "code": code, "display": display}


# A code recorded in an Event that says how the contact took place (SNOMED CT) → the
# Encounter's class (v3 ActEncounterCode). TPP's Event carries no setting of its own, so
# this is the only place the record says; an Event holding none of these codes says nothing.
ENCOUNTER_CLASS = {
    "185317003": _encounter_class("VR", "virtual"),  # Telephone encounter
    "439708006": _encounter_class("HH", "home health"),  # Home visit
}

# An Activity's Method (TPP's UpdatePatientRecord schema) → the Encounter's class. Every
# remote method is v3 VR ("the patient and the practitioner(s) are not in the same physical
# location"); Face to face names no setting (surgery or home) and DNA no contact, so neither
# is here.
_VIRTUAL = _encounter_class("VR", "virtual")
ACTIVITY_CLASS = {method: _VIRTUAL
                  for method in ("TELEPHONE", "TEXT", "EMAIL", "E-MAIL", "LETTER", "FAX")}

CONCEPT_MAPS.update({
    "encounter_class": ENCOUNTER_CLASS,
    "activity_class": ACTIVITY_CLASS,
})


# --- Documents ------------------------------------------------------------------------

def _document_type(code: str, display: str) -> dict:
    return {"system": "http://snomed.info/sct", "code": code, "display": display}


# A Letter's Type → UK Core DocumentType (SNOMED CT's "Record composition type" reference
# set 1127551000000109, extensible; GP Connect recommends it too). Only letter types that
# name exactly a member of the set are coded; every other type stays as text.
DOCUMENT_TYPE = {
    "Referral letter": _document_type("25611000000107", "Referral letter"),
    "Outpatient letter": _document_type("823681000000100", "Outpatient letter"),
    "Discharge letter": _document_type("823701000000103", "Discharge letter"),
    "Discharge summary": _document_type("373942005", "Discharge summary"),
}

# A file name's extension (lower case) → its media type (Attachment.contentType, BCP 13).
# GP Connect lists these formats among those a practice returns.
MEDIA_TYPE = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "rtf": "application/rtf",
    "txt": "text/plain",
    "xml": "application/xml",
    "htm": "text/html",
    "html": "text/html",
}

CONCEPT_MAPS.update({
    "document_type": DOCUMENT_TYPE,
    "media_type": MEDIA_TYPE,
})


# --- Referrals and recalls (ServiceRequest) -------------------------------------------
#
# Looked up with the record's text in upper case (TPP documents none of these values; the
# case SystmOne writes them in is not promised). A value not listed here is never guessed:
# the request's status is "unknown" (GP Connect's default for referrals) or its priority
# left out, and the record's own words are kept as a note.

# Referral Status → ServiceRequest.status. A closed referral is done with; one still
# waiting is open.
REFERRAL_STATUS = {
    "AWAITING APPOINTMENT": "active",
    "CLOSED": "completed",
    "CANCELLED": "revoked",
}
# Recall Status → ServiceRequest.status, for the statuses TPP's UpdatePatientRecord schema
# lists. A pending recall stays active after its date has passed (it is overdue, not done),
# as does one awaiting a result or whose patient has been sent a 1st, 2nd or 3rd recall
# letter; a patient seen has had it; a cancelled one is revoked; a suspended one is on hold.
RECALL_STATUS = {
    "PENDING": "active",
    "AWAITING RESULT": "active",
    "1ST RECALL": "active",
    "2ND RECALL": "active",
    "3RD RECALL": "active",
    "SEEN": "completed",
    "CANCELLED BY PATIENT": "revoked",
    "CANCELLED BY CLINICIAN": "revoked",
    "SUSPENDED": "on-hold",
}
# Referral Urgency → ServiceRequest.priority (FHIR R4 request-priority). The NHS Data
# Dictionary's PRIORITY TYPE has Routine, Urgent and Two Week Wait, an urgent referral for
# suspected cancer: urgent here, with the record's words kept as a note.
REFERRAL_PRIORITY = {
    "ROUTINE": "routine",
    "URGENT": "urgent",
    "TWO WEEK WAIT": "urgent",
}

CONCEPT_MAPS.update({
    "referral_status": REFERRAL_STATUS,
    "recall_status": RECALL_STATUS,
    "referral_priority": REFERRAL_PRIORITY,
})


# --- Reminders (Flag) -------------------------------------------------------------------

def _flag_priority(code: str, display: str) -> dict:
    return {"system": systems.FLAG_PRIORITY_CODE, "code": code, "display": display}


# A Reminder's Severity (TPP's UpdatePatientRecord schema: Low, Normal, High) → FHIR R4's
# flag-priority codes. Normal is the middle of three, FHIR's "Medium priority"; SystmOne has
# no "no alarm" level, so PN is never said.
FLAG_PRIORITY = {
    "LOW": _flag_priority("PL", "Low priority"),
    "NORMAL": _flag_priority("PM", "Medium priority"),
    "HIGH": _flag_priority("PH", "High priority"),
}

CONCEPT_MAPS.update({
    "flag_priority": FLAG_PRIORITY,
})
