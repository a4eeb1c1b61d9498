"""UK Core Conditions: SystmOne's problems (ClinicalCode items with a ProblemUID).

- A problem is one Condition, however many Events record it (SystmOne repeats the problem
  header, with the same ProblemUID, each time the problem is reviewed, changed or ended).
  The Condition is made at its latest recording; it names every item it stands for: each
  recording of the header and, in each of their Events, the plain ClinicalCode (no Value)
  repeating the header's code (see observation.NOT_OURS).
- category is problem-list-item. clinicalStatus comes from the latest recording's
  ProblemEndDate: a date on or before today makes the problem inactive (GP Connect's
  problem header: "active or inactive"; an end date in SystmOne says the problem is no
  longer current, not that it resolved), with that date as abatementDateTime. An end date
  still to come leaves the problem active (FHIR's con-4 forbids abatement on an active
  Condition) and is kept as a note.
- verificationStatus is left out: SystmOne records none, and GP Connect's problem header
  says it MUST NOT be populated.
- ProblemSeverity (Major, Minor, "Major Episode", ...) is kept as the text of severity,
  with no coding: it is TPP's own name for the field, but Major/Minor is a problem's
  significance (GP Connect's problemSignificance), not a grade from FHIR's mild/moderate/
  severe value set. Episodicity goes in UK Core's ConditionEpisode extension (coded only
  where the word means the same: conceptmaps.CONDITION_EPISODICITY).
- onset is the date of the first recording (SystmOne holds no separate onset date); the
  recorder is who recorded it first. The code is the latest recording's (fragments.CODE);
  notes are the FreeText of every item the Condition names.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Var, When

from . import systems
from .fragments import CODE, ENCOUNTER, ITEM_IDENTIFIER, NOTE, RECORDER

RESOURCE = "Condition"

# Inside the keyed Each below, $key is the problem's ProblemUID and $group its recordings.
#: Every recording of the problem header, oldest first.
RECORDINGS = "$group"
FIRST_RECORDING = "$group[1]"
#: Every item the Condition stands for, in document order: the recordings and, in their
#: Events, the plain ClinicalCode repeating the header's code.
ITEMS = ("$group/../ClinicalCode[ProblemUID = $key or (not(ProblemUID) and not(Value)"
         " and Code/@Code = ../ClinicalCode[ProblemUID = $key]/Code/@Code)]")

# At the latest recording.
_END_DAY = "translate(substring(normalize-space(ProblemEndDate), 1, 10), '-', '')"
ENDED = f"normalize-space(ProblemEndDate) and {_END_DAY} <= translate($today, '-', '')"
ENDS_LATER = f"normalize-space(ProblemEndDate) and {_END_DAY} > translate($today, '-', '')"


def _clinical_status(code: str, display: str) -> dict:
    return {"coding": [{"system": systems.CONDITION_CLINICAL, "code": code,
                        "display": display}]}


ACTIVE = _clinical_status("active", "Active")
INACTIVE = _clinical_status("inactive", "Inactive")
PROBLEM_LIST_ITEM = {"coding": [{"system": systems.CONDITION_CATEGORY,
                                 "code": "problem-list-item", "display": "Problem List Item"}]}

# At an Episodicity element.
EPISODE = {
    "url": systems.EXT_CONDITION_EPISODE,
    "valueCodeableConcept": {"coding": [Path(".", map="condition_episodicity")],
                             "text": Path(".")},
}

CONDITION = {
    "resourceType": "Condition",
    "id": Id("ProblemUID"),
    "meta": {"profile": [systems.UKCORE_CONDITION], "lastUpdated": Var("last_updated")},
    "extension": [Include(EPISODE, at=f"({RECORDINGS}/Episodicity[normalize-space()])[last()]")],
    "identifier": [Each(ITEMS, ITEM_IDENTIFIER)],
    "clinicalStatus": When(ENDED, INACTIVE, ACTIVE),
    "category": [PROBLEM_LIST_ITEM],
    "severity": Include({"text": Path(".")},
                        at=f"({RECORDINGS}/ProblemSeverity[normalize-space()])[last()]"),
    "code": CODE,
    "subject": Var("patient"),
    "onsetDateTime": Path(f"{FIRST_RECORDING}/ancestor::Event[1]/@DateTime", via="date"),
    "abatementDateTime": When(ENDED, Path("ProblemEndDate", via="date")),
    "recorder": Include(RECORDER, at=FIRST_RECORDING),
    # The consultation the problem was first recorded in (R4: "created as part of").
    "encounter": Include(ENCOUNTER, at=FIRST_RECORDING),
    "note": [
        Each(ITEMS, NOTE),
        When(ENDS_LATER, {"text": Path("concat('Problem end date: ', "
                                       "substring(normalize-space(ProblemEndDate), 1, 10))")}),
    ],
}

TEMPLATE = [
    Each("Clinical/Event/ClinicalCode[normalize-space(ProblemUID)]", CONDITION, key="ProblemUID"),
]

DECLARATION = Declaration(
    type="Condition",
    profile=systems.UKCORE_CONDITION,
    supported_profiles=(systems.UKCORE_CONDITION,),
    sections=frozenset({"ClinicalCodes"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("Condition-subject")),
        SearchParam("clinical-status", "token", ("clinicalStatus.coding",),
                    "active or inactive (an ended problem).",
                    definition=r4("Condition-clinical-status")),
        SearchParam("category", "token", ("category.coding",), "problem-list-item.",
                    definition=r4("Condition-category")),
        SearchParam("code", "token", ("code.coding",),
                    "system|code or code; comma for OR. SNOMED CT and CTV3.",
                    definition=r4("clinical-code")),
        SearchParam("onset-date", "date", ("onsetDateTime",),
                    "date of the problem's first recording; prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("Condition-onset-date")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: the consultation the problem was first recorded in "
                    "(SystmOne Event).", definition=r4("Condition-encounter")),
        SearchParam("recorder", "reference", ("recorder",),
                    "Not R4's (R4 has asserter only): Practitioner/[id] who first recorded "
                    "the problem; _include=Condition:recorder adds them."),
    ),
    patient_params=("patient", "subject"),
    sort=("onsetDateTime",),
    includes=("patient", "recorder"),
)
