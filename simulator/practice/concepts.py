"""The clinical concepts and drugs the simulator records, in both coding schemes.

SystmOne holds records in CTV3 (clinical codes) and Multilex (drugs) and
translates to SNOMED CT and dm+d when a client asks for them. The generator
writes CTV3/Multilex; the renderer translates with these tables, so every code
the generator can write must appear here with both identifiers.

Sources. CTV3 codes and terms were checked against published code lists
(OpenSAFELY codelists, the University of Manchester GM-SDE clinical code sets)
and the protocol notes; SNOMED CT ids against the same code sets, the UK Core
value sets and examples, and the GP Connect blood-pressure table. A CTV3/SNOMED
pair is the concept both lists name with the same term. Pairs that could not be
confirmed carry a ``# unverified`` comment.

``units`` is the display unit SystmOne's GetReferenceData gives for a numeric
code; it is None for codes that carry no value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Concept:
    key: str
    ctv3: str
    ctv3_term: str
    snomed: str
    snomed_term: str
    units: str | None = None


@dataclass(frozen=True, slots=True)
class Drug:
    key: str
    multilex: str  # Multilex product id (fictitious, see DRUGS)
    dmd: str  # dm+d VMP id
    name: str  # dm+d VMP name, which Multilex also uses for these generics


@dataclass(frozen=True, slots=True)
class Ingredient:
    """A Multilex drug ingredient, as a DrugSensitivity names it."""

    key: str
    multilex: str  # Multilex ingredient id (fictitious, like the product ids)
    name: str  # the ingredient's name
    details: str  # what SystmOne's front end shows for an ingredient-level sensitivity


# --- observations with values -------------------------------------------------

OBSERVATIONS = (
    Concept("bp_header", "246..", "O/E - blood pressure reading",
            "163020007", "On examination - blood pressure reading"),
    Concept("systolic_bp", "2469.", "O/E - Systolic BP reading",
            "163030003", "On examination - Systolic blood pressure reading", "mmHg"),
    Concept("diastolic_bp", "246A.", "O/E - Diastolic BP reading",
            "163031004", "On examination - Diastolic blood pressure reading", "mmHg"),
    Concept("weight", "22A..", "O/E - weight", "27113001", "Body weight", "kg"),
    Concept("height", "229..", "O/E - height", "50373000", "Body height measure", "m"),
    Concept("bmi", "22K..", "Body Mass Index", "60621009", "Body mass index", "kg/m2"),
    Concept("pulse", "242..", "O/E - pulse rate", "78564009", "Pulse rate", "beats/min"),
    # CTV3 code and term from a published Read mapping; the pair is unverified.
    Concept("temperature", "2E3..", "O/E - temperature level",  # unverified
            "386725007", "Body temperature", "degrees C"),
    Concept("hba1c", "XaPbt", "HbA1c levl - IFCC standardised",
            "999791000000106",
            "Haemoglobin A1c level - International Federation of Clinical Chemistry and "
            "Laboratory Medicine standardised", "mmol/mol"),
    Concept("cholesterol", "XaJe9", "Serum total cholesterol level",
            "994351000000103", "Serum total cholesterol level", "mmol/L"),
    Concept("egfr", "XacUK",
            "Estimated glomerular filtration rate using creatinine Chronic Kidney Disease "
            "Epidemiology Collaboration equation per 1.73 square metres",
            "1011481000000105",
            "eGFR (estimated glomerular filtration rate) using creatinine Chronic Kidney "
            "Disease Epidemiology Collaboration equation per 1.73 square metres",
            "mL/min/1.73m2"),
    Concept("creatinine", "XE2q5", "Serum creatinine", "1000731000000107",
            "Serum creatinine level", "umol/L"),
)

SMOKING = (
    Concept("current_smoker", "137R.", "Smoker", "77176002", "Smoker"),
    Concept("ex_smoker", "Ub1na", "Ex-smoker", "8517006", "Ex-smoker"),
    Concept("never_smoked", "XE0oh", "Never smoked tobacco", "266919005", "Never smoked tobacco"),
)

PROBLEMS = (
    Concept("hypertension", "XE0Uc", "Essential hypertension",
            "59621000", "Essential hypertension"),
    Concept("type2_diabetes", "X40J5", "Type II diabetes mellitus",
            "44054006", "Type 2 diabetes mellitus"),
    Concept("asthma", "H33..", "Asthma", "195967001", "Asthma"),
    Concept("copd", "H3...", "COPD - Chronic obstructive pulmonary disease",
            "13645005", "Chronic obstructive lung disease"),
    Concept("hypothyroidism", "X40IQ", "Hypothyroidism", "40930008", "Hypothyroidism"),
    Concept("depression", "X00SO", "Depressive illness", "35489007", "Depressive disorder"),
    Concept("osteoarthritis", "XE1DV", "Osteoarthritis", "396275006", "Osteoarthritis"),
    Concept("atrial_fibrillation", "G5730", "Atrial fibrillation",
            "49436004", "Atrial fibrillation"),
    # X3003 is the GORD code in TPP's public Demo extract (protocol notes, section 4).
    Concept("gord", "X3003", "Gastro-oesophageal reflux disease",
            "235595009", "Gastroesophageal reflux disease"),
    Concept("ckd3", "XaLHI", "Chronic kidney disease stage 3",
            "433144002", "Chronic kidney disease stage 3"),
)

ADMINISTRATIVE = (
    Concept("medication_review", "XaF8d", "Medication review done",
            "314530002", "Medication review done"),
    Concept("diabetes_plan", "XaJYg", "Diabetes clinical management plan",
            "736284000", "Diabetes clinical management plan"),
)

# UK 2001-census ethnic categories.
ETHNICITIES = (
    Concept("white_british", "XaQEa", "White British - ethnic category 2001 census",
            "494131000000105", "White British - ethnic grouping 2001 census"),
    Concept("white_irish", "XaQEb", "White Irish - ethnic category 2001 census",
            "494161000000100", "White Irish - ethnic grouping 2001 census"),
    Concept("other_white", "XaJQx", "Other White background - ethnic category 2001 census",
            "92411000000108", "Other White background - ethnic grouping 2001 census"),
    Concept("indian", "XaJR2", "Indian or British Indian - ethnic category 2001 census",
            "110751000000108", "Indian or British Indian - ethnic grouping 2001 census"),
    Concept("pakistani", "XaJR3", "Pakistani or British Pakistani - ethnic category 2001 census",
            "92461000000105", "Pakistani or British Pakistani - ethnic grouping 2001 census"),
    Concept("caribbean", "XaJR6", "Caribbean - ethnic category 2001 census",
            "107691000000105", "Caribbean - ethnic grouping 2001 census"),
    Concept("african", "XaJR7", "African - ethnic category 2001 census",
            "92491000000104", "African - ethnic grouping 2001 census"),
    Concept("chinese", "XaJR9", "Chinese - ethnic category 2001 census",
            "92511000000107", "Chinese - ethnic grouping 2001 census"),
)

# Read's 133.. marital status codes; neither scheme's ids could be confirmed.
MARITAL_STATUSES = (
    Concept("single", "1331.", "Single", "125681006", "Single person"),  # unverified
    Concept("married", "1332.", "Married", "87915002", "Married"),  # unverified
    Concept("divorced", "1334.", "Divorced", "20295000", "Divorced"),  # unverified
    Concept("widowed", "1335.", "Widowed", "33553000", "Widowed"),  # unverified
)

LANGUAGES = (
    Concept("english", "XaG5t", "Main spoken language English",
            "315570003", "Main spoken language English"),
    Concept("urdu", "XaG6A", "Main spoken language Urdu",
            "315588006", "Main spoken language Urdu"),
    Concept("punjabi", "XaG63", "Main spoken language Punjabi",
            "315581000", "Main spoken language Punjabi"),
    Concept("polish", "XaG61", "Main spoken language Polish",
            "315579002", "Main spoken language Polish"),
)

CONCEPTS: tuple[Concept, ...] = (
    OBSERVATIONS + SMOKING + PROBLEMS + ADMINISTRATIVE + ETHNICITIES + MARITAL_STATUSES
    + LANGUAGES
)

BY_KEY: dict[str, Concept] = {concept.key: concept for concept in CONCEPTS}
BY_CTV3: dict[str, Concept] = {concept.ctv3: concept for concept in CONCEPTS}
BY_SNOMED: dict[str, Concept] = {concept.snomed: concept for concept in CONCEPTS}


# --- drugs -------------------------------------------------------------------
# Multilex product ids are proprietary (FDB); the ones below are fictitious
# seven-digit numbers in Multilex's style. dm+d ids are VMP ids checked against
# OpenSAFELY dm+d code lists (levothyroxine against NHS Digital's prescription
# tracker examples); dm+d re-identified some VMPs from 2023 onwards and keeps the
# id used here as the previous VPID. Every id passes SNOMED's Verhoeff check.

DRUGS: tuple[Drug, ...] = (
    Drug("amlodipine", "1431108", "319283006", "Amlodipine 5mg tablets"),
    Drug("ramipril", "1484206", "318902004", "Ramipril 5mg capsules"),
    Drug("lisinopril", "1472613", "318859000", "Lisinopril 10mg tablets"),
    Drug("bisoprolol", "1409957", "318590006", "Bisoprolol 5mg tablets"),
    Drug("metformin", "1512384", "325278007", "Metformin 500mg tablets"),
    Drug("atorvastatin", "1436751", "320030001", "Atorvastatin 20mg tablets"),
    Drug("simvastatin", "1538820", "320000009", "Simvastatin 40mg tablets"),
    Drug("salbutamol", "1561042", "320139002", "Salbutamol 100micrograms/dose inhaler CFC free"),
    Drug("beclometasone", "1426593", "35908111000001105",
         "Beclometasone 100micrograms/dose inhaler CFC free"),
    Drug("levothyroxine", "1497315", "374296008", "Levothyroxine sodium 100microgram tablets"),
    Drug("omeprazole", "1520746", "317335000",  # unverified dm+d id
         "Omeprazole 20mg gastro-resistant capsules"),
    Drug("sertraline", "1547169", "321949006", "Sertraline 50mg tablets"),  # unverified dm+d id
    Drug("paracetamol", "1503327", "322236009", "Paracetamol 500mg tablets"),
    Drug("apixaban", "1598540", "703908001", "Apixaban 5mg tablets"),
    # Named in drug sensitivities. Amoxicillin's id is the one NHS England's FHIR
    # guidance uses as its dm+d example; the ibuprofen, codeine and trimethoprim
    # ids come from published dm+d designation tables (codeine and trimethoprim
    # are the post-2023 VPIDs).
    Drug("amoxicillin", "1440274", "323509004", "Amoxicillin 250mg capsules"),
    Drug("ibuprofen", "1465830", "329652003", "Ibuprofen 200mg tablets"),
    Drug("codeine", "1452917", "42010411000001105", "Codeine 30mg tablets"),
    Drug("trimethoprim", "1571386", "41956211000001109", "Trimethoprim 200mg tablets"),
)

DRUG_BY_KEY: dict[str, Drug] = {drug.key: drug for drug in DRUGS}
DRUG_BY_MULTILEX: dict[str, Drug] = {drug.multilex: drug for drug in DRUGS}
DRUG_BY_DMD: dict[str, Drug] = {drug.dmd: drug for drug in DRUGS}

# --- drug ingredients ------------------------------------------------------------
# Multilex ingredient ids are proprietary too; these are fictitious. Renderers
# leave Ingredient elements in Multilex (SystmOne's extracts do the same).

INGREDIENTS: tuple[Ingredient, ...] = (
    Ingredient("penicillin", "10412", "Penicillin", "PENICILLINS"),
    Ingredient("amoxicillin", "10037", "Amoxicillin", "AMOXICILLIN"),
    Ingredient("ibuprofen", "10291", "Ibuprofen", "IBUPROFEN"),
    Ingredient("aspirin", "10058", "Aspirin", "ASPIRIN"),
    Ingredient("nsaids", "10388", "Non-steroidal anti-inflammatory drugs",
               "NON-STEROIDAL ANTI-INFLAMMATORY DRUGS"),
    Ingredient("codeine", "10144", "Codeine phosphate", "CODEINE PHOSPHATE"),
    Ingredient("trimethoprim", "10521", "Trimethoprim", "TRIMETHOPRIM"),
    Ingredient("latex", "10317", "Latex", "LATEX FOAM - ADHESIVE"),
)

INGREDIENT_BY_KEY: dict[str, Ingredient] = {item.key: item for item in INGREDIENTS}
INGREDIENT_BY_MULTILEX: dict[str, Ingredient] = {item.multilex: item for item in INGREDIENTS}
