"""UK Core Observations from a SystmOne record: numeric items and smoking status.

Blood pressure (systolic and diastolic items recorded in one Event) becomes one
Observation with two components, as UK Core's BloodPressure profile wants;
every other item with a Value becomes an Observation of its own. Codes carry
SNOMED CT (translated from CTV3 when that is what the record holds), LOINC for
vital signs and common labs, and the original CTV3 code when the source was CTV3.
"""

from facade.mapping.vocabulary import Each, Include, Path, Required, Var, When

from . import conceptmaps, systems

RESOURCE = "Observation"

SYSTOLIC = ("2469.", "163030003", "72313002")
DIASTOLIC = ("246A.", "163031004", "1091811000000102")


def _code_is(codes: tuple[str, ...]) -> str:
    """An XPath predicate: the item's Code/@Code is one of ``codes``. One string search
    rather than a comparison per code: these predicates run over every item of a record."""
    return f"contains('|{'|'.join(codes)}|', concat('|', Code/@Code, '|'))"


_EVENT = "ancestor::Event[1]"

# At a ClinicalCode item: its coding in every system we can give.
CODE = {
    "coding": [
        When("Code/@Scheme = 'Snomed'", {
            "system": systems.SNOMED,
            "code": Path("Code/@Code"),
            "display": Path("Code/@Term"),
        }),
        When("Code/@Scheme = 'CTV3'", Path("Code/@Code", map="observation_snomed")),
        Path("Code/@Code", map="observation_loinc"),
        When("Code/@Scheme = 'CTV3'", {
            "system": systems.CTV3,
            "code": Path("Code/@Code"),
            "display": Path("Code/@Term"),
        }),
        # Returned in SNOMED CT: the CTV3 code of the same concept, where it is known.
        When("Code/@Scheme = 'Snomed'", Path("Code/@Code", map="observation_ctv3")),
    ],
    "text": Path("Code/@Term"),
}

# At a ClinicalCode item with a Value.
QUANTITY = {
    "value": Required(Path("Value", via="decimal")),
    "comparator": Path("Comparator", map="comparator"),
    "unit": Path("Units", map="ucum_name", keep_unmapped=True),
    "system": Path("Units", map="ucum_system"),
    "code": Path("Units", map="ucum"),
}

# Shared by every Observation made from an Event.
_ABOUT_THE_EVENT = {
    "status": "final",
    "subject": Var("patient"),
    "effectiveDateTime": Path(f"{_EVENT}/@DateTime", via="date_time"),
    "performer": [{"display": Path(f"{_EVENT}/@DoneBy", via="single_spaced")}],
}

# At a ClinicalCode item: the item's own key in the record (EventUID and position),
# which keeps ids stable and lets the fidelity report see what was mapped.
_ITEM_KEY = f"concat({_EVENT}/@EventUID, '-', count(preceding-sibling::*))"
ITEM_IDENTIFIER = {
    "system": systems.SYSTMONE_EVENT_ITEM,
    "value": Required(Path(_ITEM_KEY)),
}

NUMERIC = {
    "resourceType": "Observation",
    "id": Path(_ITEM_KEY, via="fhir_id"),
    "meta": {"profile": [Path("Code/@Code", map="observation_profile",
                              default=systems.UKCORE_OBSERVATION)]},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "category": [{"coding": [Path("Code/@Code", map="observation_category")]}],
    "code": CODE,
    **_ABOUT_THE_EVENT,
    "valueQuantity": QUANTITY,
    "note": [When("Comparator = '3'", {"text": "Value recorded as approximate"}),
             Include({"text": Required(Path("."))}, at="FreeText")],
}

BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "id": Path("concat(@EventUID, '-bp')", via="fhir_id"),
    "meta": {"profile": [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-BloodPressure"]},
    # One identifier per source item: the systolic and the diastolic reading.
    "identifier": [Include(ITEM_IDENTIFIER, at=f"ClinicalCode[Value][{_code_is(SYSTOLIC)}]"),
                   Include(ITEM_IDENTIFIER, at=f"ClinicalCode[Value][{_code_is(DIASTOLIC)}]")],
    "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs",
                              "display": "Vital Signs"}]}],
    "code": {"coding": [
        {"system": systems.SNOMED, "code": "75367002", "display": "Blood pressure"},
        {"system": systems.LOINC, "code": "85354-9",
         "display": "Blood pressure panel with all children optional"},
    ], "text": "Blood pressure"},
    "status": "final",
    "subject": Var("patient"),
    "effectiveDateTime": Path("@DateTime", via="date_time"),
    "performer": [{"display": Path("@DoneBy", via="single_spaced")}],
    # UK Core fixes each component's code.text.
    "component": [
        Include({"code": {**CODE, "text": "Systolic blood pressure"}, "valueQuantity": QUANTITY},
                at=f"ClinicalCode[Value][{_code_is(SYSTOLIC)}]"),
        Include({"code": {**CODE, "text": "Diastolic blood pressure"},
                 "valueQuantity": QUANTITY},
                at=f"ClinicalCode[Value][{_code_is(DIASTOLIC)}]"),
    ],
}

SMOKING_CODES = tuple(code for row in conceptmaps.SMOKING_STATUS for code in row[:2])

# At a ClinicalCode without a Value whose code is a smoking status.
SMOKING = {
    "resourceType": "Observation",
    "id": Path(_ITEM_KEY, via="fhir_id"),
    "meta": {"profile": [systems.UKCORE_OBSERVATION]},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "social-history",
                              "display": "Social History"}]}],
    "code": {"coding": [
        {"system": systems.SNOMED, "code": "229819007", "display": "Tobacco use and exposure"},
        {"system": systems.LOINC, "code": "72166-2", "display": "Tobacco smoking status"},
    ], "text": "Smoking status"},
    **_ABOUT_THE_EVENT,
    "valueCodeableConcept": CODE,
}

# Each path puts its most selective test first (XPath checks predicates left to right,
# over every item of a record that can hold thousands).
TEMPLATE = [
    Each(f"Clinical/Event/ClinicalCode[{_code_is(SYSTOLIC)}][Value]/..", BLOOD_PRESSURE),
    Each(f"Clinical/Event/ClinicalCode[Value][not({_code_is(SYSTOLIC + DIASTOLIC)})]", NUMERIC),
    # A diastolic reading with no systolic beside it stands on its own.
    Each(f"Clinical/Event/ClinicalCode[{_code_is(DIASTOLIC)}][Value]"
         f"[not(../ClinicalCode[{_code_is(SYSTOLIC)}][Value])]", NUMERIC),
    Each(f"Clinical/Event/ClinicalCode[not(Value)][{_code_is(SMOKING_CODES)}]", SMOKING),
]
