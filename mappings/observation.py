"""UK Core Observations: every coded entry of a record that no other resource type serves.

- A reading with a Value is an Observation with a valueQuantity. Its category,
  LOINC code and UK Core profile come from UK Core's vital-signs definitions and
  the laboratory table (conceptmaps.VITAL_SIGNS, LAB_RESULTS), whichever scheme the
  code is in; a code neither knows is still served, as a plain UK Core Observation.
- A systolic reading immediately followed by a diastolic one in the same Event is
  one blood-pressure Observation with two components (UK Core's BloodPressure
  profile); every such pair of an Event makes its own. A blood-pressure header
  code just before the pair is part of it. Readings without a partner stand alone.
- Smoking status codes are a social-history Observation whose value is the code.
- Every other code (a finding, a procedure, an administrative code: GP Connect's
  "uncategorised data") is an Observation with the code and no value, except
  problem headers (Condition), the plain code a problem header repeats in its
  Event (part of that Condition) and "no known allergy" codes (AllergyIntolerance).
- The free text of an Event (a Narrative item) is an Observation coded SNOMED CT
  37331000000100 "Comment note" with the lines in valueString, as GP Connect serves
  uncoded text: never dropped.

Every Observation references the Encounter of its Event (mappings/encounter.py).

Codes keep their scheme and gain the other where conceptmaps.CODE_PAIRS knows it;
FreeText becomes a note. The key of each Observation is its (first) item's key.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import conceptmaps, fragments, systems
from .fragments import CODE, CTV3_CODING, EVENT, ITEM_IDENTIFIER, NOTE, SNOMED_CODING

RESOURCE = "Observation"

BP_HEADERS = ("246..", "163020007", "75367002")


def code_is(codes: tuple[str, ...]) -> str:
    """An XPath predicate: the item's Code/@Code is one of ``codes``. One string search
    rather than a comparison per code: these predicates run over every item of a record."""
    return f"contains('|{'|'.join(codes)}|', concat('|', Code/@Code, '|'))"


_SYSTOLIC = f"self::ClinicalCode[Value][{code_is(conceptmaps.SYSTOLIC)}]"
_DIASTOLIC = f"self::ClinicalCode[Value][{code_is(conceptmaps.DIASTOLIC)}]"
_NEXT, _PREVIOUS = "following-sibling::*[1]", "preceding-sibling::*[1]"
#: At a ClinicalCode: the first reading of a blood-pressure pair, or the second.
PAIR_START = f"{_SYSTOLIC}[{_NEXT}[{_DIASTOLIC}]]"
PAIR_END = f"{_DIASTOLIC}[{_PREVIOUS}[{_SYSTOLIC}]]"
#: At a ClinicalCode: a blood-pressure header code standing just before a pair.
PAIR_HEADER = (f"self::ClinicalCode[not(Value)][{code_is(BP_HEADERS)}]"
               f"[{_NEXT}[{PAIR_START}]]")

# At a ClinicalCode with a Value.
QUANTITY = {
    "value": Path("Value", via="decimal"),
    "comparator": Path("Comparator", map="comparator"),
    "unit": Path("Units", map="ucum_name", keep_unmapped=True),
    "system": Path("Units", map="ucum_system"),
    "code": Path("Units", map="ucum"),
}

# At a ClinicalCode: its codings, with LOINC between SNOMED CT and CTV3 when known.
READING_CODE = {
    "coding": [SNOMED_CODING, Path("Code/@Code", map="observation_loinc"), CTV3_CODING],
    "text": Path("Code/@Term"),
}

# Shared by every Observation made from an Event item.
_ABOUT_THE_ITEM = {
    "status": "final",
    "subject": Var("patient"),
    "effectiveDateTime": Path(f"{EVENT}/@DateTime", via="date_time"),
    "performer": [fragments.RECORDER],
    "encounter": fragments.ENCOUNTER,
}

NUMERIC = {
    "resourceType": "Observation",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"profile": [Path("Code/@Code", map="observation_profile",
                              default=systems.UKCORE_OBSERVATION)],
             "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "category": [{"coding": [Path("Code/@Code", map="observation_category")]}],
    "code": READING_CODE,
    **_ABOUT_THE_ITEM,
    "valueQuantity": QUANTITY,
    "note": [When("Comparator = '3'", {"text": "Value recorded as approximate"}), NOTE],
}

# At the systolic reading of a pair.
BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"profile": [f"{systems.UKCORE_VITAL_SIGNS}-BloodPressure"],
             "lastUpdated": Var("last_updated")},
    # One identifier per source item: the header (if any), the systolic and diastolic.
    "identifier": [Include(ITEM_IDENTIFIER, at=f"{_PREVIOUS}[self::ClinicalCode][not(Value)]"
                                               f"[{code_is(BP_HEADERS)}]"),
                   Include(ITEM_IDENTIFIER),
                   Include(ITEM_IDENTIFIER, at=_NEXT)],
    "category": [{"coding": [conceptmaps.VITAL_SIGNS_CATEGORY]}],
    "code": {"coding": [
        {"system": systems.SNOMED, "code": "75367002", "display": "Blood pressure"},
        {"system": systems.LOINC, "code": "85354-9",
         "display": "Blood pressure panel with all children optional"},
    ], "text": "Blood pressure"},
    **_ABOUT_THE_ITEM,
    # UK Core fixes each component's code.text.
    "component": [
        {"code": {**READING_CODE, "text": "Systolic blood pressure"}, "valueQuantity": QUANTITY},
        Include({"code": {**READING_CODE, "text": "Diastolic blood pressure"},
                 "valueQuantity": QUANTITY}, at=_NEXT),
    ],
    "note": [NOTE, Include(NOTE, at=_NEXT)],
}

SMOKING_CODES = ("137R.", "77176002", "Ub1na", "8517006", "XE0oh", "266919005")

# At a ClinicalCode without a Value whose code is a smoking status.
SMOKING = {
    "resourceType": "Observation",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_OBSERVATION], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "social-history",
                              "display": "Social History"}]}],
    "code": {"coding": [
        {"system": systems.SNOMED, "code": "229819007", "display": "Tobacco use and exposure"},
        {"system": systems.LOINC, "code": "72166-2", "display": "Tobacco smoking status"},
    ], "text": "Smoking status"},
    **_ABOUT_THE_ITEM,
    "valueCodeableConcept": CODE,
    "note": [NOTE],
}

# At any other ClinicalCode without a Value: the code itself was recorded.
CODED_ENTRY = {
    "resourceType": "Observation",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_OBSERVATION], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "code": CODE,
    **_ABOUT_THE_ITEM,
    "note": [NOTE],
}

# At a Narrative item: the Event's free text, as GP Connect serves uncoded text (an
# Observation coded "Comment note", the text in valueString). Lines are kept as typed, one
# per line, inline codes and all ("D: Hypertension (XE0Ub)"): the codes beside them are
# recorded as ClinicalCodes of their own.
COMMENT_NOTE = {
    "resourceType": "Observation",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_OBSERVATION], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "code": {"coding": [{"system": systems.SNOMED, "code": "37331000000100",
                         "display": "Comment note"}], "text": "Comment note"},
    **_ABOUT_THE_ITEM,
    "valueString": Required(Path("string-join(Line, '\n')", ".")),
}

#: Coded entries other types serve: problem headers, the plain code a header repeats in
#: its Event, "no known allergy" codes.
NOT_OURS = ("ProblemUID", "Code/@Code = ../ClinicalCode[ProblemUID]/Code/@Code",
            code_is(conceptmaps.NO_KNOWN_ALLERGY))

_ITEMS = "Clinical/Event/ClinicalCode"
# Each path puts its most selective test first (XPath checks predicates left to right,
# over every item of a record that can hold thousands).
TEMPLATE = [
    Each(f"{_ITEMS}[{PAIR_START}]", BLOOD_PRESSURE),
    Each(f"{_ITEMS}[Value][not({PAIR_START} or {PAIR_END})]", NUMERIC),
    Each(f"{_ITEMS}[not(Value)][{code_is(SMOKING_CODES)}]", SMOKING),
    Each(f"{_ITEMS}[not(Value)][not({code_is(SMOKING_CODES)})][not({PAIR_HEADER})]"
         f"[not({' or '.join(NOT_OURS)})]", CODED_ENTRY),
    Each("Clinical/Event/Narrative", COMMENT_NOTE),
]

_VITALS = systems.UKCORE_VITAL_SIGNS
DECLARATION = Declaration(
    type="Observation",
    profile=systems.UKCORE_OBSERVATION,
    supported_profiles=(
        systems.UKCORE_OBSERVATION, _VITALS, f"{_VITALS}-BloodPressure",
        *sorted({row[0] for row in conceptmaps.VITAL_SIGNS} - {_VITALS}), systems.UKCORE_LAB),
    sections=frozenset({"ClinicalCodes", "Narrative"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("Observation-subject")),
        SearchParam("code", "token", ("code.coding",),
                    "system|code or code; comma for OR. SNOMED CT, LOINC and CTV3.",
                    definition=r4("clinical-code")),
        SearchParam("category", "token", ("category.coding",),
                    "vital-signs, laboratory, social-history.",
                    definition=r4("Observation-category")),
        SearchParam("date", "date", ("effectiveDateTime",),
                    "effective date/time; prefixes eq ne gt lt ge le sa eb ap; repeat for a range.",
                    definition=r4("clinical-date")),
        SearchParam("status", "token", ("status",), "final.", definition=r4("Observation-status")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: what was recorded in one consultation (SystmOne Event).",
                    definition=r4("clinical-encounter")),
        SearchParam("performer", "reference", ("performer",),
                    "Practitioner/[id]: who recorded it; _include=Observation:performer "
                    "adds them.", definition=r4("Observation-performer")),
    ),
    patient_params=("patient", "subject"),
    sort=("effectiveDateTime",),
    includes=("patient", "performer"),
)
