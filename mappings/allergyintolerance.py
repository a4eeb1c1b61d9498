"""UK Core AllergyIntolerances: SystmOne's drug sensitivities and "no known allergy" codes.

A DrugSensitivity item is one AllergyIntolerance:

- code: the drug (DrugSensitivity/Drug: dm+d or Multilex, as medication.DRUG_CODE), or for
  an ingredient-level sensitivity its one Ingredient in the scheme returned, with
  Ingredient@Details (the name SystmOne's screen shows) as the text. An Ingredient named
  "None known" is Multilex's placeholder for a substance it does not hold: the substance
  is Details (TPP's own example: Details "LATEX FOAM - ADHESIVE"), so it gets no coding
  and never reads as "no known allergy". Several ingredients without a drug keep only
  the text (their codes are not codings of one concept). A sensitivity naming no
  substance at all is coded NI (NoInformation), as UK Core's AllergyCode value set allows.
- category medication: SystmOne's drug sensitivities act on prescribing (GP Connect:
  anything that interacts with prescribing decision support is medication). type,
  criticality and verificationStatus are left out: SystmOne records none of them (GP
  Connect: "not a concept in GP systems").
- clinicalStatus resolved once ended (EndDate on or before today, or
  EndedWithUnknownDate), with UK Core's AllergyIntoleranceEnd extension holding the end
  date when there is one (GP Connect: resolved, with the end date); an end date still to
  come is kept as a note. FreeText is the note (GP Connect puts all text in note; SystmOne
  does not say it is a reaction). recordedDate and recorder come from the Event.

A "no known allergy" ClinicalCode (conceptmaps.NO_KNOWN_ALLERGY) is UK Core's negation
form, as FHIR's own NKA/NKDA examples write it: the code itself (SNOMED CT 716186003 and
its descendants are in UK Core's AllergyCode value set), verificationStatus confirmed,
clinicalStatus active, no category. A "no known (drug) allergy" statement is contradicted
by a drug sensitivity the record holds and has not ended; such a statement is inactive
(GP Connect asserts "no known allergies" only when no allergy is recorded).
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import conceptmaps, systems
from .fragments import CODE, ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, NOTE, RECORDER
from .medication import DRUG, DRUG_CODE
from .observation import code_is

RESOURCE = "AllergyIntolerance"

TODAY = "translate($today, '-', '')"

# At a DrugSensitivity.
_END_DAY = "translate(substring(normalize-space(EndDate), 1, 10), '-', '')"
ENDED = f"EndedWithUnknownDate or (normalize-space(EndDate) and {_END_DAY} <= {TODAY})"
ENDS_LATER = f"normalize-space(EndDate) and {_END_DAY} > {TODAY}"

#: At an Ingredient: Multilex's "None known" placeholder (the substance is in Details).
NONE_KNOWN = ("translate(normalize-space(@Name), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
              "'abcdefghijklmnopqrstuvwxyz') = 'none known'")
_NAMED_INGREDIENT = f"Ingredient[normalize-space(@Name)][not({NONE_KNOWN})]"
#: At a DrugSensitivity without a Drug: some ingredient names the substance.
NAMES_A_SUBSTANCE = f"Ingredient[normalize-space(@Details)] or {_NAMED_INGREDIENT}"


def _status(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


ACTIVE = _status(systems.ALLERGY_CLINICAL, "active", "Active")
INACTIVE = _status(systems.ALLERGY_CLINICAL, "inactive", "Inactive")
CONFIRMED = _status(systems.ALLERGY_VERIFICATION, "confirmed", "Confirmed")
# At a DrugSensitivity that has ended.
RESOLVED = {
    "extension": [Include({
        "url": systems.EXT_ALLERGY_INTOLERANCE_END,
        "extension": [{"url": "endDate", "valueDateTime": Required(Path(".", via="date"))}],
    }, at="EndDate[normalize-space()]")],
    **_status(systems.ALLERGY_CLINICAL, "resolved", "Resolved"),
}
NO_INFORMATION = {"coding": [{"system": systems.V3_NULL_FLAVOR, "code": "NI",
                              "display": "NoInformation"}]}

# At an Ingredient.
INGREDIENT_CODING = {
    "system": Required(Path("@Scheme", map="ingredient_system")),
    "code": Required(Path("@IngredientID")),
    "display": Path("@Name"),
}
# At a DrugSensitivity without a Drug.
INGREDIENT_CODE = {
    "coding": [When("count(Ingredient) = 1", Include(INGREDIENT_CODING, at=_NAMED_INGREDIENT))],
    "text": Path("Ingredient[normalize-space(@Details)][1]/@Details",
                 f"{_NAMED_INGREDIENT}[1]/@Name"),
}
# At a DrugSensitivity: the substance, as a drug, an ingredient, or nothing known.
SUBSTANCE = When(DRUG, Include({**DRUG_CODE, "text": Path("@Name", "../Ingredient/@Details")},
                               at=DRUG),
                 When(NAMES_A_SUBSTANCE, INGREDIENT_CODE, NO_INFORMATION))

_ABOUT_THE_ITEM = {
    "meta": {"profile": [systems.UKCORE_ALLERGY_INTOLERANCE], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "patient": Var("patient"),
    "recordedDate": Path(f"{EVENT}/@DateTime", via="date_time"),
    "recorder": RECORDER,
    "encounter": ENCOUNTER,
}

SENSITIVITY = {
    "resourceType": "AllergyIntolerance",
    "id": Id(ITEM_KEY),
    **_ABOUT_THE_ITEM,
    "clinicalStatus": When(ENDED, RESOLVED, ACTIVE),
    "category": ["medication"],
    "code": SUBSTANCE,
    "note": [
        NOTE,
        When(ENDS_LATER, {"text": Path("concat('End date: ', "
                                       "substring(normalize-space(EndDate), 1, 10))")}),
    ],
}

#: "No known allergy" and "no known drug allergy": a drug sensitivity contradicts them.
CONTRADICTED_BY_DRUG_SENSITIVITY = ("716186003", "409137002")
#: At a "no known allergy" ClinicalCode: the record holds a drug sensitivity not ended.
CONTRADICTED = (f"{code_is(CONTRADICTED_BY_DRUG_SENSITIVITY)}"
                f" and ancestor::Clinical[1]/Event/DrugSensitivity[not({ENDED})]")

NO_KNOWN_ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "id": Id(ITEM_KEY),
    **_ABOUT_THE_ITEM,
    "clinicalStatus": When(CONTRADICTED, INACTIVE, ACTIVE),
    "verificationStatus": CONFIRMED,
    "code": CODE,
    "note": [NOTE],
}

TEMPLATE = [
    Each("Clinical/Event/DrugSensitivity", SENSITIVITY),
    Each(f"Clinical/Event/ClinicalCode[not(Value)][{code_is(conceptmaps.NO_KNOWN_ALLERGY)}]",
         NO_KNOWN_ALLERGY),
]

DECLARATION = Declaration(
    type="AllergyIntolerance",
    profile=systems.UKCORE_ALLERGY_INTOLERANCE,
    supported_profiles=(systems.UKCORE_ALLERGY_INTOLERANCE,),
    sections=frozenset({"Sensitivities", "ClinicalCodes"}),
    search_params=(
        patient_param("patient", "patient", definition=r4("clinical-patient")),
        SearchParam("clinical-status", "token", ("clinicalStatus.coding",),
                    "active, inactive or resolved.",
                    definition=r4("AllergyIntolerance-clinical-status")),
        SearchParam("code", "token", ("code.coding",),
                    "system|code or code; comma for OR. dm+d, Multilex, SNOMED CT, CTV3.",
                    definition=r4("clinical-code")),
        SearchParam("date", "date", ("recordedDate",),
                    "date recorded; prefixes eq ne gt lt ge le sa eb ap; repeat for a range.",
                    definition=r4("clinical-date")),
        SearchParam("recorder", "reference", ("recorder",),
                    "Practitioner/[id] who recorded it; _include=AllergyIntolerance:recorder "
                    "adds them.", definition=r4("AllergyIntolerance-recorder")),
    ),
    patient_params=("patient",),
    sort=("recordedDate",),
    includes=("patient", "recorder"),
)
