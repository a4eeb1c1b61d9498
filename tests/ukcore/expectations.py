"""UK Core R4, LOINC and UCUM expectations, written out by hand.

Every table names the file it was read from. ``REF`` below is the read-only copy of UK Core
kept beside the repository (``../shared/reference/ukcore``, a snapshot of
NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN, 2025-06-20, commit 3d2827e3); ``TPP`` is
``../shared/reference/tpp``. Where the reference is silent (FHIR R4 base value sets, CTV3 and
the laboratory codes), the comment names the outside source instead.

Nothing here is read from ``mappings/`` or ``facade/mapping/``: these are the values the
mapped output is checked against, so they must not come from the table under test.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Systems -------------------------------------------------------------------------------

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# dm+d: REF/valuesets/ValueSet-UKCore-MedicationCode.xml (compose.include.system) and every
# medication example in REF/examples (e.g. UKCore-Medication-TimoptolEyeDrops-Example.xml).
DMD = "https://dmd.nhs.uk"
# The reference has no NamingSystems. CTV3, Read v2 and Multilex are listed on UK Core's
# "Terminology Systems" guidance page (NHSDigital/IOPS-FHIR-Simplifier-Backup,
# HL7FHIRUKCoreR4/.../Guidance/NamingSystems/Terminology-Systems.page.md: READ CTV3
# http://read.info/ctv3 (retired), READ V2 http://read.info/readv2 (retired), Multilex Drug
# https://fhir.hl7.org.uk/Id/multilex-drug-codes) and, identically, in GP Connect's
# "Common code systems" page. http://read.info/ctv3 is also FHIR R4's own URI for CTV3.
CTV3 = "http://read.info/ctv3"
READ_V2 = "http://read.info/readv2"
MULTILEX = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
# REF/examples/UKCore-Patient-RichardSmith-Example.xml; fixedUri in
# REF/structuredefinitions/UKCore-Patient.xml (Patient.identifier:nhsNumber.system).
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
UKCORE_CONDITION_CATEGORY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-ConditionCategory"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
UKCORE_MEDREQ_CATEGORY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-MedicationRequestCategory"
MEDREQ_COURSE = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
UKCORE_MEDREQ_COURSE = "https://fhir.hl7.org.uk/CodeSystem/UKCore-MedicationRequestCourseOfTherapy"
MEDSTMT_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
UKCORE_MEDSTMT_CATEGORY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-MedicationStatementCategory"
UKCORE_LIST_EMPTY_REASON = "https://fhir.hl7.org.uk/CodeSystem/UKCore-ListEmptyReasonCode"

# TPP's coding schemes (the Scheme attribute) -> FHIR system.
# TPP/spec-v33.4.txt: Code Scheme "CTV3" (the default) or "Snomed" (lines 1595, 1859-1875);
# Drug Scheme "Multilex" (the default) or "Dmd" with OutputScheme (lines 322-323, 1002-1006).
TPP_SCHEME_SYSTEMS = {
    "CTV3": CTV3,
    "Snomed": SNOMED,
    "Multilex": MULTILEX,
    "Dmd": DMD,
}

# --- Profiles ------------------------------------------------------------------------------

UKCORE_SD = "https://fhir.hl7.org.uk/StructureDefinition/"

# <url> of each REF/structuredefinitions/UKCore-<Type>.xml.
PROFILES = {
    "AllergyIntolerance": UKCORE_SD + "UKCore-AllergyIntolerance",
    "Condition": UKCORE_SD + "UKCore-Condition",
    "Immunization": UKCORE_SD + "UKCore-Immunization",
    "List": UKCORE_SD + "UKCore-List",
    "Medication": UKCORE_SD + "UKCore-Medication",
    "MedicationRequest": UKCORE_SD + "UKCore-MedicationRequest",
    "MedicationStatement": UKCORE_SD + "UKCore-MedicationStatement",
    "Observation": UKCORE_SD + "UKCore-Observation",
    "Patient": UKCORE_SD + "UKCore-Patient",
    "Practitioner": UKCORE_SD + "UKCore-Practitioner",
    "Organization": UKCORE_SD + "UKCore-Organization",
}

# REF/structuredefinitions/UKCore-Observation-Lab.xml. Its baseDefinition is the base FHIR
# Observation, not UKCore-Observation.
OBSERVATION_LAB = UKCORE_SD + "UKCore-Observation-Lab"
# REF/structuredefinitions/UKCore-Observation-VitalSigns.xml (base: UKCore-Observation).
VITAL_SIGNS_PROFILE = UKCORE_SD + "UKCore-Observation-VitalSigns"

# Every Observation profile in REF/structuredefinitions/UKCore-Observation*.xml.
OBSERVATION_PROFILES = frozenset(
    UKCORE_SD + name
    for name in (
        "UKCore-Observation",
        "UKCore-Observation-Lab",
        "UKCore-Observation-Group-Lab",
        "UKCore-Observation-VitalSigns",
        "UKCore-Observation-VitalSigns-BloodPressure",
        "UKCore-Observation-VitalSigns-BodyHeight",
        "UKCore-Observation-VitalSigns-BodyWeight",
        "UKCore-Observation-VitalSigns-BMI",
        "UKCore-Observation-VitalSigns-HeartRate",
        "UKCore-Observation-VitalSigns-BodyTemperature",
        "UKCore-Observation-VitalSigns-RespirationRate",
        "UKCore-Observation-VitalSigns-OxygenSaturation",
        "UKCore-Observation-VitalSigns-HeadCircumference",
        "UKCore-Observation-ACVPU",
        "UKCore-Observation-AlcoholConsumption",
        "UKCore-Observation-AverageBloodPressure",
        "UKCore-Observation-BloodGlucose",
        "UKCore-Observation-EarlyWarningTotalScore",
        "UKCore-Observation-InspiredOxygen",
        "UKCore-Observation-TobaccoConsumption",
    )
)


def profiles_for(resource_type: str) -> frozenset[str]:
    """The UK Core profile URLs a resource of this type may claim."""
    if resource_type == "Observation":
        return OBSERVATION_PROFILES
    url = PROFILES.get(resource_type)
    return frozenset({url}) if url else frozenset()


# --- Vital signs ---------------------------------------------------------------------------
#
# UKCore-Observation-VitalSigns (REF/structuredefinitions/UKCore-Observation-VitalSigns.xml)
# is the base of the specific profiles below. Its differential:
#   - constraint ukcore-obs-vs-001: code.coding SHALL include a LOINC "magic code";
#   - status fixedCode "final" (so an amended or corrected reading does not conform);
#   - category min 1, max 1, coding.system fixed observation-category, coding.code fixed
#     "vital-signs";
#   - code.coding sliced by system: loinc 1..1 (system http://loinc.org, extensible binding to
#     observation-vitalsignresult), snomedCT 1..* (system http://snomed.info/sct);
#   - subject 1..1, effective[x] 1..1.
VITAL_SIGNS_FIXED_STATUS = "final"
VITAL_SIGNS_CATEGORY = "vital-signs"


@dataclass(frozen=True)
class VitalSign:
    key: str
    profile: str
    loinc: str | None  # the fixedCode of code.coding:loinc.code (None: the generic profile)
    loinc_display: str | None  # as written in the profile's example
    snomed: frozenset[str]  # SNOMED CT codes that make an Observation this vital sign
    ucum: frozenset[str]  # allowed valueQuantity.code (empty: no value, e.g. blood pressure)
    unit: str | None  # fixedString of valueQuantity.unit, when the profile fixes one
    single_snomed: bool  # code.coding:snomedCT max 1
    source: str


def _vs(name: str) -> str:
    return UKCORE_SD + "UKCore-Observation-VitalSigns-" + name


VITAL_SIGNS: dict[str, VitalSign] = {
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-BloodPressure.xml: LOINC 85354-9;
    # value[x] max 0; component 1..2 (SystolicBP 1..1, DiastolicBP 0..1, see BP_COMPONENTS);
    # specimen max 0. SNOMED: REF/valuesets/ValueSet-UKCore-BloodPressure.xml (preferred).
    # Only the systemic/arterial blood pressures of that value set are keyed here. It also
    # names venous, atrial, wedge and pulse pressures (71420008 central venous, 37476000
    # jugular venous, 252076005 venous, 76882007 venous wedge, 37087001 arterial wedge,
    # 371829003 pulmonary vein wedge, 251068006 atrial, 276760007 left atrial, 276755008
    # right atrial, 165077006 intracardiac, 87179004 arterial pulse pressure), which have no
    # systolic/diastolic pair and are not keyed (BP_VALUESET_NOT_KEYED).
    # Example: REF/examples/UKCore-Observation-VitalSigns-BloodPressure-Example.xml.
    "BloodPressure": VitalSign(
        key="BloodPressure",
        profile=_vs("BloodPressure"),
        loinc="85354-9",
        loinc_display="Blood pressure panel with all children optional",
        snomed=frozenset({
            "75367002",  # Blood pressure
            "163020007",  # O/E - blood pressure reading
            "163033001",  # Lying blood pressure
            "163035008",  # Sitting blood pressure
            "163034007",  # Standing blood pressure
            "723237002",  # Non-invasive blood pressure
            "251076008",  # Non-invasive arterial pressure
            "1036531000000108",  # Non-invasive central blood pressure
            "335661000000109",  # Self measured blood pressure reading
            "386534000",  # Arterial blood pressure
            "386532001",  # Invasive arterial pressure
            "386533006",  # Invasive blood pressure
            "364090009",  # Systemic arterial pressure
            "386536003",  # Systemic blood pressure
        }),
        ucum=frozenset(),
        unit=None,
        single_snomed=False,
        source="UKCore-Observation-VitalSigns-BloodPressure.xml, ValueSet-UKCore-BloodPressure.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-BodyHeight.xml: LOINC 8302-2;
    # value[x] 1..1 Quantity, required binding to all-distance-units (UCUM, canonical unit m):
    # the profile fixes no unit. SNOMED: REF/valuesets/ValueSet-UKCore-BodyHeightMeasurements.xml
    # less 1003998008 Arm demispan and 248335006 Sitting height, which are not body heights
    # (8302-2). Example (1.64 m): UKCore-Observation-VitalSigns-BodyHeight-Example.xml.
    "BodyHeight": VitalSign(
        key="BodyHeight",
        profile=_vs("BodyHeight"),
        loinc="8302-2",
        loinc_display="Body height",
        snomed=frozenset({
            "50373000",  # Body height measure
            "1153637007",  # Body height
            "1162418000",  # Estimated body height
            "248337003",  # Height from demispan
            "1162417005",  # Pre-amputation estimated body height
            "1162392001",  # Pre-amputation measured body height
            "1149101003",  # Recumbent body height
            "1162419008",  # Self reported body height
            "1230278008",  # Self reported peak adult body height
            "248333004",  # Standing height
        }),
        # Members of all-distance-units a GP record can hold (UCUM; canonical unit m).
        ucum=frozenset({"m", "cm", "mm", "[in_i]", "[ft_i]"}),
        unit=None,
        single_snomed=False,
        source="UKCore-Observation-VitalSigns-BodyHeight.xml, "
        "ValueSet-UKCore-BodyHeightMeasurements.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-BodyWeight.xml: LOINC 29463-7;
    # valueQuantity unit fixedString "kilogram", system UCUM, code fixedCode "kg" (so a birth
    # weight in grams must be converted). SNOMED:
    # REF/valuesets/ValueSet-UKCore-BodyWeightMeasurements.xml (whole expansion).
    "BodyWeight": VitalSign(
        key="BodyWeight",
        profile=_vs("BodyWeight"),
        loinc="29463-7",
        loinc_display="Body weight",
        snomed=frozenset({
            "27113001",  # Body weight
            "363808001",  # Body weight measure
            "364589006",  # Birth weight
            "424927000",  # Body weight with shoes
            "425024002",  # Body weight without shoes
            "735395000",  # Current body weight
            "1162388008",  # Dosing body weight
            "445541000",  # Dry body weight
            "443245006",  # Estimated weight using Broselow Luten paediatric weight estimation
            "1162420002",  # Post-dialysis body weight
            "1162414003",  # Pre-amputation estimated body weight
            "1162416001",  # Pre-amputation measured body weight
            "1162421003",  # Pre-dialysis body weight
            "784399000",  # Self reported body weight
            "1230277003",  # Self reported peak body weight
            "1162389000",  # Self reported pre-pregnancy body weight
        }),
        ucum=frozenset({"kg"}),
        unit="kilogram",
        single_snomed=False,
        source="UKCore-Observation-VitalSigns-BodyWeight.xml, "
        "ValueSet-UKCore-BodyWeightMeasurements.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-BMI.xml: LOINC 39156-5;
    # code.coding:snomedCT max 1; value 1..1, system 1..1 UCUM, code 1..1 fixedCode "kg/m2"
    # (no fixed unit display; the example writes "kilogram / (meter ^ 2)").
    # SNOMED: REF/valuesets/ValueSet-UKCore-BMI.xml, less its four centiles (446974000,
    # 1153602009, 896691000000102, 926011000000101): the profile fixes kg/m2 and LOINC
    # 39156-5 (a ratio), which a centile is not.
    "BMI": VitalSign(
        key="BMI",
        profile=_vs("BMI"),
        loinc="39156-5",
        loinc_display="Body mass index (BMI) [Ratio]",
        snomed=frozenset({"60621009"}),  # Body mass index
        ucum=frozenset({"kg/m2"}),
        unit=None,
        single_snomed=True,
        source="UKCore-Observation-VitalSigns-BMI.xml, ValueSet-UKCore-BMI.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-HeartRate.xml: LOINC 8867-4;
    # snomedCT max 1; value, unit ("per minute"), system (UCUM) and code ("/min", not
    # "{beats}/min") all 1..1 and fixed. SNOMED: REF/valuesets/ValueSet-UKCore-HeartRate.xml.
    "HeartRate": VitalSign(
        key="HeartRate",
        profile=_vs("HeartRate"),
        loinc="8867-4",
        loinc_display="Heart rate",
        snomed=frozenset({
            "364075005",  # Heart rate
            "78564009",  # Pulse rate
            "444981005",  # Resting heart rate
            "422119006",  # Brachial pulse rate
            "429525003",  # Dorsalis pedis pulse rate
            "249043002",  # Fetal heart rate
            "1089491000000108",  # Heart rate at cardiac apex
            "399017001",  # Heart rate on admission
            "429614003",  # Posterior tibial pulse rate
            "843941000000100",  # Radial pulse rate
        }),
        ucum=frozenset({"/min"}),
        unit="per minute",
        single_snomed=True,
        source="UKCore-Observation-VitalSigns-HeartRate.xml, ValueSet-UKCore-HeartRate.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-BodyTemperature.xml: LOINC 8310-5;
    # snomedCT max 1; unit 1..1 fixedString "degree Celsius", system UCUM, code "Cel".
    # SNOMED: REF/valuesets/ValueSet-UKCore-BodyTemperature.xml (whole expansion).
    "BodyTemperature": VitalSign(
        key="BodyTemperature",
        profile=_vs("BodyTemperature"),
        loinc="8310-5",
        loinc_display="Body temperature",
        snomed=frozenset({
            "386725007",  # Body temperature
            "276885007",  # Core body temperature
            "415882003",  # Axillary temperature
            "300076005",  # Basal body temperature
            "698832009",  # Bladder temperature
            "431807005",  # Body temperature taken with digital thermometer
            "1222808002",  # Core body temperature measured in blood
            "415921007",  # Forehead skin strip temperature
            "415922000",  # Forehead temperature
            "415929009",  # Groin temperature
            "698831002",  # Nasopharyngeal temperature
            "415945006",  # Oral temperature
            "307047009",  # Rectal temperature
            "708499008",  # Temperature of neonate at birth
            "415974002",  # Tympanic temperature
        }),
        ucum=frozenset({"Cel"}),
        unit="degree Celsius",
        single_snomed=True,
        source="UKCore-Observation-VitalSigns-BodyTemperature.xml, "
        "ValueSet-UKCore-BodyTemperature.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-RespirationRate.xml: LOINC 9279-1;
    # unit 1..1 "per minute", system UCUM, code "/min". The snomedCT slice has no max 1 here.
    # SNOMED: REF/valuesets/ValueSet-UKCore-RespirationRate.xml. (The example's file is named
    # ...-RespiratoryRate-Example.xml; the profile is ...-RespirationRate.)
    "RespirationRate": VitalSign(
        key="RespirationRate",
        profile=_vs("RespirationRate"),
        loinc="9279-1",
        loinc_display="Respiratory Rate",
        snomed=frozenset({
            "86290005",  # Respiratory rate
            "271625008",  # Rate of spontaneous respiration
            "250810003",  # Total breath rate
        }),
        ucum=frozenset({"/min"}),
        unit="per minute",
        single_snomed=False,
        source="UKCore-Observation-VitalSigns-RespirationRate.xml, "
        "ValueSet-UKCore-RespirationRate.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-OxygenSaturation.xml: LOINC 2708-6
    # ("Oxygen saturation in Arterial blood", even for pulse oximetry: the example codes
    # 431314004 Peripheral oxygen saturation with 2708-6); snomedCT max 1; unit 1..1 "percent",
    # system UCUM, code "%". SNOMED: REF/valuesets/ValueSet-UKCore-OxygenSaturation.xml.
    "OxygenSaturation": VitalSign(
        key="OxygenSaturation",
        profile=_vs("OxygenSaturation"),
        loinc="2708-6",
        loinc_display="Oxygen saturation in Arterial blood",
        snomed=frozenset({
            "103228002",  # Blood oxygen saturation
            "431314004",  # Peripheral oxygen saturation
            "442476006",  # Arterial oxygen saturation
            "1097811000000106",  # Arterial oxygen saturation on room air at rest
            "1097821000000100",  # Arterial oxygen saturation on supplemental oxygen at rest
            "1017311000000104",  # Blood oxygen saturation (calculated)
            "442440005",  # Capillary oxygen saturation
            "718059008",  # Cerebral oxygen saturation
            "373638005",  # Conjunctival oxygen saturation
            "442381003",  # Intracardiac oxygen saturation
            "442386008",  # Jugular bulb oxygen saturation
            "866661000000106",  # Peripheral blood oxygen saturation on room air at rest
            "866681000000102",  # Peripheral blood oxygen saturation on room air on exertion
            "866701000000100",  # ... on supplemental oxygen at rest
            "866721000000109",  # ... on supplemental oxygen on exertion
        }),
        ucum=frozenset({"%"}),
        unit="percent",
        single_snomed=True,
        source="UKCore-Observation-VitalSigns-OxygenSaturation.xml, "
        "ValueSet-UKCore-OxygenSaturation.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns-HeadCircumference.xml: LOINC
    # 9843-4; unit fixedString "centimeter", system UCUM, code fixedCode "cm".
    # SNOMED: REF/valuesets/ValueSet-UKCore-HeadCircumferenceMeasurements.xml.
    "HeadCircumference": VitalSign(
        key="HeadCircumference",
        profile=_vs("HeadCircumference"),
        loinc="9843-4",
        loinc_display="Head Occipital-frontal circumference",
        snomed=frozenset({
            "363812007",  # Head circumference
            "363811000",  # Head circumference measure
            "169876006",  # Birth head circumference
            "1269262007",  # Head circumference of fetus
            "248396005",  # Head circumference with caput
        }),
        ucum=frozenset({"cm"}),
        unit="centimeter",
        single_snomed=False,
        source="UKCore-Observation-VitalSigns-HeadCircumference.xml, "
        "ValueSet-UKCore-HeadCircumferenceMeasurements.xml",
    ),
    # A systolic or a diastolic reading on its own has no specific profile: it is the generic
    # UKCore-Observation-VitalSigns, with the LOINC of the matching blood-pressure component
    # (REF/structuredefinitions/UKCore-Observation-VitalSigns-BloodPressure.xml,
    # component:SystolicBP / DiastolicBP) and that component's unit. SNOMED:
    # REF/valuesets/ValueSet-UKCore-BloodPressure-Systolic.xml / -Diastolic.xml, both also in
    # ValueSet-UKCore-ObservationVitalSignsType.xml, the generic profile's snomedCT binding.
    "SystolicBP": VitalSign(
        key="SystolicBP",
        profile=VITAL_SIGNS_PROFILE,
        loinc="8480-6",
        loinc_display="Systolic blood pressure",
        snomed=frozenset({
            "271649006",  # Systolic blood pressure
            "72313002",  # Systolic arterial pressure
            "163030003",  # O/E - Systolic BP reading
            "407556006",  # Lying systolic blood pressure
            "407554009",  # Sitting systolic blood pressure
            "400974009",  # Standing systolic blood pressure
            "1162737008",  # Self reported systolic blood pressure
        }),
        ucum=frozenset({"mm[Hg]"}),
        unit=None,  # the generic profile fixes no unit text
        single_snomed=False,
        source="UKCore-Observation-VitalSigns.xml, ValueSet-UKCore-BloodPressure-Systolic.xml",
    ),
    "DiastolicBP": VitalSign(
        key="DiastolicBP",
        profile=VITAL_SIGNS_PROFILE,
        loinc="8462-4",
        loinc_display="Diastolic blood pressure",
        snomed=frozenset({
            "271650006",  # Diastolic blood pressure
            "1091811000000102",  # Diastolic arterial pressure
            "163031004",  # O/E - Diastolic BP reading
            "407557002",  # Lying diastolic blood pressure
            "407555005",  # Sitting diastolic blood pressure
            "400975005",  # Standing diastolic blood pressure
            "1162735000",  # Self reported diastolic blood pressure
        }),
        ucum=frozenset({"mm[Hg]"}),
        unit=None,
        single_snomed=False,
        source="UKCore-Observation-VitalSigns.xml, ValueSet-UKCore-BloodPressure-Diastolic.xml",
    ),
    # REF/structuredefinitions/UKCore-Observation-VitalSigns.xml: the generic profile. No fixed
    # LOINC (any from observation-vitalsignresult, extensible) and no unit; its SNOMED binding
    # (ValueSet-UKCore-ObservationVitalSignsType.xml, preferred) is the union of the value sets
    # above plus a few findings; none is keyed to it here.
    "VitalSigns": VitalSign(
        key="VitalSigns",
        profile=VITAL_SIGNS_PROFILE,
        loinc=None,
        loinc_display=None,
        snomed=frozenset(),
        ucum=frozenset(),
        unit=None,
        single_snomed=False,
        source="UKCore-Observation-VitalSigns.xml",
    ),
}

# REF/valuesets/ValueSet-UKCore-BloodPressure.xml members deliberately not keyed (see above).
BP_VALUESET_NOT_KEYED = frozenset({
    "71420008", "37476000", "252076005", "76882007", "37087001", "371829003", "251068006",
    "276760007", "276755008", "165077006", "87179004",
})
# REF/valuesets/ValueSet-UKCore-BMI.xml centiles, not keyed to the BMI profile (see above).
BMI_CENTILES_NOT_KEYED = frozenset({
    "446974000", "1153602009", "896691000000102", "926011000000101",
})


@dataclass(frozen=True)
class Component:
    name: str  # the slice name
    loinc: str
    loinc_display: str  # fixedString of code.coding:loinc.display
    text: str  # fixedString of code.text (the slicing discriminator)
    snomed: frozenset[str]
    ucum: str
    unit: str
    min: int
    max: int


# REF/structuredefinitions/UKCore-Observation-VitalSigns-BloodPressure.xml. component is
# 1..2, sliced *closed* on code.text; each component.code.coding has loinc 1..1 (system fixed
# http://loinc.org) and snomedCT 1..* (system fixed http://snomed.info/sct); value[x] 1..1
# Quantity, unit fixed "millimeter of mercury", system UCUM, code "mm[Hg]".
BP_COMPONENTS = {
    "SystolicBP": Component(
        name="SystolicBP",
        loinc="8480-6",
        loinc_display="Systolic blood pressure",
        text="Systolic blood pressure",
        snomed=VITAL_SIGNS["SystolicBP"].snomed,
        ucum="mm[Hg]",
        unit="millimeter of mercury",
        min=1,
        max=1,
    ),
    "DiastolicBP": Component(
        name="DiastolicBP",
        loinc="8462-4",
        loinc_display="Diastolic blood pressure",
        text="Diastolic blood pressure",
        snomed=VITAL_SIGNS["DiastolicBP"].snomed,
        ucum="mm[Hg]",
        unit="millimeter of mercury",
        min=0,
        max=1,
    ),
}
BP_COMPONENT_COUNT = (1, 2)

# CTV3 codes with a published vital-sign meaning -> VITAL_SIGNS key. Written by hand:
#   2469. / 246A.  "O/E - Systolic BP reading" / "O/E - Diastolic BP reading": the same terms as
#                  SNOMED 163030003 / 163031004 (in the Systolic/Diastolic value sets above);
#                  the CTV3 systolic/diastolic code lists of the GM-SDE clinical code sets
#                  (UoM-Data-Science-Platforms/gm-sde, systolic-blood-pressure,
#                  diastolic-blood-pressure).
#   246..          "O/E - blood pressure reading", SNOMED 163020007 (ValueSet-UKCore-BloodPressure).
#   22A.. / X76C7  "O/E - weight" / the TPP concept holding the body-weight terms,
#   229.. / XM01E  "O/E - height" / the TPP concept holding height/length/stature terms,
#   22K..          "Body Mass Index": OpenSAFELY cohort-extractor's TPP backend (BMI from the
#                  codes TPP calls canonical: weight X76C7/22A.., height XM01E/229.., BMI 22K..).
#   242..          "O/E - pulse rate", mapped to SNOMED 78564009 Pulse rate
#                  (ValueSet-UKCore-HeartRate) in public GP code lists.
#   2E3..          "O/E - temperature level": the Read v2 code (CTV3 keeps Read v2's chapter-2
#                  examination codes), seen as readcode "2E3." in a published GP export format.
#                  The least certain entry here; 242.. and 2E3.. are in the brief's list too.
CTV3_VITAL_SIGNS = {
    "2469.": "SystolicBP",
    "246A.": "DiastolicBP",
    "246..": "BloodPressure",
    "22A..": "BodyWeight",
    "X76C7": "BodyWeight",
    "229..": "BodyHeight",
    "XM01E": "BodyHeight",
    "22K..": "BMI",
    "242..": "HeartRate",
    "2E3..": "BodyTemperature",
}

# Every LOINC code fixed by a vital-signs profile or component -> VITAL_SIGNS key.
LOINC_VITAL_SIGNS = {vs.loinc: key for key, vs in VITAL_SIGNS.items() if vs.loinc}

# --- Laboratory ----------------------------------------------------------------------------
#
# REF/structuredefinitions/UKCore-Observation-Lab.xml: category 1..*, sliced on coding.code,
# slice "laboratory" 1..1 with system fixed observation-category and code fixed "laboratory";
# code bound (preferred/extensible) to the PaLM and PBCL SNOMED reference sets
# (ValueSet-UKCore-PathologyAndLaboratoryMedicineObservables.xml: memberOf 1853551000000106;
# ValueSet-UKCore-PathologyBoundedCodeListObservables.xml: memberOf 999002881000000100);
# subject: Reference(Patient) only. Constraint ukcore-obs-lab-001 (warning): value,
# dataAbsentReason or note SHOULD be present. The refsets' members are not in the reference,
# so the codes below come from the UK primary-care code lists named per entry.
LAB_CATEGORY = "laboratory"


@dataclass(frozen=True)
class LabTest:
    key: str
    display: str
    snomed: frozenset[str]
    ctv3: frozenset[str]
    ucum: frozenset[str]  # the units a result may be in
    loinc: frozenset[str]  # acceptable LOINC codes, when a LOINC coding is present
    source: str


LAB_TESTS: dict[str, LabTest] = {
    "HbA1cIFCC": LabTest(
        key="HbA1cIFCC",
        display="Haemoglobin A1c level - IFCC standardised",
        snomed=frozenset({"999791000000106"}),
        ctv3=frozenset({"XaPbt"}),
        ucum=frozenset({"mmol/mol"}),
        loinc=frozenset({"59261-8"}),  # Hemoglobin A1c/Hemoglobin.total in Blood by IFCC
        source="GM-SDE hba1c v2 (SNOMED + CTV3); NHS Digital QOF cluster IFCCHBAM_COD",
    ),
    "HbA1cDCCT": LabTest(
        key="HbA1cDCCT",
        display="HbA1c level (DCCT aligned)",
        snomed=frozenset({"1019431000000105"}),
        ctv3=frozenset({"XaERp"}),
        ucum=frozenset({"%"}),
        loinc=frozenset({"4548-4"}),  # Hemoglobin A1c/Hemoglobin.total in Blood
        source="GM-SDE hba1c v2 (SNOMED + CTV3)",
    ),
    "SerumCholesterol": LabTest(
        key="SerumCholesterol",
        display="Serum cholesterol level",
        snomed=frozenset({"1005671000000105"}),
        ctv3=frozenset({"XE2eD"}),
        ucum=frozenset({"mmol/L"}),
        loinc=frozenset({"14647-2"}),  # Cholesterol [Moles/volume] in Serum or Plasma
        source="GM-SDE cholesterol v2",
    ),
    "SerumTotalCholesterol": LabTest(
        key="SerumTotalCholesterol",
        display="Serum total cholesterol level",
        snomed=frozenset({"994351000000103"}),
        ctv3=frozenset({"XaJe9"}),
        ucum=frozenset({"mmol/L"}),
        loinc=frozenset({"14647-2"}),
        source="GM-SDE cholesterol v2",
    ),
    "SerumHDL": LabTest(
        key="SerumHDL",
        display="Serum HDL cholesterol level",
        snomed=frozenset({"1005681000000107"}),
        ctv3=frozenset({"44P5."}),
        ucum=frozenset({"mmol/L"}),
        loinc=frozenset({"14646-4"}),  # Cholesterol in HDL [Moles/volume] in Serum or Plasma
        source="GM-SDE hdl-cholesterol v1",
    ),
    "eGFRCKDEPI": LabTest(
        key="eGFRCKDEPI",
        display="eGFR using creatinine CKD-EPI equation per 1.73 square metres",
        snomed=frozenset({"1011481000000105"}),
        ctv3=frozenset({"XacUK"}),
        ucum=frozenset({"mL/min/{1.73_m2}"}),
        loinc=frozenset({"62238-1", "98979-8"}),  # CKD-EPI 2009 / CKD-EPI 2021
        source="GM-SDE egfr v1",
    ),
    "eGFRMDRD": LabTest(
        key="eGFRMDRD",
        display="GFR calculated by abbreviated MDRD Study Group calculation",
        snomed=frozenset({"1020291000000106"}),
        ctv3=frozenset({"XaK8y"}),
        ucum=frozenset({"mL/min/{1.73_m2}"}),
        loinc=frozenset({"33914-3"}),  # GFR/1.73 sq M.predicted by Creatinine-based formula (MDRD)
        source="GM-SDE egfr v1",
    ),
    "SerumCreatinine": LabTest(
        key="SerumCreatinine",
        display="Serum creatinine level",
        snomed=frozenset({"1000731000000107"}),
        ctv3=frozenset({"XE2q5"}),
        ucum=frozenset({"umol/L"}),
        loinc=frozenset({"14682-9"}),  # Creatinine [Moles/volume] in Serum or Plasma
        source="GM-SDE creatinine v1; OpenSAFELY creatinine code lists",
    ),
}

# --- Lookup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What a mapped Observation with a given code is expected to carry."""

    kind: str  # "vital-signs" or "laboratory"
    key: str
    category: str
    profile: str
    loinc: frozenset[str]  # empty: no LOINC is required
    ucum: frozenset[str]  # empty: no value (blood pressure) or no fixed unit
    unit: str | None


def _vital(key: str) -> Expectation:
    vs = VITAL_SIGNS[key]
    return Expectation(
        kind="vital-signs",
        key=key,
        category=VITAL_SIGNS_CATEGORY,
        profile=vs.profile,
        loinc=frozenset({vs.loinc}) if vs.loinc else frozenset(),
        ucum=vs.ucum,
        unit=vs.unit,
    )


def _lab(key: str) -> Expectation:
    lab = LAB_TESTS[key]
    return Expectation(
        kind="laboratory",
        key=key,
        category=LAB_CATEGORY,
        profile=OBSERVATION_LAB,
        loinc=lab.loinc,
        ucum=lab.ucum,
        unit=None,
    )


def _index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}

    def put(system: str, code: str, key: str) -> None:
        if index.setdefault((system, code), key) != key:
            raise AssertionError(f"{system}|{code} is keyed to {index[system, code]} and {key}")

    for key, vs in VITAL_SIGNS.items():
        for code in vs.snomed:
            put(SNOMED, code, key)
    for code, key in CTV3_VITAL_SIGNS.items():
        put(CTV3, code, key)
    for key, lab in LAB_TESTS.items():
        for code in lab.snomed:
            put(SNOMED, code, key)
        for code in lab.ctv3:
            put(CTV3, code, key)
    return index


_INDEX = _index()


def expected_for(system: str, code: str) -> Expectation | None:
    """The expectation for an Observation coded ``system|code`` (SNOMED CT or CTV3), if any.

    >>> expected_for(SNOMED, "364075005").loinc
    frozenset({'8867-4'})
    """
    key = _INDEX.get((system, code))
    if key is None:
        return None
    return _vital(key) if key in VITAL_SIGNS else _lab(key)


def expected_for_loinc(code: str) -> Expectation | None:
    """The vital sign whose profile fixes this LOINC code, if any."""
    key = LOINC_VITAL_SIGNS.get(code)
    return _vital(key) if key else None


# --- Comparators ---------------------------------------------------------------------------
#
# TPP/request-schemas/UpdatePatientRecord-v1.0.xsd, element Comparator (lines 214-227):
# "Approximate (3); Equal (4); Greater than or Equal (5); Greater Than (6); Less Than (7);
# Less than or Equal (8)"; absent means equal (4). FHIR R4 Quantity.comparator (required
# binding, quantity-comparator): < | <= | >= | >. Equal and approximate have no FHIR comparator.
TPP_COMPARATORS: dict[str, str | None] = {
    "3": None,  # approximate: no FHIR comparator
    "4": None,  # equal: no comparator
    "5": ">=",
    "6": ">",
    "7": "<",
    "8": "<=",
}
QUANTITY_COMPARATORS = frozenset({"<", "<=", ">=", ">"})

# --- Required bindings and code systems (FHIR R4 base unless said) -------------------------
#
# The UK Core differentials (REF/structuredefinitions/UKCore-*.xml) keep the base R4 required
# bindings; their codes are FHIR R4's (hl7.org/fhir/R4, the value set named per entry).

# valueset-observation-status
OBSERVATION_STATUS = frozenset({
    "registered", "preliminary", "final", "amended", "corrected", "cancelled",
    "entered-in-error", "unknown",
})
# CodeSystem observation-category (R4), used by the UK Core examples and fixed by the
# VitalSigns and Lab profiles.
OBSERVATION_CATEGORIES = frozenset({
    "social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam",
    "therapy", "activity",
})

# Condition. clinicalStatus (required, valueset-condition-clinical) and verificationStatus
# (required, valueset-condition-ver-status); the systems as in
# REF/examples/UKCore-Condition-BleedingFromEar-Example.xml.
CONDITION_CLINICAL_STATUS = frozenset({
    "active", "recurrence", "relapse", "inactive", "remission", "resolved",
})
CONDITION_VERIFICATION_STATUS = frozenset({
    "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error",
})
# REF/valuesets/ValueSet-UKCore-ConditionCategory.xml (extensible; expansion of 4 codes) and
# REF/codesystems/CodeSystem-UKCore-ConditionCategory.xml.
CONDITION_CATEGORIES = {
    CONDITION_CATEGORY: frozenset({"problem-list-item", "encounter-diagnosis"}),
    UKCORE_CONDITION_CATEGORY: frozenset({"presenting-complaint", "co-morbidity"}),
}
# Condition.severity: UK Core leaves the base binding (preferred,
# valueset-condition-severity: SNOMED CT 24484000 Severe, 6736007 Moderate, 255604002 Mild).
CONDITION_SEVERITY_SNOMED = frozenset({"24484000", "6736007", "255604002"})
# con-4: an abated condition's clinicalStatus is inactive, resolved or remission.
CONDITION_ABATED_STATUS = frozenset({"inactive", "resolved", "remission"})

# AllergyIntolerance (valueset-allergyintolerance-clinical / -verification, required;
# systems as in REF/examples/UKCore-AllergyIntolerance-Amoxicillin-Example.xml).
ALLERGY_CLINICAL_STATUS = frozenset({"active", "inactive", "resolved"})
ALLERGY_VERIFICATION_STATUS = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})
ALLERGY_TYPE = frozenset({"allergy", "intolerance"})  # allergy-intolerance-type
ALLERGY_CATEGORY = frozenset({"food", "medication", "environment", "biologic"})
ALLERGY_CRITICALITY = frozenset({"low", "high", "unable-to-assess"})
REACTION_SEVERITY = frozenset({"mild", "moderate", "severe"})

# "No known allergy". REF/valuesets/ValueSet-UKCore-AllergyCode.xml (AllergyIntolerance.code,
# which UKCore-AllergyIntolerance.xml makes 1..1) includes "descendantOrSelfOf 716186003" and
# its description says the value set may "state that the patient has no known allergy or does
# not have a specific allergy". So UK Core records "no known allergies" as an
# AllergyIntolerance whose code is 716186003 |No known allergy| (or a descendant), asserted
# (verificationStatus confirmed), not as a refuted allergy and not in free text.
# The reference has no example of it. The alternative for a whole list is a List with
# emptyReason "nilknown" (REF/valuesets/ValueSet-UKCore-ListEmptyReasonCode.xml, from
# REF/codesystems/CodeSystem-UKCore-ListEmptyReasonCode.xml; list code 886921000000105
# "Allergies and adverse reactions" from ValueSet-UKCore-ListCode.xml); the reference's only
# List example (UKCore-List-EmptyList-Example.xml) uses "no-content-recorded".
NO_KNOWN_ALLERGY = "716186003"
NO_KNOWN_ALLERGY_CODES = frozenset({
    "716186003",  # No known allergy
    "409137002",  # No known drug allergy
    "429625007",  # No known food allergy
    "428607008",  # No known environmental allergy
    "428197003",  # No known insect allergy
})
# The other two single codes of ValueSet-UKCore-AllergyCode.xml.
TRANSFER_DEGRADED_ALLERGY_CODES = frozenset({"196461000000101", "196471000000108"})
ALLERGIES_LIST_CODE = "886921000000105"
LIST_EMPTY_REASONS = frozenset({
    "closed", "withheld", "nilknown", "no-content-recorded", "notasked", "notstarted",
    "unavailable",
})
LIST_STATUS = frozenset({"current", "retired", "entered-in-error"})
LIST_MODE = frozenset({"working", "snapshot", "changes"})

# MedicationRequest (required): valueset-medicationrequest-status, -intent.
MEDREQ_STATUS = frozenset({
    "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
    "unknown",
})
MEDREQ_INTENT = frozenset({
    "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
    "instance-order", "option",
})
# REF/valuesets/ValueSet-UKCore-MedicationRequestCategory.xml (extensible): the HL7 system
# (inpatient, outpatient, community, discharge) and UK Core's
# (REF/codesystems/CodeSystem-UKCore-MedicationRequestCategory.xml: leave, and primarycare,
# which carries the property inactive = true).
MEDREQ_CATEGORIES = {
    MEDREQ_CATEGORY: frozenset({"inpatient", "outpatient", "community", "discharge"}),
    UKCORE_MEDREQ_CATEGORY: frozenset({"leave", "primarycare"}),
}
INACTIVE_CODES = {(UKCORE_MEDREQ_CATEGORY, "primarycare")}
# REF/valuesets/ValueSet-UKCore-MedicationRequestCourseOfTherapy.xml (extensible): HL7
# continuous, acute (seasonal is not included) + UK Core continuous-repeating-dispensing.
MEDREQ_COURSES = {
    MEDREQ_COURSE: frozenset({"continuous", "acute"}),
    UKCORE_MEDREQ_COURSE: frozenset({"continuous-repeating-dispensing"}),
}

# MedicationStatement (required): valueset-medication-statement-status.
MEDSTMT_STATUS = frozenset({
    "active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
    "not-taken",
})
# REF/valuesets/ValueSet-UKCore-MedicationStatementCategory.xml (extensible): HL7
# medication-statement-category + REF/codesystems/CodeSystem-UKCore-MedicationStatementCategory.xml.
MEDSTMT_CATEGORIES = {
    MEDSTMT_CATEGORY: frozenset({"inpatient", "outpatient", "community", "patientspecified"}),
    UKCORE_MEDSTMT_CATEGORY: frozenset({"discharge", "leave"}),
}

# Immunization.status (required, valueset-immunization-status). UKCore-Immunization.xml adds
# constraint ukcore-imm-001: status 'not-done' requires statusReason.
IMMUNIZATION_STATUS = frozenset({"completed", "entered-in-error", "not-done"})

# Medication.status (required, valueset-medication-status).
MEDICATION_STATUS = frozenset({"active", "inactive", "entered-in-error"})
# REF/valuesets/ValueSet-UKCore-MedicationCode.xml (preferred): dm+d VTM/VMP/AMP/VMPP/AMPP
# and SNOMED CT; Multilex is what SystmOne holds by default (TPP_SCHEME_SYSTEMS).
MEDICATION_CODE_SYSTEMS = frozenset({DMD, SNOMED, MULTILEX})

# Patient.gender (required, valueset-administrative-gender).
ADMINISTRATIVE_GENDER = frozenset({"male", "female", "other", "unknown"})

# Elements that must be present (min >= 1): base R4 cardinalities plus the UK Core
# differentials (REF/structuredefinitions/UKCore-<Type>.xml). "medication[x]" etc. mean one of
# the choice's variants.
REQUIRED_ELEMENTS: dict[str, tuple[str, ...]] = {
    # base: status, code.
    "Observation": ("status", "code"),
    # base: subject.
    "Condition": ("subject",),
    # base: patient; UKCore-AllergyIntolerance.xml: code min 1.
    "AllergyIntolerance": ("patient", "code"),
    # UKCore-Medication.xml: code min 1.
    "Medication": ("code",),
    # base: status, intent, medication[x], subject; UKCore-MedicationRequest.xml:
    # substitution min 1 (the UK Core examples all carry substitution.allowedBoolean).
    "MedicationRequest": ("status", "intent", "medication[x]", "subject", "substitution"),
    # base: status, medication[x], subject.
    "MedicationStatement": ("status", "medication[x]", "subject"),
    # base: status, vaccineCode, patient, occurrence[x].
    "Immunization": ("status", "vaccineCode", "patient", "occurrence[x]"),
    # base: status, mode.
    "List": ("status", "mode"),
    "Patient": (),
}
# UKCore-Observation-VitalSigns.xml: category, subject, effective[x] min 1 (and a LOINC and a
# SNOMED coding, see above). UKCore-Observation-Lab.xml: category min 1.
VITAL_SIGNS_REQUIRED = ("category", "subject", "effective[x]")
LAB_REQUIRED = ("category",)
# UKCore-MedicationStatement.xml: identifier.system and identifier.value min 1.
IDENTIFIER_SYSTEM_AND_VALUE_REQUIRED = frozenset({"MedicationStatement"})
# UKCore-Patient.xml: extension:ethnicCategory max 1, identifier:nhsNumber max 1.
ETHNIC_CATEGORY_EXTENSION = UKCORE_SD + "Extension-UKCore-EthnicCategory"

# REF/codesystems/CodeSystem-UKCore-EthnicCategoryEngland.xml: the extension's England
# categories (the NHS Data Dictionary's ETHNIC CATEGORY, 2001 census), code → display.
ETHNIC_CATEGORY_ENGLAND_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_CATEGORY_ENGLAND = {
    "A": "White - British", "B": "White - Irish", "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean", "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian", "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian", "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean", "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese", "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": "Not stated", "99": "Not known",
}
# The 2001-census ethnic category codes a SystmOne record writes in Demographics/Ethnicity
# (Scheme, Code) → the England category they name, by each concept's term: CTV3's "... -
# ethnic category 2001 census" codes (XaFwD "White British" is the code TPP's own example
# uses, TPP/spec-v33.4.txt line 1500) and SNOMED CT UK's 2001-census ethnic category
# findings (each a valid SCTID: see test_patient.py).
ETHNIC_CODES = {
    ("CTV3", "XaFwD"): "A", ("CTV3", "XaQEa"): "A", ("CTV3", "XaQEb"): "B",
    ("CTV3", "XaJQx"): "C", ("CTV3", "XaJR2"): "H", ("CTV3", "XaJR3"): "J",
    ("CTV3", "XaJR6"): "M", ("CTV3", "XaJR7"): "N", ("CTV3", "XaJR9"): "R",
    ("Snomed", "494131000000105"): "A",  # White British
    ("Snomed", "494161000000100"): "B",  # White Irish
    ("Snomed", "92411000000108"): "C",  # Other White background
    ("Snomed", "110751000000108"): "H",  # Indian or British Indian
    ("Snomed", "92461000000105"): "J",  # Pakistani or British Pakistani
    ("Snomed", "107691000000105"): "M",  # Caribbean
    ("Snomed", "92491000000104"): "N",  # African
    ("Snomed", "92511000000107"): "R",  # Chinese
}

# Fixed values in the differentials that a mapper must write exactly.
FIXED_VALUES = {
    # UKCore-Observation-VitalSigns.xml
    "Observation.status (vital signs)": VITAL_SIGNS_FIXED_STATUS,
    "Observation.category.coding.system (vital signs)": OBSERVATION_CATEGORY,
    "Observation.category.coding.code (vital signs)": VITAL_SIGNS_CATEGORY,
    "Observation.code.coding:loinc.system (vital signs)": LOINC,
    "Observation.code.coding:snomedCT.system (vital signs)": SNOMED,
    # UKCore-Observation-Lab.xml
    "Observation.category:laboratory.coding.code (lab)": LAB_CATEGORY,
    # UKCore-Patient.xml
    "Patient.identifier:nhsNumber.system": NHS_NUMBER,
}

# --- Observation categories ----------------------------------------------------------------
#
# Displays of the R4 CodeSystem observation-category (terminology.hl7.org
# CodeSystem-observation-category), as the UK Core examples write them
# (REF/examples/UKCore-Observation-VitalSigns-BMI-Example.xml: "Vital Signs";
# UKCore-Observation-Lab-Albumin-Example.xml: "Laboratory").
OBSERVATION_CATEGORY_DISPLAYS = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "social-history": "Social History",
}

# --- UCUM units ----------------------------------------------------------------------------
#
# UCUM code -> the unit's name, as FHIR's "Common UCUM units" value set displays it
# (hl7.org/fhir/R4/valueset-ucum-common.html; HL7/fhir source/valueset/
# valueset-ucum-common.xml). UK Core's vital-signs profiles fix these very names as
# valueQuantity.unit ("kilogram", "per minute", "degree Celsius", "percent", "centimeter",
# "millimeter of mercury": REF/structuredefinitions/UKCore-Observation-VitalSigns-*.xml) and
# its examples write "meter" and "kilogram / (meter ^ 2)"
# (REF/examples/UKCore-Observation-VitalSigns-BodyHeight-Example.xml, -BMI-Example.xml).
UCUM_NAMES = {
    "kg": "kilogram",
    "m": "meter",
    "cm": "centimeter",
    "kg/m2": "kilogram / (meter ^ 2)",
    "mm[Hg]": "millimeter of mercury",
    "/min": "per minute",
    "Cel": "degree Celsius",
    "%": "percent",
    "mmol/mol": "millimole per mole",
    "mmol/L": "millimole per liter",
    "umol/L": "micromole per liter",
    "mL/min/{1.73_m2}": "milliliter per minute per 1.73 square meter",
    "g/L": "gram per liter",
    "m[IU]/L": "milli international unit per liter",
    "[IU]/L": "international unit per liter",
    # UCUM's U is the enzyme unit (catalytic activity, umol/min); the value set says so.
    "U/L": "enzyme unit per liter",
    "mg/mmol": "milligram per millimole",
    "L/min": "liter per minute",
    # Not in the value set: named the way it names m/s "meter per second" and um/s
    # "micrometer per second".
    "cm/s": "centimeter per second",
}

# SystmOne's unit text -> UCUM code, written by hand from UCUM (unitsofmeasure.org, "The
# Unified Code for Units of Measure": case-sensitive codes; L is the litre, [IU] the
# international unit, U the enzyme unit, mm[Hg] millimetre of mercury, Cel degree Celsius,
# {...} an annotation). TPP gives the unit as free text per numeric code
# (TPP/spec-v33.4.txt, GetReferenceData, lines 2958-2991: <Units>m</Units> for 229..); the
# texts listed are those the mappings say they handle.
SYSTMONE_UNITS = {
    "kg": "kg",
    "m": "m",
    "cm": "cm",
    "kg/m2": "kg/m2",
    "mmHg": "mm[Hg]",
    # UKCore-Observation-VitalSigns-HeartRate.xml and -RespirationRate.xml fix code "/min".
    "beats/min": "/min",
    "breaths/min": "/min",
    "/min": "/min",
    "degrees C": "Cel",
    "%": "%",
    "mmol/mol": "mmol/mol",
    "mmol/L": "mmol/L",
    "mmol/l": "mmol/L",
    "umol/L": "umol/L",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "g/L": "g/L",
    "g/l": "g/L",
    "mIU/L": "m[IU]/L",
    # UK laboratories write TSH (the one GP result reported so) as "mU/L": milli-international
    # units of the WHO reference preparation, LOINC 3016-3's example unit m[IU]/L. A literal
    # UCUM reading (mU/L, milli enzyme units) would be a different, wrong quantity.
    "mU/L": "m[IU]/L",
    "iu/L": "[IU]/L",
    "IU/L": "[IU]/L",
    "U/L": "U/L",
    "mg/mmol": "mg/mmol",
    "L/min": "L/min",
    "l/min": "L/min",
    "cm/s": "cm/s",
}
# A Vaccination's Dosage unit ("0.5 ml") -> UCUM: the millilitre is mL.
SYSTMONE_DOSE_UNITS = {"ml": "mL", "mL": "mL"}

# --- Vital signs: what UK Core's value sets name and the reading is not ---------------------
#
# REF/valuesets/ValueSet-UKCore-BodyHeightMeasurements.xml members that are not a body height
# (see VITAL_SIGNS["BodyHeight"]): 1003998008 Arm demispan, 248335006 Sitting height.
BODY_HEIGHT_VALUESET_NOT_KEYED = frozenset({"1003998008", "248335006"})

# Displays of the SNOMED CT codes a CTV3 vital sign is given, as UK Core's value-set
# expansions write them (UK edition preferred terms): REF/valuesets/
# ValueSet-UKCore-BloodPressure.xml (75367002, 163020007), -BloodPressure-Systolic.xml
# (163030003), -BloodPressure-Diastolic.xml (163031004), -BodyWeightMeasurements.xml
# (27113001), -BodyHeightMeasurements.xml (50373000), -BMI.xml (60621009), -HeartRate.xml
# (78564009), -BodyTemperature.xml (386725007).
VITAL_SIGN_SNOMED_DISPLAYS = {
    "75367002": "Blood pressure",
    "163020007": "O/E - blood pressure reading",
    "163030003": "O/E - Systolic BP reading",
    "163031004": "O/E - Diastolic BP reading",
    "27113001": "Body weight",
    "50373000": "Body height measure",
    "60621009": "Body mass index",
    "78564009": "Pulse rate",
    "386725007": "Body temperature",
}
# The CTV3 codes whose SNOMED CT concept CTV3_VITAL_SIGNS names outright ("the same terms
# as SNOMED 163030003 / 163031004"; 246.. "SNOMED 163020007").
CTV3_SNOMED_SAME_TERM = {"2469.": "163030003", "246A.": "163031004", "246..": "163020007"}

# --- More laboratory results ---------------------------------------------------------------
#
# GP laboratory results beyond LAB_TESTS, with the same meaning of each field (used by
# tests/mappings/test_every_concept.py; expected_for() does not index them). SNOMED CT codes
# (UK edition) as NHS England's "SNOMED Code Usage in Primary Care" publication lists them
# among the most used codes (Serum sodium level, Serum potassium level, Haemoglobin
# estimation) and OpenSAFELY's TPP study definitions use them (Serum TSH level, ALT/SGPT
# serum level, Urine albumin:creatinine ratio); units as UK laboratories report them.
# LOINC: the term of the same analyte, property and specimen (loinc.org); none is claimed for
# the urine albumin:creatinine ratio in mg/mmol.
MORE_LAB_TESTS: dict[str, LabTest] = {
    "SerumSodium": LabTest(
        key="SerumSodium", display="Serum sodium level",
        snomed=frozenset({"1000661000000107"}), ctv3=frozenset(),
        ucum=frozenset({"mmol/L"}), loinc=frozenset({"2951-2"}),
        source="NHS England SNOMED code usage in primary care; LOINC 2951-2",
    ),
    "SerumPotassium": LabTest(
        key="SerumPotassium", display="Serum potassium level",
        snomed=frozenset({"1000651000000109"}), ctv3=frozenset(),
        ucum=frozenset({"mmol/L"}), loinc=frozenset({"2823-3"}),
        source="NHS England SNOMED code usage in primary care; LOINC 2823-3",
    ),
    "SerumTSH": LabTest(
        key="SerumTSH", display="Serum TSH (thyroid stimulating hormone) level",
        snomed=frozenset({"1022791000000101"}), ctv3=frozenset(),
        ucum=frozenset({"m[IU]/L"}), loinc=frozenset({"3016-3"}),
        source="OpenSAFELY TPP study definitions (tsh); LOINC 3016-3",
    ),
    "Haemoglobin": LabTest(
        key="Haemoglobin", display="Haemoglobin estimation",
        snomed=frozenset({"1022431000000105"}), ctv3=frozenset(),
        ucum=frozenset({"g/L"}), loinc=frozenset({"718-7"}),
        source="NHS England SNOMED code usage in primary care; LOINC 718-7",
    ),
    "SerumALT": LabTest(
        key="SerumALT", display="ALT/SGPT serum level",
        snomed=frozenset({"1018251000000107"}), ctv3=frozenset(),
        ucum=frozenset({"U/L", "[IU]/L"}), loinc=frozenset({"1742-6"}),
        source="OpenSAFELY TPP study definitions (alt); LOINC 1742-6",
    ),
    "UrineACR": LabTest(
        key="UrineACR", display="Urine albumin:creatinine ratio",
        snomed=frozenset({"1023491000000104"}), ctv3=frozenset(),
        ucum=frozenset({"mg/mmol"}), loinc=frozenset(),
        source="NHS England SNOMED code usage in primary care",
    ),
}

# Descriptions of laboratory SNOMED CT codes a CTV3 result is given, where a published code
# list writes them out: GM-SDE's egfr and cholesterol code sets
# (UoM-Data-Science-Platforms/gm-sde, the SNOMED CT descriptions of 1011481000000105 and
# 994351000000103) and NHS England's "SNOMED Code Usage in Primary Care" ("Serum creatinine
# level (observable entity)", less the tag).
LAB_SNOMED_DISPLAYS = {
    "994351000000103": "Serum total cholesterol level",
    "1011481000000105": "eGFR (estimated glomerular filtration rate) using creatinine Chronic "
                        "Kidney Disease Epidemiology Collaboration equation per 1.73 square "
                        "metres",
    "1000731000000107": "Serum creatinine level",
}

# LOINC long common names (loinc.org) of the laboratory LOINC codes above.
LOINC_NAMES = {
    "59261-8": "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
    "4548-4": "Hemoglobin A1c/Hemoglobin.total in Blood",
    "14647-2": "Cholesterol [Moles/volume] in Serum or Plasma",
    "14646-4": "Cholesterol in HDL [Moles/volume] in Serum or Plasma",
    "62238-1": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
               "Plasma or Blood by Creatinine-based formula (CKD-EPI)",
    "33914-3": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or "
               "Plasma by Creatinine-based formula (MDRD)",
    "14682-9": "Creatinine [Moles/volume] in Serum or Plasma",
    "2951-2": "Sodium [Moles/volume] in Serum or Plasma",
    "2823-3": "Potassium [Moles/volume] in Serum or Plasma",
    "3016-3": "Thyrotropin [Units/volume] in Serum or Plasma",
    "718-7": "Hemoglobin [Mass/volume] in Blood",
    "1742-6": "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
}

# --- Smoking status ------------------------------------------------------------------------
#
# UK Core has no smoking-status profile: UKCore-Observation-TobaccoConsumption
# (REF/structuredefinitions/UKCore-Observation-TobaccoConsumption.xml) is for an amount
# (value[x] Quantity) smoked per day or week. A smoking status is a UKCore-Observation with
# category social-history, code LOINC 72166-2 "Tobacco smoking status" (the code of HL7 IPS's
# Observation-tobaccouse-uv-ips and US Core's smoking status) and the status as
# valueCodeableConcept. SNOMED CT 229819007 |Tobacco use and exposure (observable entity)| is
# the observable those statuses are findings of.
SMOKING_STATUS_PROFILE = UKCORE_SD + "UKCore-Observation"
SMOKING_STATUS_CATEGORY = "social-history"
SMOKING_STATUS_CODES = {LOINC: ("72166-2", "Tobacco smoking status"),
                        SNOMED: ("229819007", "Tobacco use and exposure")}
# SNOMED CT smoking statuses (HL7 IPS ValueSet current-smoking-status-uv-ips 2.0.0: 77176002
# Smoker, 8517006 Ex-smoker, 266919005 Never smoked tobacco) with the CTV3 code of the same
# status (OpenCodelists opensafely/smoking-clear 2020-04-29, CTV3: 137R. Current smoker,
# Ub1na Ex-smoker, XE0oh Never smoked tobacco).
SMOKING_STATUSES = {
    "77176002": ("Smoker", "137R."),
    "8517006": ("Ex-smoker", "Ub1na"),
    "266919005": ("Never smoked tobacco", "XE0oh"),
}

# --- No known allergy ----------------------------------------------------------------------
#
# Which NO_KNOWN_ALLERGY_CODES a recorded drug sensitivity contradicts, by their meaning:
# "No known allergy" (to anything) and "No known drug allergy". A drug sensitivity says
# nothing about food, environmental or insect allergies.
NO_KNOWN_ALLERGY_CONTRADICTED_BY_DRUG = frozenset({"716186003", "409137002"})

# --- Immunisation --------------------------------------------------------------------------
#
# REF/valuesets/ValueSet-UKCore-ImmunizationAdministrationBodySite.xml, its expansion (8
# codes; Immunization.site's preferred binding in REF/structuredefinitions/
# UKCore-Immunization.xml).
IMMUNIZATION_SITES = {
    "368208006": "Left upper arm structure",
    "279549004": "Nasal cavity structure",
    "74262004": "Oral cavity structure",
    "368209003": "Right upper arm structure",
    "723979003": "Structure of left buttock",
    "61396006": "Structure of left thigh",
    "723980000": "Structure of right buttock",
    "11207009": "Structure of right thigh",
}
# A Vaccination's Notes naming nothing but a site -> its code above. The deltoid is a muscle
# of the upper arm, the only arm sites the value set has; "Oral" and "Intranasal" are routes
# that name the cavity the vaccine is given into.
SITE_NOTES = {
    "Left deltoid": "368208006",
    "Right deltoid": "368209003",
    "Left upper arm": "368208006",
    "Right upper arm": "368209003",
    "Left thigh": "61396006",
    "Right thigh": "11207009",
    "Left buttock": "723979003",
    "Right buttock": "723980000",
    "Oral": "74262004",
    "Intranasal": "279549004",
}

# Vaccination/Name -> SNOMED CT vaccine product, code and fully specified name less its
# "(medicinal product)" tag, as eHealth Suisse's SNOMED CT vaccine value set lists them
# (hl7ch/ch-vacd, input/fsh/instances/ch-vacd-vaccines-snomedct-vs.fsh; International Edition
# concepts). The product is the one holding exactly the antigens the name spells out: MMR
# measles, mumps, rubella; DTaP diphtheria, tetanus, acellular pertussis; IPV inactivated
# polio; Hib Haemophilus influenzae type b; HepB hepatitis B; Td tetanus, low-dose diphtheria;
# MenC / MenACWY meningococcal groups; shingles (live) the live zoster vaccine, (recombinant)
# the glycoprotein E vaccine. UK Core's own VaccineCode value set (REF/valuesets/
# ValueSet-UKCore-VaccineCode.xml, preferred binding) is dm+d AMP/VMP, which a name alone
# cannot give.
VACCINE_PRODUCTS = {
    "MMR": ("871831003", "Vaccine product containing only Measles morbillivirus and Mumps "
            "orthorubulavirus and Rubella virus antigens"),
    "Hepatitis A": ("871751006", "Vaccine product containing only Hepatitis A virus antigen"),
    "Rotavirus": ("871761004", "Vaccine product containing only Rotavirus antigen"),
    "MenC": ("871866001", "Vaccine product containing only Neisseria meningitidis serogroup C "
             "antigen"),
    "MenACWY": ("871873006", "Vaccine product containing only Neisseria meningitidis serogroup "
                "A, C, W135 and Y antigens"),
    "DTaP/IPV/Hib/HepB": ("871895005", "Vaccine product containing only Bordetella pertussis "
                          "and Clostridium tetani and Corynebacterium diphtheriae and "
                          "Haemophilus influenzae type B and Hepatitis B virus and Human "
                          "poliovirus antigens"),
    "DTaP/IPV/Hib": ("871887006", "Vaccine product containing only Bordetella pertussis and "
                     "Clostridium tetani and Corynebacterium diphtheriae and Haemophilus "
                     "influenzae type B and Human poliovirus antigens"),
    "DTaP/IPV": ("871878002", "Vaccine product containing only Bordetella pertussis and "
                 "Clostridium tetani and Corynebacterium diphtheriae and Human poliovirus "
                 "antigens"),
    "Td/IPV": ("871837004", "Vaccine product containing only Clostridium tetani and "
               "Corynebacterium diphtheriae and Human poliovirus antigens"),
    "Shingles (live)": ("871919004", "Vaccine product containing only live attenuated Human "
                        "alphaherpesvirus 3 antigen"),
    "Shingles (recombinant)": ("1156183006", "Vaccine product containing only Human "
                               "alphaherpesvirus 3 recombinant surface glycoprotein E "
                               "antigen"),
}

# --- Meta tags -----------------------------------------------------------------------------
#
# FHIR R4 search (§3.1.1.5.7 _summary) marks a resource holding only part of its data with the
# SUBSETTED tag; R4 ValueSet common-tags: v3-ObservationValue SUBSETTED "subsetted".
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SUBSETTED_TAG = {"system": V3_OBSERVATION_VALUE, "code": "SUBSETTED", "display": "subsetted"}

# --- GetPatientRecord filter sections ------------------------------------------------------
#
# TPP/spec-v33.4.txt, GetPatientRecord's Filter (lines 1297-1325, described 1375-1430): the
# flag that makes SystmOne return each kind of item. ClinicalCodes "all coded data"
# (Event/ClinicalCode), Sensitivities allergies and sensitivities (Event/DrugSensitivity),
# Vaccinations (Event/Vaccination), Medication acute and repeat medication, Demographics.
# Each served type -> the flags of the items it is made from (MAPPINGS.md names the items):
# AllergyIntolerance from DrugSensitivity items and "no known allergy" ClinicalCodes.
RECORD_SECTIONS = {
    "AllergyIntolerance": frozenset({"Sensitivities", "ClinicalCodes"}),
    "Condition": frozenset({"ClinicalCodes"}),
    "Immunization": frozenset({"Vaccinations"}),
    "Medication": frozenset({"Medication"}),
    "MedicationRequest": frozenset({"Medication"}),
    "MedicationStatement": frozenset({"Medication"}),
    # Observation: also Narrative, the flag for "free-text narrative" (line 1442), served as
    # comment notes.
    "Observation": frozenset({"ClinicalCodes", "Narrative"}),
    "Patient": frozenset({"Demographics"}),
}

# --- Non-clinical items (Task, Appointment, RelatedPerson, CarePlan) --------------------------
#
# Profiles: <url> of REF/structuredefinitions/UKCore-Task.xml, UKCore-Appointment.xml,
# UKCore-RelatedPerson.xml, UKCore-CarePlan.xml (their differentials add no min > 0).
# Required elements (FHIR R4 base): Task status, intent; Appointment status, participant
# (and participant.status); RelatedPerson patient; CarePlan status, intent, subject.
PROFILES["Task"] = UKCORE_SD + "UKCore-Task"
PROFILES["Appointment"] = UKCORE_SD + "UKCore-Appointment"
PROFILES["RelatedPerson"] = UKCORE_SD + "UKCore-RelatedPerson"
PROFILES["CarePlan"] = UKCORE_SD + "UKCore-CarePlan"
REQUIRED_ELEMENTS["Task"] = ("status", "intent")
REQUIRED_ELEMENTS["Appointment"] = ("status", "participant")
REQUIRED_ELEMENTS["RelatedPerson"] = ("patient",)
REQUIRED_ELEMENTS["CarePlan"] = ("status", "intent", "subject")
# FHIR R4 required bindings: task-status, task-intent, appointmentstatus,
# participationstatus, request-status (CarePlan.status), care-plan-intent,
# care-plan-activity-status.
TASK_STATUS = frozenset({"draft", "requested", "received", "accepted", "rejected", "ready",
                         "cancelled", "in-progress", "on-hold", "failed", "completed",
                         "entered-in-error"})
TASK_INTENT = frozenset({"unknown", "proposal", "plan", "order", "original-order",
                         "reflex-order", "filler-order", "instance-order", "option"})
APPOINTMENT_STATUS = frozenset({"proposed", "pending", "booked", "arrived", "fulfilled",
                                "cancelled", "noshow", "entered-in-error", "checked-in",
                                "waitlist"})
PARTICIPATION_STATUS = frozenset({"accepted", "declined", "tentative", "needs-action"})
CARE_PLAN_STATUS = frozenset({"draft", "active", "on-hold", "revoked", "completed",
                              "entered-in-error", "unknown"})
CARE_PLAN_INTENT = frozenset({"proposal", "plan", "order", "option"})
CARE_PLAN_ACTIVITY_STATUS = frozenset({"not-started", "scheduled", "in-progress", "on-hold",
                                       "completed", "cancelled", "stopped", "unknown",
                                       "entered-in-error"})
# FHIR R4 Appointment invariants: app-2 "Either start and end are specified, or neither";
# app-3 "Only proposed or cancelled appointments can be missing start/end dates" (R4's
# expression also allows waitlist).
APPOINTMENT_WITHOUT_TIMES = frozenset({"proposed", "cancelled", "waitlist"})
# TPP/spec-v33.4.txt lines 1373-1375 ("pending appointments"), 1445 ("pending visits"),
# 1448 ("non-completed workflow tasks"), 1377 CarePlans, 1419 Relationships.
RECORD_SECTIONS["Task"] = frozenset({"Tasks"})
RECORD_SECTIONS["Appointment"] = frozenset({"Appointments", "Visits"})
RECORD_SECTIONS["RelatedPerson"] = frozenset({"Relationships"})
RECORD_SECTIONS["CarePlan"] = frozenset({"CarePlans"})
# REF/valuesets/ValueSet-UKCore-PersonRelationshipType.xml (extensible binding of
# RelatedPerson.relationship): its expansion, per system, for the relationships a practice
# records. Any coding under these systems must be one of these codes with this display.
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
UKCORE_ADDITIONAL_ROLE = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdditionalPersonRelationshipRole")
PERSON_RELATIONSHIP_TYPE = {
    V3_ROLE_CODE: {
        "MTH": "mother", "FTH": "father", "PRN": "parent", "STPMTH": "stepmother",
        "STPFTH": "stepfather", "SONC": "son", "DAUC": "daughter", "CHILD": "child",
        "BRO": "brother", "SIS": "sister", "SIB": "sibling", "HUSB": "husband", "WIFE": "wife",
        "SPS": "spouse", "DOMPART": "domestic partner", "GRMTH": "grandmother",
        "GRFTH": "grandfather", "GRPRN": "grandparent", "GRNDSON": "grandson",
        "GRNDDAU": "granddaughter", "GRNDCHILD": "grandchild", "AUNT": "aunt",
        "UNCLE": "uncle", "NIECE": "niece", "NEPHEW": "nephew", "COUSN": "cousin",
        "MTHINLAW": "mother-in-law", "FTHINLAW": "father-in-law", "SONINLAW": "son in-law",
        "DAUINLAW": "daughter in-law", "FRND": "unrelated friend", "NBOR": "neighbor"},
    V2_0131: {"N": "Next-of-Kin", "C": "Emergency Contact"},
    UKCORE_ADDITIONAL_ROLE: {"Carer": "Carer of patient", "Guardian": "Guardian of patient"},
}
# The word a practice writes in Relationship/Type → the concept that word names (system,
# code), by hand from the value set above. Words it does not name are served as text.
RELATIONSHIP_WORDS = {
    "Mother": (V3_ROLE_CODE, "MTH"), "Father": (V3_ROLE_CODE, "FTH"),
    "Daughter": (V3_ROLE_CODE, "DAUC"), "Son": (V3_ROLE_CODE, "SONC"),
    "Wife": (V3_ROLE_CODE, "WIFE"), "Husband": (V3_ROLE_CODE, "HUSB"),
    "Partner": (V3_ROLE_CODE, "DOMPART"), "Grandmother": (V3_ROLE_CODE, "GRMTH"),
    "Neighbour": (V3_ROLE_CODE, "NBOR"), "Friend": (V3_ROLE_CODE, "FRND"),
    "Next of kin": (V2_0131, "N"), "Carer": (UKCORE_ADDITIONAL_ROLE, "Carer"),
    "Guardian": (UKCORE_ADDITIONAL_ROLE, "Guardian"),
    "Parent": (V3_ROLE_CODE, "PRN"), "Stepmother": (V3_ROLE_CODE, "STPMTH"),
    "Stepfather": (V3_ROLE_CODE, "STPFTH"), "Child": (V3_ROLE_CODE, "CHILD"),
    "Brother": (V3_ROLE_CODE, "BRO"), "Sister": (V3_ROLE_CODE, "SIS"),
    "Sibling": (V3_ROLE_CODE, "SIB"), "Spouse": (V3_ROLE_CODE, "SPS"),
    "Grandfather": (V3_ROLE_CODE, "GRFTH"), "Grandparent": (V3_ROLE_CODE, "GRPRN"),
    "Grandson": (V3_ROLE_CODE, "GRNDSON"), "Granddaughter": (V3_ROLE_CODE, "GRNDDAU"),
    "Grandchild": (V3_ROLE_CODE, "GRNDCHILD"), "Aunt": (V3_ROLE_CODE, "AUNT"),
    "Uncle": (V3_ROLE_CODE, "UNCLE"), "Niece": (V3_ROLE_CODE, "NIECE"),
    "Nephew": (V3_ROLE_CODE, "NEPHEW"), "Cousin": (V3_ROLE_CODE, "COUSN"),
    "Mother-in-law": (V3_ROLE_CODE, "MTHINLAW"), "Father-in-law": (V3_ROLE_CODE, "FTHINLAW"),
    "Son-in-law": (V3_ROLE_CODE, "SONINLAW"), "Daughter-in-law": (V3_ROLE_CODE, "DAUINLAW"),
    "Emergency contact": (V2_0131, "C"),
    "Legal guardian": (UKCORE_ADDITIONAL_ROLE, "Guardian"),
}


# --- Investigations (DiagnosticReport) -------------------------------------------------------
#
# Profile: <url> of REF/structuredefinitions/UKCore-DiagnosticReport.xml. FHIR R4
# DiagnosticReport: status 1..1 (required binding diagnostic-report-status), code 1..1.
PROFILES["DiagnosticReport"] = UKCORE_SD + "UKCore-DiagnosticReport"
REQUIRED_ELEMENTS["DiagnosticReport"] = ("status", "code")
DIAGNOSTIC_REPORT_STATUS = frozenset({
    "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
    "cancelled", "entered-in-error", "unknown"})
# GP Connect (accessrecord_structured_development_DiagnosticReport.md, "code"): suppliers
# "should populate it with the SNOMED ConceptID 721981007 for Diagnostic studies report";
# UK Core's lab example (UKCore-DiagnosticReport-Lab-DiagnosticStudiesReport-Example) too.
DIAGNOSTIC_STUDIES_REPORT = (SNOMED, "721981007", "Diagnostic studies report")
# HL7 v2 table 0074, Diagnostic Service Section ID (terminology.hl7.org/CodeSystem/v2-0074),
# the codes and displays of the sections a GP record's reports come from. UK Core's lab
# example uses LAB; GP Connect: "a default value of Laboratory".
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DIAGNOSTIC_SERVICE_SECTIONS = {"LAB": "Laboratory", "MB": "Microbiology", "HM": "Hematology",
                               "CH": "Chemistry", "IMM": "Immunology", "CP": "Cytopathology",
                               "RAD": "Radiology"}
# SystmOne Report/Type (as the Demo-shaped records write it) → the section it is. UK
# pathology services are the whole laboratory (chemistry, haematology, microbiology), so
# "Pathology" is LAB (v2's PAT, histopathology, was retired after v2.4).
REPORT_TYPE_SECTIONS = {"Pathology": "LAB", "Microbiology": "MB", "Haematology": "HM",
                        "Biochemistry": "CH", "Clinical Chemistry": "CH",
                        "Immunology": "IMM", "Cytology": "CP", "Radiology": "RAD"}
# UK Core's R5 backport of DiagnosticReport.note (extension:noteR5 of the profile).
DIAGNOSTIC_REPORT_NOTE = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note")
# TPP/spec-v33.4.txt line 1421: "Results" (pathology and radiology results); a report's
# results are coded readings, which come with "ClinicalCodes".
RECORD_SECTIONS["DiagnosticReport"] = frozenset({"Results", "ClinicalCodes"})

# --- Consultations (Encounter) and narrative -------------------------------------------------
#
# REF/structuredefinitions/UKCore-Encounter.xml (<url>); its differential marks identifier,
# status, class, subject, participant mustSupport. FHIR R4 Encounter: status 1..1 (required
# binding encounter-status), class 1..1 (extensible binding v3 ActEncounterCode).
PROFILES["Encounter"] = UKCORE_SD + "UKCore-Encounter"
REQUIRED_ELEMENTS["Encounter"] = ("status", "class")
ENCOUNTER_STATUS = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave",
                              "finished", "cancelled", "entered-in-error", "unknown"})
# GP Connect, pages/accessrecord_structured/accessrecord_structured_development_encounter.md:
# status "Fixed value of finished" for a consultation.
CONSULTATION_STATUS = "finished"
# HL7 v3 ActCode (terminology.hl7.org/CodeSystem-v3-ActCode), the ActEncounterCode concepts:
# VR "virtual" (e.g. a telephone conference), HH "home health", AMB "ambulatory".
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_ENCOUNTER_CODES = {"AMB": "ambulatory", "EMER": "emergency", "FLD": "field",
                       "HH": "home health", "IMP": "inpatient encounter",
                       "ACUTE": "inpatient acute", "NONAC": "inpatient non-acute",
                       "OBSENC": "observation encounter", "PRENC": "pre-admission",
                       "SS": "short stay", "VR": "virtual"}
# SNOMED CT: 185317003 |Telephone encounter (procedure)|, 439708006 |Home visit (procedure)|.
TELEPHONE_ENCOUNTER = "185317003"
HOME_VISIT = "439708006"
# FHIR R4 data-absent-reason (http://hl7.org/fhir/StructureDefinition/data-absent-reason):
# valueCode from the DataAbsentReason code system, "unknown" = the value is expected to exist
# but is not known.
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# GP Connect, pages/accessrecord_structured/
# accessrecord_structured_development_observation_uncategorisedData.md: uncoded free text is
# an Observation coded SNOMED CT 37331000000100 "Comment note", the text in valueString.
COMMENT_NOTE = (SNOMED, "37331000000100", "Comment note")
# Elements that reference the Encounter in FHIR R4 (each resource's definition).
ENCOUNTER_ELEMENT = {"Observation": "encounter", "Condition": "encounter",
                     "AllergyIntolerance": "encounter", "Immunization": "encounter",
                     "MedicationRequest": "encounter", "MedicationStatement": "context"}
ENCOUNTER_ELEMENT.update({"DiagnosticReport": "encounter", "ServiceRequest": "encounter",
                          "CarePlan": "encounter", "DocumentReference": "context.encounter"})
# An Event comes back with whichever sections' items it holds; consultations are coded
# entries and narrative, and an Activity is a contact of its own (TPP/spec-v33.4.txt lines
# 1375-1442; 1434 "Activity").
RECORD_SECTIONS["Encounter"] = frozenset({"ClinicalCodes", "Narrative", "Activity"})
# FHIR R4 Encounter.length: a Duration (UCUM); an Activity's Duration is in minutes.
MINUTES = {"system": UCUM, "code": "min"}

# --- Reminders (Flag) --------------------------------------------------------------------------
#
# REF/structuredefinitions/UKCore-Flag.xml (<url>; mustSupport status, code, subject). FHIR R4
# Flag: status 1..1 (required binding flag-status), code 1..1, subject 1..1.
PROFILES["Flag"] = UKCORE_SD + "UKCore-Flag"
REQUIRED_ELEMENTS["Flag"] = ("status", "code", "subject")
FLAG_STATUS = frozenset({"active", "inactive", "entered-in-error"})
# FHIR R4 core extension flag-priority (context Flag), example binding to the flag-priority
# value set: every code of http://hl7.org/fhir/flag-priority-code with its display.
FLAG_PRIORITY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_SYSTEM = "http://hl7.org/fhir/flag-priority-code"
FLAG_PRIORITY = {"PN": "No alarm", "PL": "Low priority", "PM": "Medium priority",
                 "PH": "High priority"}
# TPP/spec-v33.4.txt line 1430: "Reminders".
RECORD_SECTIONS["Flag"] = frozenset({"Reminders"})
ENCOUNTER_ELEMENT["Flag"] = "encounter"


# --- Documents (DocumentReference) ---------------------------------------------------------

UKCORE_DOCUMENT_REFERENCE = UKCORE_SD + "UKCore-DocumentReference"
# Letter types → members of SNOMED CT's "Record composition type" simple reference set
# (1127551000000109), which UK Core's DocumentType value set is; codes and preferred terms
# as the UK Clinical Extension release lists them. Letter types no member names exactly stay
# text (UK Core's binding is extensible).
DOCUMENT_TYPES = {
    "Referral letter": ("25611000000107", "Referral letter"),
    "Outpatient letter": ("823681000000100", "Outpatient letter"),
    "Discharge letter": ("823701000000103", "Discharge letter"),
    "Discharge summary": ("373942005", "Discharge summary"),
}
DOCUMENT_TYPES_AS_TEXT = ("A&E attendance", "Screening result", "Antenatal booking",
                          "Assessment letter", "Attendance letter", "Miscellaneous")
# File extensions → media types (IANA; the GP Connect documents FAQ lists these formats).
MEDIA_TYPES = {
    "pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "tif": "image/tiff", "tiff": "image/tiff", "bmp": "image/bmp",
    "doc": "application/msword", "rtf": "application/rtf", "txt": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    # IANA: application/xml (RFC 7303), text/html (the HTML standard's registration).
    "xml": "application/xml", "htm": "text/html", "html": "text/html",
}
#: GP Connect Access Document: documents over 5 MB are not retrievable.
DOCUMENT_LIMIT_BYTES = 5 * 1024 * 1024

# --- ServiceRequest (referrals and recalls) ------------------------------------------------
#
# Profile: <url> of REF/structuredefinitions/UKCore-ServiceRequest.xml. Required elements
# (base R4 ServiceRequest): status, intent, subject. Required bindings (FHIR R4):
# request-status, request-intent, request-priority.
PROFILES["ServiceRequest"] = UKCORE_SD + "UKCore-ServiceRequest"
REQUIRED_ELEMENTS["ServiceRequest"] = ("status", "intent", "subject")
SERVICE_REQUEST_STATUS = frozenset({
    "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"})
SERVICE_REQUEST_INTENT = frozenset({
    "proposal", "plan", "directive", "order", "original-order", "reflex-order",
    "filler-order", "instance-order", "option"})
SERVICE_REQUEST_PRIORITY = frozenset({"routine", "urgent", "asap", "stat"})
# GP Connect (nhsconnect/gpconnect, accessrecord_structured_development_referralrequest.md):
# a referral's intent is fixed to "order"; diary entries (..._diaryentry_guidance.md: "may be
# known as 'recalls'") are ProcedureRequests of intent "plan".
REFERRAL_INTENT, RECALL_INTENT = "order", "plan"
# SNOMED CT 3457005 |Patient referral (procedure)|: the category of a referral.
REFERRAL_CATEGORY = (SNOMED, "3457005")
# TPP/spec-v33.4.txt line 1413: "Recalls"; line 1416: "Referrals" (incoming and outgoing).
RECORD_SECTIONS["ServiceRequest"] = frozenset({"Referrals", "Recalls"})
