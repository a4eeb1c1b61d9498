"""The clinical concepts and drugs the simulator records, in both coding schemes.

SystmOne holds records in CTV3 (clinical codes) and Multilex (drugs), and also
holds items entered natively in SNOMED CT; it translates between the two
schemes (and from Multilex to dm+d) when a client asks for one. The generator
writes CTV3/Multilex, and SNOMED CT for part of the items entered in the SNOMED
era; the renderer translates with these tables. A concept with no CTV3 pair
(``ctv3`` None) exists only in SNOMED CT: it is always written in SNOMED CT and
returned as recorded whatever scheme is asked for, as SystmOne does with a code
it cannot map.

The tables deliberately reach well beyond what the facade's own mappings know
(minor illnesses, symptoms, procedures, lifestyle and administrative codes,
more observations and laboratory results), so that generated records carry
codes a mapper has not seen, as genuine records do.

Sources. CTV3 codes and terms were checked against published code lists
(OpenSAFELY codelists, the University of Manchester GM-SDE clinical code sets)
and the protocol notes; SNOMED CT ids against the same code sets, the UK Core
value sets and examples, and the GP Connect blood-pressure table. A CTV3/SNOMED
pair is the concept both lists name with the same term. Pairs that could not be
confirmed carry a ``# unverified`` comment.

``units`` is the display unit SystmOne's GetReferenceData gives for a numeric
code; it is None for codes that carry no value.

``NATIVE_SNOMED`` says which concept an item is written with when it is entered
in SNOMED CT and the clinician's template picks a different concept from the
CTV3 one's pair (SNOMED-era templates use the codes UK Core's vital-signs
profiles name, e.g. heart rate rather than pulse rate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Concept:
    key: str
    ctv3: str | None  # None: a SNOMED CT concept with no CTV3 pair
    ctv3_term: str | None
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
    # 9N31. sits under Read's 9N3.. indirect encounters; the pair is unverified.
    Concept("telephone_encounter", "9N31.", "Telephone encounter",  # unverified
            "185317003", "Telephone encounter"),
    Concept("diabetes_plan", "XaJYg", "Diabetes clinical management plan",
            "736284000", "Diabetes clinical management plan"),
)

# --- beyond the facade's own mappings ---------------------------------------------
# The groups from here to ALLERGY_STATUS give records codes the facade's mappings do
# not know. "# unverified" marks a pair (or, where the comment says so, one side) that
# no public list at hand confirmed; every SNOMED CT id at least passes the Verhoeff
# check digit (tests/simulator/test_concepts.py).

# Observations and results, in CTV3 with a SNOMED CT pair.
MORE_OBSERVATIONS = (
    # CTV3 from an OpenSAFELY CTV3 pulse-oximetry codelist (built from the COPD QOF
    # "oxygen saturation value" codes); SNOMED CT from UK Core's oxygen-saturation
    # value set.
    Concept("o2_saturation", "X770D", "Oxygen saturation at periphery",
            "431314004", "Peripheral oxygen saturation", "%"),
    Concept("waist", "22N0.", "Waist circumference",  # unverified
            "276361009", "Waist circumference", "cm"),
    Concept("peak_flow", "339A.", "Peak flow rate",  # unverified
            "18491006", "Peak expiratory flow rate", "L/min"),
    # SNOMED CT ids of the laboratory results below from OpenSAFELY's "numerical
    # value" SNOMED codelists (sodium, ALT); the CTV3 codes are unverified.
    Concept("sodium", "XE2q0", "Serum sodium",  # unverified CTV3
            "1000661000000107", "Serum sodium level", "mmol/L"),
    Concept("potassium", "XE2pz", "Serum potassium",  # unverified
            "1000651000000109", "Serum potassium level", "mmol/L"),
    Concept("tsh", "XaELV", "Serum TSH level",  # unverified
            "1022791000000101", "Serum TSH (thyroid stimulating hormone) level", "mU/L"),
    Concept("haemoglobin", "423..", "Haemoglobin estimation",  # unverified
            "1022431000000105", "Haemoglobin estimation", "g/L"),
    Concept("alt", "44G3.", "ALT/SGPT serum level",  # unverified CTV3
            "1018251000000107", "Serum alanine aminotransferase level", "u/L"),
    Concept("urine_acr", "46TC.", "Urine albumin:creatinine ratio",  # unverified
            "1023491000000104", "Urine albumin:creatinine ratio", "mg/mmol"),
    # A ratio: written with no Units element.
    Concept("cholesterol_hdl_ratio", "44lF.", "Serum cholesterol/HDL ratio",  # unverified
            "1015681000000109", "Serum cholesterol/HDL (high density lipoprotein) ratio"),
    # HbA1c as labs reported it before the move to IFCC units (mmol/mol) in 2009-11: a
    # percentage. Both codes as the GM-SDE HbA1c code set lists them; the SNOMED CT term
    # is unverified. (1019431000000105 is this DCCT-aligned code, not the IFCC one.)
    Concept("hba1c_dcct", "XaERp", "HbA1c level (DCCT aligned)",
            "1019431000000105", "HbA1c level (DCCT aligned)", "%"),  # unverified term
    # SNOMED CT from UK Core's alcohol-consumption value set; the pair is unverified.
    Concept("alcohol_units", "136V.", "Alcohol units per week",  # unverified
            "1082641000000106", "Alcohol units consumed per week", "U/week"),
)

# Observations that exist only in SNOMED CT here: the codes UK Core's vital-signs
# profiles and value sets name (heart rate, respiratory rate, core temperature,
# arterial pressures, blood pressure), which SNOMED-era templates record.
SNOMED_OBSERVATIONS = (
    Concept("heart_rate", None, None, "364075005", "Heart rate", "beats/min"),
    Concept("respiratory_rate", None, None, "86290005", "Respiratory rate", "/min"),
    Concept("core_temperature", None, None, "276885007", "Core body temperature", "degrees C"),
    Concept("systolic_arterial", None, None, "72313002", "Systolic arterial pressure", "mmHg"),
    Concept("diastolic_arterial", None, None, "1091811000000102", "Diastolic arterial pressure",
            "mmHg"),
    Concept("blood_pressure", None, None, "75367002", "Blood pressure"),
)

# Minor illnesses and symptoms, coded in routine consultations.
FINDINGS = (
    Concept("low_back_pain", "N142.", "Low back pain",  # unverified
            "279039007", "Low back pain"),
    Concept("sciatica", "N143.", "Sciatica", "23056005", "Sciatica"),  # unverified
    Concept("urti", "H05z.", "Upper respiratory infection NOS",  # unverified
            "54150009", "Upper respiratory infection"),
    Concept("chest_infection", "H06z0", "Chest infection NOS",  # unverified
            "275498002", "Respiratory tract infection"),
    Concept("tonsillitis", "H03..", "Acute tonsillitis",  # unverified
            "17741008", "Acute tonsillitis"),
    Concept("sore_throat", "1C9..", "Sore throat symptom",  # unverified
            "162397003", "Pain in throat"),
    # Read 171.. maps to 49727002 in an OpenSAFELY Read/CTV3/SNOMED mapping file.
    Concept("cough", "171..", "Cough", "49727002", "Cough"),
    Concept("otitis_media", "F52..", "Otitis media",  # unverified
            "65363002", "Otitis media"),
    # CTV3 code and term from a public Read 3 mapping package's tests; pair unverified.
    Concept("uti", "XE0e0", "Infection of urinary tract",  # unverified
            "68566005", "Urinary tract infectious disease"),
    Concept("headache", "1B1G.", "Headache", "25064002", "Headache"),  # unverified
    Concept("insomnia", "1B1B.", "Cannot sleep - insomnia",  # unverified
            "193462001", "Insomnia"),
    Concept("tiredness", "1683.", "Tiredness symptom", "84229001", "Fatigue"),  # unverified
    Concept("dyspepsia", "J16y4", "Dyspepsia", "162031009", "Indigestion"),  # unverified
    Concept("constipation", "19C2.", "Constipation",  # unverified
            "14760008", "Constipation"),
    Concept("eczema", "M111.", "Atopic dermatitis/eczema",  # unverified
            "24079001", "Atopic dermatitis"),
    # XM02V is the raised blood pressure code of TPP's public Demo extract (protocol
    # notes, section 4); its term and pair are unverified.
    Concept("raised_bp", "XM02V", "Raised blood pressure reading",  # unverified
            "24184005", "Finding of increased blood pressure"),
)

# Longer-term conditions the facade's mappings do not know.
CONDITIONS = (
    # XE0Ub is the hypertension code of TPP's public Demo extract; the pair is UMLS's
    # (its Read Codes source against SNOMED CT), seen in a public text-analytics sample.
    Concept("hypertensive_disease", "XE0Ub", "Hypertensive disease",
            "38341003", "Hypertensive disorder, systemic arterial"),
    Concept("migraine", "F26..", "Migraine", "37796009", "Migraine"),  # unverified
    Concept("anxiety", "E2002", "Generalised anxiety disorder",  # unverified
            "21897009", "Generalized anxiety disorder"),
    Concept("obesity", "C380.", "Obesity", "414916001", "Obesity"),  # unverified
    # SNOMED CT term as GP Connect's demonstrator data writes it; CTV3 unverified.
    Concept("hay_fever", "H171.", "Allergic rhinitis due to pollens",  # unverified
            "21719001", "Allergic rhinitis caused by pollen"),
    Concept("gout", "C34..", "Gout", "90560007", "Gout"),  # unverified
    Concept("osteoporosis", "N330.", "Osteoporosis",  # unverified
            "64859006", "Osteoporosis"),
    # 621.. is the pregnancy code of TPP's public Demo extract; the pair is unverified.
    Concept("pregnant", "621..", "Patient currently pregnant",  # unverified
            "77386006", "Pregnant"),
)

PROCEDURES = (
    Concept("flu_vaccination", "65E..", "Influenza vaccination",  # unverified
            "86198006", "Influenza vaccination"),
    # The next two CTV3 codes and terms are in OpenSAFELY's CTV3 codelist of
    # influenza vaccinations given; their SNOMED CT ids are unverified.
    Concept("flu_first_inactivated", "Xad9j",
            "Administration of first inactivated seasonal influenza vaccination",
            "884861000000100",  # unverified
            "Administration of first inactivated seasonal influenza vaccination"),
    Concept("flu_by_pharmacist", "XaZfY", "Seasonal influenza vaccination given by pharmacist",
            "955691000000108",  # unverified
            "Seasonal influenza vaccination given by pharmacist"),
    Concept("pneumococcal_vaccination", "6572.", "Pneumococcal vaccination",  # unverified
            "12866006", "Pneumococcal vaccination"),
    # Recorded in SNOMED CT only (no CTV3 pair held).
    Concept("ecg", None, None, "268400002", "12 lead electrocardiogram"),
    Concept("spirometry", None, None, "127783003", "Spirometry"),
)

LIFESTYLE = (
    Concept("teetotaller", "1361.", "Teetotaller", "105542008", "Teetotaller"),  # unverified
    Concept("trivial_drinker", "1362.", "Trivial drinker - <1u/day",  # unverified
            "266917007", "Trivial drinker - <1u/day"),
    Concept("bmi_normal", "22K1.", "Body Mass Index normal K/M2",  # unverified
            "35425004", "Normal body mass index"),
    Concept("bmi_overweight", "22K4.", "Body mass index index 25-29 - overweight",  # unverified
            "162863004", "Body mass index 25-29 - overweight"),
    Concept("bmi_obese", "22K5.", "Body mass index 30+ - obesity",  # unverified
            "162864005", "Body mass index 30+ - obesity"),
)

# "No known allergy" statements, written as plain ClinicalCode items. Both SNOMED CT
# ids are the ones UK Core's allergy-code value set and FHIR's NKDA example use; no
# CTV3 code for either could be confirmed, so they are held in SNOMED CT only.
ALLERGY_STATUS = (
    Concept("no_known_drug_allergy", None, None, "409137002", "No known drug allergy"),
    Concept("no_known_allergy", None, None, "716186003", "No known allergy"),
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
    OBSERVATIONS + SMOKING + PROBLEMS + ADMINISTRATIVE + MORE_OBSERVATIONS
    + SNOMED_OBSERVATIONS + FINDINGS + CONDITIONS + PROCEDURES + LIFESTYLE + ALLERGY_STATUS
    + ETHNICITIES + MARITAL_STATUSES + LANGUAGES
)

BY_KEY: dict[str, Concept] = {concept.key: concept for concept in CONCEPTS}
BY_CTV3: dict[str, Concept] = {concept.ctv3: concept for concept in CONCEPTS
                               if concept.ctv3 is not None}
BY_SNOMED: dict[str, Concept] = {concept.snomed: concept for concept in CONCEPTS}

#: Concept key -> the concept an item of it is written with when entered in SNOMED CT.
NATIVE_SNOMED: dict[str, Concept] = {key: BY_KEY[native] for key, native in (
    ("pulse", "heart_rate"), ("temperature", "core_temperature"),
    ("systolic_bp", "systolic_arterial"), ("diastolic_bp", "diastolic_arterial"),
    ("bp_header", "blood_pressure"))}


def in_scheme(concept: Concept, snomed: bool) -> tuple[str, str, str, str | None]:
    """(scheme, code, term, units) an item of ``concept`` is written with.

    ``snomed``: the item is entered in SNOMED CT. Concepts without a CTV3 code
    are always in SNOMED CT.
    """
    if snomed or concept.ctv3 is None:
        native = NATIVE_SNOMED.get(concept.key, concept)
        return "Snomed", native.snomed, native.snomed_term, native.units
    return "CTV3", concept.ctv3, concept.ctv3_term or "", concept.units


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
