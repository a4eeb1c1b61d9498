"""UK Core ServiceRequests: SystmOne's Referral items (orders) and Recall items (plans).

TPP's spec documents neither item's elements; these are the ones SystmOne's XML templates
and the simulator write: Referral (ReferralUID, Direction, Service, ReferredTo, Reason,
Urgency, Status, EndDate), Recall (RecallDate, Type, Comments, Status).

- A referral is an `order` (GP Connect: ReferralRequest intent fixed to order), category
  SNOMED CT 3457005 "Patient referral". One ServiceRequest per ReferralUID, made at its
  latest recording and naming every recording (as Condition does for a ProblemUID), so a
  referral SystmOne records again stays one request with one id.
- A recall is a `plan`: GP Connect's diary entry ("may be known as 'recalls' within some GP
  clinical systems"), a ProcedureRequest of intent plan in STU3, an R4 ServiceRequest. Its
  RecallDate is the occurrence. SystmOne's Reminders are not recalls: they are undated
  notices about the patient ("Housebound - home visits only"), GP Connect's warnings and
  alerts, which its diary entries leave out; they are not served as ServiceRequests.
- status from the record's own Status (conceptmaps.REFERRAL_STATUS, RECALL_STATUS). GP
  Connect sets every referral's status to unknown because GP systems rarely keep one;
  SystmOne's referral has a Status and an EndDate (TPP: a referral is effective "from when
  referred to when the referral is closed"), so the facade says what it says, and `unknown`
  with the record's words as a note where the value is not one it knows.
- priority from Urgency: routine, urgent; "Two week wait" (an urgent suspected-cancer
  referral) is urgent. Any urgency other than routine or urgent is also kept as a note
  (GP Connect: a priority that cannot be mapped goes in a note), and one the map does not
  know gives no priority.
- code: the item's Code in both schemes where it has one (fragments.CODE), with the
  referral's Service or the recall's Type as text (SystmOne gives these as text only).
- reasonCode: the referral's Reason as text. reasonReference: the problems the item or its
  Event is linked to (LinkedProblemUID), where the record holds the problem (a Condition is
  made from its header). GP Connect's STU3 referral links the other way (the problem names
  the referral); R4's ServiceRequest.reasonReference is the element for it.
- requester: who recorded an outgoing referral or the recall (GP Connect: the recorder
  when the record names no one else). An incoming referral was requested elsewhere: no
  requester, and a note says it was received.
- performer: the ReferredTo provider, as a display (SystmOne names it in free text, with
  no ODS code to reference).
- authoredOn: when the item was recorded (its first recording for a referral); encounter
  the consultation (Event) it was recorded in (GP Connect's ReferralRequest.context).
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var, When

from . import conceptmaps, systems
from .fragments import (
    CTV3_CODING,
    ENCOUNTER,
    EVENT,
    ITEM_IDENTIFIER,
    ITEM_KEY,
    NOTE,
    RECORDER,
    SNOMED_CODING,
)

RESOURCE = "ServiceRequest"

_LOWER, _UPPER = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def upper(element: str) -> str:
    """XPath: an element's text, whitespace collapsed, in upper case (the concept maps' keys)."""
    return f"translate(normalize-space({element}), '{_LOWER}', '{_UPPER}')"


def known(element: str, table: dict) -> str:
    """XPath: the element's text is a key of ``table`` (in upper case)."""
    return f"contains('|{'|'.join(table)}|', concat('|', {upper(element)}, '|'))"


def status(table: str, keys: dict) -> When:
    """status from the record's Status, ``unknown`` where the map does not know it."""
    return When(known("Status", keys), Path(upper("Status"), map=table), "unknown")


#: A note holding the record's own Status where the map does not know it.
def unknown_status_note(keys: dict) -> When:
    return When(f"normalize-space(Status) and not({known('Status', keys)})",
                {"text": Path("concat('Status in SystmOne: ', normalize-space(Status))")})


# At an item: the problems it (or its whole Event) is linked to, where the record holds
# the problem's header (the Condition's key is its ProblemUID). $own: the item's own links,
# so an Event's link repeating one of them is not referenced twice.
_HELD = "[. = ancestor::Clinical[1]/Event/ClinicalCode/ProblemUID]"
LINKED_PROBLEMS = Each(f"LinkedProblemUID{_HELD} | "
                       f"ancestor::Event[1]/LinkedProblemUID[not(. = $own)]{_HELD}",
                       Ref("Condition", "normalize-space()"))

# --- Referrals ------------------------------------------------------------------------

# Inside the keyed Each below, $group is every recording of the referral, oldest first.
FIRST_RECORDING = "$group[1]"
PATIENT_REFERRAL = {"coding": [{"system": systems.SNOMED, "code": "3457005",
                                "display": "Patient referral"}]}
INCOMING = "normalize-space(Direction) = 'Incoming'"
# Urgencies FHIR's priority says in full: any other is also kept in the record's words.
_PLAIN_URGENCY = {"ROUTINE": "routine", "URGENT": "urgent"}

REFERRAL = {
    "resourceType": "ServiceRequest",
    "id": Id(When("normalize-space(ReferralUID)", Path("normalize-space(ReferralUID)"),
                  ITEM_KEY)),
    "meta": {"profile": [systems.UKCORE_SERVICE_REQUEST], "lastUpdated": Var("last_updated")},
    "identifier": [
        Each("$group", ITEM_IDENTIFIER),
        Include({"system": systems.SYSTMONE_REFERRAL, "value": Required(Path("."))},
                at="ReferralUID[normalize-space()]"),
    ],
    "status": status("referral_status", conceptmaps.REFERRAL_STATUS),
    "intent": "order",
    "category": [PATIENT_REFERRAL],
    "priority": Path(upper("Urgency"), map="referral_priority"),
    "code": {"coding": [SNOMED_CODING, CTV3_CODING], "text": Path("Service", "Code/@Term")},
    "subject": Var("patient"),
    "encounter": Include(ENCOUNTER, at=FIRST_RECORDING),
    "authoredOn": Path(f"{FIRST_RECORDING}/{EVENT}/@DateTime", via="date_time"),
    "requester": When(f"not({INCOMING})", Include(RECORDER, at=FIRST_RECORDING)),
    "performer": [{"display": Required(Path("normalize-space(ReferredTo)"))}],
    "reasonCode": [Include({"text": Required(Path("."))}, at="Reason[normalize-space()]")],
    "reasonReference": [LINKED_PROBLEMS],
    "note": [
        When(INCOMING, {"text": "Incoming referral: received by the practice."}),
        When(f"normalize-space(Urgency) and not({known('Urgency', _PLAIN_URGENCY)})",
             {"text": Path("concat('Urgency: ', normalize-space(Urgency))")}),
        unknown_status_note(conceptmaps.REFERRAL_STATUS),
        When("normalize-space(EndDate)",
             {"text": Path("concat('Referral end date: ', substring(normalize-space(EndDate),"
                           " 1, 10))")}),
        Each("$group", NOTE),
    ],
}

# --- Recalls --------------------------------------------------------------------------

RECALL = {
    "resourceType": "ServiceRequest",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_SERVICE_REQUEST], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": status("recall_status", conceptmaps.RECALL_STATUS),
    "intent": "plan",
    "code": {"coding": [SNOMED_CODING, CTV3_CODING], "text": Path("Type", "Code/@Term")},
    "subject": Var("patient"),
    "encounter": ENCOUNTER,
    "occurrenceDateTime": Path("RecallDate", via="date"),
    "authoredOn": Path(f"{EVENT}/@DateTime", via="date_time"),
    "requester": RECORDER,
    "reasonReference": [LINKED_PROBLEMS],
    "note": [
        Include({"text": Required(Path("."))}, at="Comments[normalize-space()]"),
        unknown_status_note(conceptmaps.RECALL_STATUS),
        NOTE,
    ],
}

TEMPLATE = [
    Each("Clinical/Event/Referral", REFERRAL, key="normalize-space(ReferralUID)",
         let={"own": "LinkedProblemUID"}),
    Each("Clinical/Event/Recall", RECALL, let={"own": "LinkedProblemUID"}),
]

DECLARATION = Declaration(
    type="ServiceRequest",
    profile=systems.UKCORE_SERVICE_REQUEST,
    supported_profiles=(systems.UKCORE_SERVICE_REQUEST,),
    sections=frozenset({"Referrals", "Recalls"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("ServiceRequest-subject")),
        SearchParam("status", "token", ("status",),
                    "active, completed, revoked or unknown (a status SystmOne's words do "
                    "not say).", definition=r4("ServiceRequest-status")),
        SearchParam("intent", "token", ("intent",), "order (a referral) or plan (a recall).",
                    definition=r4("ServiceRequest-intent")),
        SearchParam("category", "token", ("category.coding",),
                    "http://snomed.info/sct|3457005 (Patient referral): referrals.",
                    definition=r4("ServiceRequest-category")),
        SearchParam("code", "token", ("code.coding",),
                    "system|code or code, where SystmOne coded the request (SNOMED CT, "
                    "CTV3); referral services and recall types are text only.",
                    definition=r4("clinical-code")),
        SearchParam("priority", "token", ("priority",), "routine or urgent (referrals).",
                    definition=r4("ServiceRequest-priority")),
        SearchParam("authored", "date", ("authoredOn",),
                    "when the referral or recall was recorded; prefixes eq ne gt lt ge le sa eb "
                    "ap.",
                    definition=r4("ServiceRequest-authored")),
        SearchParam("occurrence", "date", ("occurrenceDateTime",),
                    "when a recall is due; prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("ServiceRequest-occurrence")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: what was referred or recalled in one consultation.",
                    definition=r4("clinical-encounter")),
        SearchParam("requester", "reference", ("requester",),
                    "Practitioner/[id] who recorded the referral or recall; "
                    "_include=ServiceRequest:requester adds them.",
                    definition=r4("ServiceRequest-requester")),
        SearchParam("identifier", "token", ("identifier",),
                    f"{systems.SYSTMONE_REFERRAL}|<ReferralUID>, or the event-item identifier.",
                    definition=r4("clinical-identifier")),
    ),
    patient_params=("patient", "subject"),
    sort=("authoredOn",),
    includes=("patient", "requester"),
)
