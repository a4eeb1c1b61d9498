"""UK Core Immunizations: SystmOne's Vaccination items (Name, Contents, BatchNumber, Notes,
PartType, Dosage), one Immunization each.

- vaccineCode: SystmOne gives no code. The text is the Name, with the Contents after it
  when they say something else ("MMR (Measles, Mumps, Rubella)"); a SNOMED CT vaccine
  product is added only for names that say exactly which antigens the vaccine holds
  (conceptmaps.VACCINE_PRODUCT). A vaccination with neither is coded UNK, as GP Connect
  requires for an unknown vaccine (UK Core's VaccineCode value set holds it).
- status completed, primarySource true: GP Connect's default where the system cannot say
  whether the record is first-hand. occurrence is the Event's time.
- PartType ("Part 1", "Booster 1") is protocolApplied.doseNumberString; BatchNumber the
  lotNumber; Dosage "0.5 ml" the doseQuantity 0.5 mL (UCUM where the unit is known; a
  dosage that does not start with a number is kept as a note).
- Notes are a note; Notes that are nothing but an injection site ("Left deltoid") also
  give the site (conceptmaps.IMMUNISATION_SITE), since SystmOne has no site field.
- performer is the Event's DoneBy, with no function: SystmOne does not say whether they
  gave the vaccine or recorded it (GP Connect: leave the role out then).
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import conceptmaps, systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER

RESOURCE = "Immunization"

_NAME, _CONTENTS = "normalize-space(Name)", "normalize-space(Contents)"
VACCINE_TEXT = When(f"{_NAME} and {_CONTENTS} and {_NAME} != {_CONTENTS}",
                    Path(f"concat({_NAME}, ' (', {_CONTENTS}, ')')"),
                    Path("Name", "Contents"))
UNKNOWN_VACCINE = {"coding": [{"system": systems.V3_NULL_FLAVOR, "code": "UNK",
                               "display": "unknown"}]}
VACCINE_CODE = When(f"{_NAME} or {_CONTENTS}",
                    {"coding": [Path(_NAME, map="vaccine_product")], "text": VACCINE_TEXT},
                    UNKNOWN_VACCINE)

# Dosage: "0.5 ml" → 0.5 mL.
_DOSE_NUMBER = "substring-before(concat(normalize-space(Dosage), ' '), ' ')"
_DOSE_UNIT = "normalize-space(substring-after(normalize-space(Dosage), ' '))"
NUMERIC_DOSE = f"string(number({_DOSE_NUMBER})) != 'NaN'"
DOSE_QUANTITY = When(NUMERIC_DOSE, {
    "value": Path(_DOSE_NUMBER, via="decimal"),
    "unit": Path(_DOSE_UNIT),
    "system": Path(_DOSE_UNIT, map="dose_ucum_system"),
    "code": Path(_DOSE_UNIT, map="dose_ucum"),
})

_SITES = "|".join(conceptmaps.IMMUNISATION_SITE)
#: The Notes, when they are nothing but a known injection site.
SITE_NOTES = f"Notes[contains('|{_SITES}|', concat('|', normalize-space(.), '|'))]"

IMMUNIZATION = {
    "resourceType": "Immunization",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_IMMUNIZATION], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": "completed",
    "vaccineCode": VACCINE_CODE,
    "patient": Var("patient"),
    "occurrenceDateTime": Path(f"{EVENT}/@DateTime", via="date_time"),
    "primarySource": True,
    "lotNumber": Path("BatchNumber"),
    "site": Include({"coding": [Path("normalize-space(.)", map="immunisation_site")],
                     "text": Path(".")}, at=SITE_NOTES),
    "doseQuantity": DOSE_QUANTITY,
    "performer": [{"actor": RECORDER}],
    "encounter": ENCOUNTER,
    "note": [
        Include({"text": Required(Path("."))}, at="Notes[normalize-space()]"),
        When(f"normalize-space(Dosage) and not({NUMERIC_DOSE})",
             {"text": Path("concat('Dosage: ', normalize-space(Dosage))")}),
    ],
    "protocolApplied": [{"doseNumberString": Required(Path("PartType"))}],
}

TEMPLATE = [Each("Clinical/Event/Vaccination", IMMUNIZATION)]

DECLARATION = Declaration(
    type="Immunization",
    profile=systems.UKCORE_IMMUNIZATION,
    supported_profiles=(systems.UKCORE_IMMUNIZATION,),
    sections=frozenset({"Vaccinations"}),
    search_params=(
        patient_param("patient", "patient", definition=r4("clinical-patient")),
        SearchParam("date", "date", ("occurrenceDateTime",),
                    "when given; prefixes eq ne gt lt ge le sa eb ap; repeat for a range.",
                    definition=r4("clinical-date")),
        SearchParam("vaccine-code", "token", ("vaccineCode.coding",),
                    "system|code or code: SNOMED CT vaccine products where the name says one.",
                    definition=r4("Immunization-vaccine-code")),
        SearchParam("status", "token", ("status",), "completed.",
                    definition=r4("Immunization-status")),
        SearchParam("performer", "reference", ("performer.actor",),
                    "Practitioner/[id] who gave or recorded it; _include=Immunization:performer "
                    "adds them.", definition=r4("Immunization-performer")),
    ),
    patient_params=("patient",),
    sort=("occurrenceDateTime",),
    includes=("patient", "performer"),
)
