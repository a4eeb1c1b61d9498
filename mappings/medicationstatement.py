"""UK Core MedicationStatements: what the patient is, or was, taking; one per authorisation.

GP Connect makes a MedicationStatement for each authorisation, basedOn the MedicationRequest
that represents it (pages/accessrecord_structured/..._medicationstatement.md). From SystmOne:

- a repeat template (RepeatMedication) is a statement basedOn its plan;
- an acute issue (a Medication item that is no issue of a current repeat template, as
  medicationrequest.PLAN_OF_ISSUE decides) is a statement basedOn its order: SystmOne
  records no separate authorisation for an acute. Issues of a repeat have no statement of
  their own: their template's statement covers them.

status follows the MedicationRequest it is based on (active, completed, or stopped when an
EndReason is given: kept as statusReason). effectivePeriod is StartDate to EndDate (the
end only where one is recorded), dateAsserted the Event's time, the dosage text Dose.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var, When

from . import systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY
from .medication import MEDICATION_REFERENCE
from .medicationrequest import (
    DRUG_ITEMS,
    DRUG_OF_ITEM,
    DRUG_VARIABLES,
    ISSUE_STATUS,
    ISSUE_VARIABLES,
    ISSUES,
    ITEM_VARIABLES,
    PLAN_OF_THIS_ISSUE,
    PLAN_STATUS,
    TEMPLATES,
)

RESOURCE = "MedicationStatement"


def statement(status) -> dict:
    """The statement made at an item (a template or an acute issue) with this status."""
    return {
        "resourceType": "MedicationStatement",
        "id": Id(ITEM_KEY),
        "meta": {"profile": [systems.UKCORE_MEDICATION_STATEMENT],
                 "lastUpdated": Var("last_updated")},
        "identifier": [Include(ITEM_IDENTIFIER)],
        "basedOn": [Ref("MedicationRequest", ITEM_KEY)],
        "status": status,
        "statusReason": [{"text": Path("EndReason")}],
        "medicationReference": MEDICATION_REFERENCE,
        "subject": Var("patient"),
        "context": ENCOUNTER,  # R4 MedicationStatement names its encounter "context"
        "effectivePeriod": {"start": Path("StartDate", f"{EVENT}/@DateTime", via="date"),
                            "end": Path("EndDate", via="date")},
        "dateAsserted": Path(f"{EVENT}/@DateTime", via="date_time"),
        "dosage": [{"text": Required(Path("Dose"))}],
    }


TEMPLATE = [
    Each(DRUG_ITEMS, [
        Each(TEMPLATES, statement(PLAN_STATUS), let=ITEM_VARIABLES),
        Each(ISSUES, When(f"not({PLAN_OF_THIS_ISSUE})", statement(ISSUE_STATUS)),
             let=ISSUE_VARIABLES),
    ], key=DRUG_OF_ITEM, let=DRUG_VARIABLES),
]

DECLARATION = Declaration(
    type="MedicationStatement",
    profile=systems.UKCORE_MEDICATION_STATEMENT,
    supported_profiles=(systems.UKCORE_MEDICATION_STATEMENT,),
    sections=frozenset({"Medication"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("MedicationStatement-subject")),
        SearchParam("status", "token", ("status",), "active, completed or stopped.",
                    definition=r4("medications-status")),
        # No FHIR definition: R4's code reads medication as a CodeableConcept, which this
        # type never holds; this one follows medicationReference to the Medication's code.
        SearchParam("code", "token", ("medicationReference.resolve().code.coding",),
                    "The drug (its Medication's code): system|code or code; dm+d "
                    "(https://dmd.nhs.uk) or Multilex."),
        SearchParam("effective", "date", ("effectivePeriod",),
                    "when taken (StartDate to EndDate); prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("MedicationStatement-effective")),
        SearchParam("medication", "reference", ("medicationReference",),
                    "Medication/[id]; _include=MedicationStatement:medication adds it.",
                    definition=r4("medications-medication")),
        SearchParam("context", "reference", ("context",),
                    "Encounter/[id]: the consultation (SystmOne Event) it was recorded in.",
                    definition=r4("MedicationStatement-context")),
    ),
    patient_params=("patient", "subject"),
    sort=("effectivePeriod.start", "dateAsserted"),
    includes=("patient", "medication"),
)
