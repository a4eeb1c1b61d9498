"""UK Core CarePlans: SystmOne's care plans (an Event's CarePlan item: CarePlanName,
Description, Category, SubCategory, Aim, ReviewDate, Instructions/Instruction with
InstructionText, Order and Responsibility) and patient plans (PatientPlan: Name,
Items/Instruction), one CarePlan each.

- status active, intent plan: a plan in the record is the one agreed. TPP: "care plans -
  effective from when started to when ended"; an EndDate that has passed makes it
  completed (period.end), else the plan stands.
- title the plan's name, description its Description; category the Category and
  SubCategory as text ("Long term conditions", "Diabetes"): the practice's own words, no
  published code.
- Each Instruction is an activity: detail.description its text, detail.status unknown
  (SystmOne records the instruction, not its progress), performer the Responsibility —
  the patient's own Reference when it is "Patient", else the words as written ("Practice
  nurse", "GP").
- The Aim and the ReviewDate have no CarePlan element (a Goal would be a resource this
  record does not hold): they are kept as notes.
- created is the Event's time, author the Event's DoneBy, period.start its date.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER

RESOURCE = "CarePlan"

ENDED = ("normalize-space(EndDate) and translate(substring(EndDate, 1, 10), '-', '') "
         "< translate($today, '-', '')")

# At an Instruction.
ACTIVITY = {"detail": {
    "status": "unknown",
    "description": Path("InstructionText", via="single_spaced"),
    "performer": [When("normalize-space(Responsibility) = 'Patient'", Var("patient"),
                       Include({"display": Required(Path(".", via="single_spaced"))},
                               at="Responsibility[normalize-space()]"))],
}}

CARE_PLAN = {
    "resourceType": "CarePlan",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_CARE_PLAN], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": When(ENDED, "completed", "active"),
    "intent": "plan",
    "category": [
        Include({"text": Required(Path(".", via="single_spaced"))},
                at="Category[normalize-space()]"),
        Include({"text": Required(Path(".", via="single_spaced"))},
                at="SubCategory[normalize-space()]"),
    ],
    "title": Path("CarePlanName", "Name", via="single_spaced"),
    "description": Path("Description", via="single_spaced"),
    "subject": Var("patient"),
    "encounter": ENCOUNTER,
    "period": {"start": Path(f"{EVENT}/@DateTime", via="date"),
               "end": Path("EndDate", via="date")},
    "created": Path(f"{EVENT}/@DateTime", via="date_time"),
    "author": RECORDER,
    "activity": [Each("Instructions/Instruction | Items/Instruction", ACTIVITY)],
    "note": [
        Include({"text": Required(Path("concat('Aim: ', normalize-space(.))"))},
                at="Aim[normalize-space()]"),
        Include({"text": Required(Path("concat('Review date: ', normalize-space(.))"))},
                at="ReviewDate[normalize-space()]"),
    ],
}

TEMPLATE = [Each("Clinical/Event/CarePlan | Clinical/Event/PatientPlan", CARE_PLAN)]

DECLARATION = Declaration(
    type="CarePlan",
    profile=systems.UKCORE_CARE_PLAN,
    supported_profiles=(systems.UKCORE_CARE_PLAN,),
    sections=frozenset({"CarePlans"}),
    search_params=(
        patient_param("patient", "subject", definition=r4("clinical-patient")),
        patient_param("subject", "subject", definition=r4("CarePlan-subject")),
        SearchParam("status", "token", ("status",), "active or completed.",
                    definition=r4("CarePlan-status")),
        SearchParam("intent", "token", ("intent",), "plan.", definition=r4("CarePlan-intent")),
        SearchParam("date", "date", ("period",),
                    "the time the plan covers; prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("clinical-date")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: the consultation (SystmOne Event) the plan was recorded in.",
                    definition=r4("CarePlan-encounter")),
    ),
    patient_params=("patient", "subject"),
    sort=("period.start",),
    includes=("patient",),
)
