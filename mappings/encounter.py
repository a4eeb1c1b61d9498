"""UK Core Encounters: SystmOne's Events, one Encounter each.

TPP's spec defines an Event as the container "to represent each consultation or
administrative event recorded in the patient record", with attributes for its date and
time, who recorded it (UserName, DoneBy), where it was performed (DoneAt, free text), the
software that added it, a linked referral and its EventUID — and no type or setting. Every
item of a record is recorded in an Event, so every Event is an Encounter (GP Connect counts
"a GP reviewing and updating a patient record on receipt of some test results" as an
indirect encounter), and every resource made from an Event's items references it.

- identifier: the EventUID; status `finished` (GP Connect's fixed value for consultations).
- period.start: the Event's DateTime. SystmOne gives no end or length.
- class (1..1 in R4): the v3 ActEncounterCode a contact code recorded in the Event names
  (a telephone encounter is `VR`, a home visit `HH`: conceptmaps.ENCOUNTER_CLASS). Where the
  Event holds none the record does not say, and class carries only the data-absent-reason
  `unknown` rather than a guess (a surgery consultation and a result filed by the practice
  look the same to the facade).
- type is left out: GP Connect carries the consultation type a system displays, and
  GetPatientRecord returns none.
- participant: who recorded the Event (fragments.RECORDER, as every other type), with no
  type: SystmOne says who recorded it, not their part in the contact.
- location: DoneAt as a display only (free text, "Surgery" or a site's name; no Location is
  named). serviceProvider is left out: DoneAt is not an organisation.

An Event's Activity items are contacts of their own, each an Encounter `partOf` the Event's.
TPP's UpdatePatientRecord schema gives an Activity's elements: Performed (what was done,
from a practice list: "Counselling", "MDT Discussion", "Home follow up visit"...), With
(whom with: "Patient", "Carer", "Relative", "Medical Staff"...), Method (Face to face,
Telephone, Text, Email, Letter, Fax, DNA) and Duration in minutes. GP Connect counts a
contact without the patient present as an (indirect) encounter, as here.

- type: Performed, as text (the practice's own list has no published code).
- class: the v3 ActEncounterCode of the Method (conceptmaps.ACTIVITY_CLASS): VR for every
  remote method; Face to face says no setting (surgery or home), so data-absent `unknown`.
- status: `cancelled` when the Method is DNA (the patient did not attend: FHIR's "ended
  before it has begun"), else `finished`.
- length: the Duration in minutes (FHIR: "quantity of time the encounter lasted").
- participant: who recorded it (fragments.RECORDER), and With as a participant type in the
  record's words (a role, not a person the record names).
- period.start: the Event's DateTime; reasonReference: the problems it is linked to.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var, When

from . import conceptmaps, fragments, systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER

RESOURCE = "Encounter"

#: At an Event: the first recorded code that says how the contact took place.
CONTACT_CODE = ("ClinicalCode/Code[@Scheme = 'Snomed'][contains('|"
                + "|".join(conceptmaps.ENCOUNTER_CLASS) + "|', concat('|', @Code, '|'))]/@Code")
CLASS_NOT_RECORDED = {"extension": [{"url": systems.EXT_DATA_ABSENT_REASON,
                                     "valueCode": "unknown"}]}

ENCOUNTER_OF_EVENT = {
    "resourceType": "Encounter",
    "id": Id("@EventUID"),
    "meta": {"profile": [systems.UKCORE_ENCOUNTER], "lastUpdated": Var("last_updated")},
    "identifier": [{"system": systems.SYSTMONE_EVENT, "value": Required(Path("@EventUID"))}],
    "status": "finished",
    "class": Path(CONTACT_CODE, map="encounter_class", default=CLASS_NOT_RECORDED),
    "subject": Var("patient"),
    # RECORDER reads the Event from one of its items (ancestor::Event): any child will do.
    "participant": [{"individual": Include(fragments.RECORDER, at="*[1]")}],
    "period": {"start": Path("@DateTime", via="date_time")},
    "location": [{"location": {"display": Required(Path("@DoneAt", via="single_spaced"))}}],
}

# At an Activity item: the problems it is linked to, where the record holds the problem.
LINKED_PROBLEMS = Each("LinkedProblemUID[. = ancestor::Clinical[1]/Event/ClinicalCode/ProblemUID]",
                       Ref("Condition", "normalize-space()"))

ACTIVITY = {
    "resourceType": "Encounter",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_ENCOUNTER], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": When("normalize-space(Method) = 'DNA'", "cancelled", "finished"),
    "class": Path("normalize-space(Method)", via="upper", map="activity_class",
                  default=CLASS_NOT_RECORDED),
    "type": [{"text": Required(Path("Performed", via="single_spaced"))}],
    "subject": Var("patient"),
    "participant": [{"individual": RECORDER},
                    {"type": [{"text": Required(Path("With", via="single_spaced"))}]}],
    "period": {"start": Path(f"{EVENT}/@DateTime", via="date_time")},
    "length": When("number(Duration) >= 0", {
        "value": Path("normalize-space(Duration)", via="decimal"),
        "unit": "min", "system": systems.UCUM, "code": "min"}),
    "reasonReference": [LINKED_PROBLEMS],
    "partOf": ENCOUNTER,
}

TEMPLATE = [Each("Clinical/Event[normalize-space(@EventUID)]", ENCOUNTER_OF_EVENT),
            Each("Clinical/Event[normalize-space(@EventUID)]/Activity", ACTIVITY)]

DECLARATION = Declaration(
    type="Encounter",
    profile=systems.UKCORE_ENCOUNTER,
    supported_profiles=(systems.UKCORE_ENCOUNTER,),
    # An Event comes with whichever section's items it holds: a full fetch asks for every
    # served type's sections, so every Event holding a served item is there.
    sections=frozenset({"ClinicalCodes", "Narrative", "Activity"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("Encounter-subject")),
        SearchParam("date", "date", ("period",),
                    "when the Event was recorded; prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("clinical-date")),
        SearchParam("identifier", "token", ("identifier",),
                    "urn:systmone:id:event|[EventUID].", definition=r4("clinical-identifier")),
        SearchParam("class", "token", ("class",),
                    "v3 ActCode: VR (telephone, or an activity by a remote method), HH (home "
                    "visit) where the record says.", definition=r4("Encounter-class")),
        SearchParam("status", "token", ("status",),
                    "finished, or cancelled (an activity the patient did not attend).",
                    definition=r4("Encounter-status")),
        SearchParam("part-of", "reference", ("partOf",),
                    "Encounter/[id]: the activities recorded in one Event.",
                    definition=r4("Encounter-part-of")),
    ),
    patient_params=("patient", "subject"),
    sort=("period.start",),
    includes=("patient",),
)
