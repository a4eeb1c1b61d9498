"""UK Core MedicationRequests: repeat templates (plans) and issues (orders).

GP Connect's medication model (pages/accessrecord_structured/..._medication_resource_
relationships.md): an authorisation is a MedicationRequest with intent ``plan``, each issue
one with intent ``order`` based on its authorisation. In SystmOne a RepeatMedication is a
repeat template (the authorisation) and a Medication item is an issue:

- A RepeatMedication is a plan (courseOfTherapyType continuous): Dose as the dosage text,
  Quantity as the quantity per issue, IssueDurationDays as the expected supply duration,
  StartDate/EndDate as the validity period, ReviewDate as UK Core's repeat-information
  authorisationExpiryDate ("repeat prescription review date"), MaxIssues as
  numberOfRepeatsAllowed, which in FHIR does not count the first issue: MaxIssues - 1.
- A Medication item is an order (MedicationType as the category text). It is an issue of
  a repeat when a template of the same drug is current on its start date: of the
  templates of that drug recorded before the issue (or in its Event) and started on or
  before that day, the one recorded last (SystmOne lists Events oldest first), unless it
  had ended (EndDate) before that day. Such an issue
  is basedOn that plan (courseOfTherapyType continuous); any other issue is an acute
  (courseOfTherapyType acute) with no plan: SystmOne records no separate authorisation
  for it, so none is invented.
- status: stopped when an EndReason is given (kept as statusReason), completed once the
  EndDate has passed (or, for a plan, once a later template of the same drug has started:
  re-authorising replaces it), else active (GP Connect: active, completed or stopped).
- Quantity "28 tablet" is 28 tablet (the unit as SystmOne writes it: no UCUM unit for it);
  a quantity that does not start with a number is kept as a note.
- UK Core makes substitution mandatory; SystmOne says nothing about it, so its
  allowed[x] carries the data-absent-reason "unsupported" rather than a guess.
- The recorder is the Event's DoneBy (who recorded the item; SystmOne does not say who
  authorised it). The drug is a reference to its Medication (medication.py).

Items are grouped by drug (a keyed Each: ``$group`` holds the drug's issues and templates
in record order), and each item binds its own start day and recording time (``let``), so
finding an issue's plan, or a plan's successor, looks only at the items of one drug.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var, When

from . import systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER
from .medication import DRUG, MEDICATION_REFERENCE

RESOURCE = "MedicationRequest"

TODAY = "translate($today, '-', '')"


def day_of(path: str) -> str:
    """A SystmOne date or date-time at ``path`` as a number-like YYYYMMDD string."""
    return f"translate(substring(normalize-space({path}), 1, 10), '-', '')"


# At a Medication or RepeatMedication item.
#: The day the item starts: its StartDate, else its Event's date.
START = ("translate(substring(concat(normalize-space(StartDate), ancestor::Event[1]/@DateTime),"
         " 1, 10), '-', '')")
#: When the item was recorded, as a number (its Event's date and time).
RECORDED = "translate(substring(ancestor::Event[1]/@DateTime, 1, 19), '-:T', '')"
#: What each item binds for the predicates below: ``$started`` and ``$recorded``.
ITEM_VARIABLES = {"started": START, "recorded": RECORDED}
#: Items of one drug share its key; inside, ``$group`` is the drug's items in record order.
DRUG_OF_ITEM = "concat(Drug/@Scheme, '-', Drug/@ProductID)"

STOPPED = "normalize-space(EndReason)"
ENDED = f"normalize-space(EndDate) and {day_of('EndDate')} < {TODAY}"

#: At an issue: its plan. Of the drug's templates recorded before it (or in its Event) and
#: started by its day, the one recorded last, unless that one ended before the issue's day.
PLAN_OF_ISSUE = (f"($templates[{RECORDED} <= $recorded]"
                 f"[{START} <= $started])[last()]"
                 f"[not(normalize-space(EndDate) and {day_of('EndDate')} < $started)]")
#: At a template: a template of the same drug recorded after it has started.
SUPERSEDED = f"$templates[{RECORDED} > $recorded][{START} <= {TODAY}]"
#: What each issue binds: its day and time, then its plan (``$plan``, empty for an acute):
#: found once per issue, as the search costs one look at each of the drug's templates.
ISSUE_VARIABLES = {**ITEM_VARIABLES, "plan": PLAN_OF_ISSUE}
PLAN_OF_THIS_ISSUE = "$plan"

#: At an issue or a template: its status, as MedicationRequest and MedicationStatement
#: both have it.
ISSUE_STATUS = When(STOPPED, "stopped", When(ENDED, "completed", "active"))
PLAN_STATUS = When(STOPPED, "stopped", When(f"({ENDED}) or {SUPERSEDED}", "completed", "active"))


def _course(code: str, display: str) -> dict:
    return {"coding": [{"system": systems.MEDICATION_COURSE_OF_THERAPY, "code": code,
                        "display": display}]}


CONTINUOUS = _course("continuous", "Continuous long term therapy")
ACUTE = _course("acute", "Short course (acute) therapy")

# Quantity: "28 tablet" → 28 tablet.
_QUANTITY_NUMBER = "substring-before(concat(normalize-space(Quantity), ' '), ' ')"
_QUANTITY_UNIT = "normalize-space(substring-after(normalize-space(Quantity), ' '))"
NUMERIC_QUANTITY = f"string(number({_QUANTITY_NUMBER})) != 'NaN'"
QUANTITY = When(NUMERIC_QUANTITY, {"value": Path(_QUANTITY_NUMBER, via="decimal"),
                                   "unit": Path(_QUANTITY_UNIT)})
QUANTITY_NOTE = When(f"normalize-space(Quantity) and not({NUMERIC_QUANTITY})",
                     {"text": Path("concat('Quantity: ', normalize-space(Quantity))")})

#: UK Core requires substitution; SystmOne cannot say whether it is allowed.
SUBSTITUTION = {"allowedCodeableConcept": {"extension": [
    {"url": systems.EXT_DATA_ABSENT_REASON, "valueCode": "unsupported"}]}}

_WHOLE = "floor(number({0})) = number({0})"
# At a RepeatMedication.
REPEAT_INFORMATION = Include({
    "url": systems.EXT_MEDICATION_REPEAT_INFORMATION,
    "extension": [{"url": "authorisationExpiryDate",
                   "valueDateTime": Required(Path(".", via="date"))}],
}, at="ReviewDate[normalize-space()]")
REPEATS_ALLOWED = When(f"number(MaxIssues) >= 1 and {_WHOLE.format('MaxIssues')}",
                       Path("string(number(MaxIssues) - 1)", via="decimal"))
SUPPLY_DURATION = When("number(IssueDurationDays) > 0", {
    "value": Required(Path("IssueDurationDays", via="decimal")),
    "unit": "days", "system": systems.UCUM, "code": "d",
})

# Shared by plans and orders, at the item.
_ABOUT_THE_ITEM = {
    "meta": {"profile": [systems.UKCORE_MEDICATION_REQUEST], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "statusReason": {"text": Path("EndReason")},
    "medicationReference": MEDICATION_REFERENCE,
    "subject": Var("patient"),
    "authoredOn": Path(f"{EVENT}/@DateTime", via="date_time"),
    "recorder": RECORDER,
    "encounter": ENCOUNTER,
    "dosageInstruction": [{"text": Required(Path("Dose"))}],
    "substitution": SUBSTITUTION,
}
_VALIDITY = {"start": Path("StartDate", f"{EVENT}/@DateTime", via="date"),
             "end": Path("EndDate", via="date")}

PLAN = {
    "resourceType": "MedicationRequest",
    "id": Id(ITEM_KEY),
    **_ABOUT_THE_ITEM,
    "extension": [REPEAT_INFORMATION],
    "status": PLAN_STATUS,
    "intent": "plan",
    "courseOfTherapyType": CONTINUOUS,
    "dispenseRequest": {
        "validityPeriod": _VALIDITY,
        "numberOfRepeatsAllowed": REPEATS_ALLOWED,
        "quantity": QUANTITY,
        "expectedSupplyDuration": SUPPLY_DURATION,
    },
    "note": [QUANTITY_NOTE],
}

ORDER = {
    "resourceType": "MedicationRequest",
    "id": Id(ITEM_KEY),
    **_ABOUT_THE_ITEM,
    "basedOn": [Include(Ref("MedicationRequest", ITEM_KEY), at=PLAN_OF_THIS_ISSUE)],
    "status": ISSUE_STATUS,
    "intent": "order",
    "category": [{"text": Path("MedicationType")}],
    "courseOfTherapyType": When(PLAN_OF_THIS_ISSUE, CONTINUOUS, ACUTE),
    "dispenseRequest": {"validityPeriod": _VALIDITY, "quantity": QUANTITY},
    "note": [QUANTITY_NOTE],
}

#: Every item naming a drug, grouped by drug (key DRUG_OF_ITEM); each group binds the
#: drug's templates as ``$templates`` (a small node-set: every XPath naming a variable
#: is handed it on each call).
DRUG_ITEMS = f"Clinical/Event/*[self::Medication or self::RepeatMedication][{DRUG}]"
DRUG_VARIABLES = {"templates": "$group[self::RepeatMedication]"}
TEMPLATES = "$templates"
ISSUES = "$group[self::Medication]"
TEMPLATE = [
    Each(DRUG_ITEMS, [Each(TEMPLATES, PLAN, let=ITEM_VARIABLES),
                      Each(ISSUES, ORDER, let=ISSUE_VARIABLES)],
         key=DRUG_OF_ITEM, let=DRUG_VARIABLES),
]

DECLARATION = Declaration(
    type="MedicationRequest",
    profile=systems.UKCORE_MEDICATION_REQUEST,
    supported_profiles=(systems.UKCORE_MEDICATION_REQUEST,),
    sections=frozenset({"Medication"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("MedicationRequest-subject")),
        SearchParam("status", "token", ("status",), "active, completed or stopped.",
                    definition=r4("medications-status")),
        SearchParam("intent", "token", ("intent",),
                    "plan (a repeat template) or order (an issue).",
                    definition=r4("MedicationRequest-intent")),
        # No FHIR definition: R4's code reads medication as a CodeableConcept, which this
        # type never holds; this one follows medicationReference to the Medication's code.
        SearchParam("code", "token", ("medicationReference.resolve().code.coding",),
                    "The drug (its Medication's code): system|code or code; dm+d "
                    "(https://dmd.nhs.uk) or Multilex."),
        SearchParam("authoredon", "date", ("authoredOn",),
                    "date recorded; prefixes eq ne gt lt ge le sa eb ap; repeat for a range.",
                    definition=r4("MedicationRequest-authoredon")),
        SearchParam("medication", "reference", ("medicationReference",),
                    "Medication/[id]; _include=MedicationRequest:medication adds it.",
                    definition=r4("medications-medication")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: the consultation it was recorded in (SystmOne Event).",
                    definition=r4("medications-encounter")),
        SearchParam("recorder", "reference", ("recorder",),
                    "Not R4's (R4 has requester, which SystmOne does not say): "
                    "Practitioner/[id] who recorded it; _include=MedicationRequest:recorder "
                    "adds them."),
    ),
    patient_params=("patient", "subject"),
    sort=("authoredOn",),
    includes=("patient", "medication", "recorder"),
)
