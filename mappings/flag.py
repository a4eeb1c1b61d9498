"""UK Core Flags: SystmOne's Reminders, one Flag each.

A Reminder is a notice SystmOne shows whoever opens the record ("Housebound - home visits
only", "Interpreter needed"): GP Connect's warnings, FHIR's Flag ("a prospective warning of
potential issues when providing care to the patient"). TPP's UpdatePatientRecord schema
gives its elements: FreeText, Severity (Low, Normal, High), ExpiryDate ("if an expiry date is
not provided, the reminder will remain until manually removed") and LinkedProblemUID.

- code: the FreeText, as text (a reminder is the practice's own words; no code is given).
- status: `inactive` once the ExpiryDate has passed (in England), else `active`: SystmOne
  returns the reminders the record holds, and one without an expiry stays until removed.
- period: from when the reminder was recorded (its Event) to its ExpiryDate, where given.
- Severity: FHIR R4's flag-priority extension (conceptmaps.FLAG_PRIORITY) with the record's
  word as text; a severity the map does not know stays text only.
- author: who recorded it (fragments.RECORDER); encounter: the Event's Encounter.
- category is left out: SystmOne does not say what kind of notice a reminder is, and
  Flag has no element for a linked problem, so LinkedProblemUID is not served.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Var, When

from . import systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER

RESOURCE = "Flag"

EXPIRED = ("normalize-space(ExpiryDate) and translate(substring(normalize-space(ExpiryDate), "
           "1, 10), '-', '') < translate($today, '-', '')")

FLAG = {
    "resourceType": "Flag",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_FLAG], "lastUpdated": Var("last_updated")},
    "extension": [Include({
        "url": systems.EXT_FLAG_PRIORITY,
        "valueCodeableConcept": {
            "coding": [Path("normalize-space()", via="upper", map="flag_priority")],
            "text": Path(".", via="single_spaced"),
        },
    }, at="Severity[normalize-space()]")],
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": When(EXPIRED, "inactive", "active"),
    "code": {"text": Path("FreeText")},
    "subject": Var("patient"),
    "period": {"start": Path(f"{EVENT}/@DateTime", via="date_time"),
               "end": Path("ExpiryDate", via="date")},
    "encounter": ENCOUNTER,
    "author": RECORDER,
}

# A reminder without words says nothing to flag (FHIR: code 1..1); the report counts it.
TEMPLATE = [Each("Clinical/Event/Reminder[normalize-space(FreeText)]", FLAG)]

DECLARATION = Declaration(
    type="Flag",
    profile=systems.UKCORE_FLAG,
    supported_profiles=(systems.UKCORE_FLAG,),
    sections=frozenset({"Reminders"}),
    # FHIR R4's Flag search parameters (it defines none for status or code).
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("Flag-subject")),
        SearchParam("date", "date", ("period",),
                    "the period the reminder stands (from when it was recorded to its "
                    "expiry); prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("clinical-date")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: the reminders recorded in one consultation.",
                    definition=r4("clinical-encounter")),
        SearchParam("author", "reference", ("author",),
                    "Practitioner/[id] who recorded the reminder; "
                    "_include=Flag:author adds them.", definition=r4("Flag-author")),
        SearchParam("identifier", "token", ("identifier",), "the event-item identifier.",
                    definition=r4("Flag-identifier")),
    ),
    patient_params=("patient", "subject"),
    sort=("period.start",),
    includes=("patient", "author"),
)
