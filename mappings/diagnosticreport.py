"""UK Core DiagnosticReport: one per SystmOne Report item (a pathology or other result report).

A Report names its batteries (BatteryHeaders: "HbA1c; U&E"), when the sample was
collected and the report issued, the lab's overall result (Normal / Abnormal), the
practice's follow-up actions, the lab's comments and its Type (Pathology,
Microbiology...). It carries no code, no status, no specimen and no laboratory:

- code: SNOMED CT 721981007 "Diagnostic studies report", as GP Connect fixes it (and UK
  Core's lab example uses); the batteries are its text. SystmOne gives no code of its
  own, so there is none in CTV3 to add.
- status: final. A report filed in a GP record has been issued; SystmOne says nothing
  of preliminary reports.
- category: the Type as HL7 v2 table 0074 (conceptmaps.REPORT_CATEGORY), with the Type as
  text; "Laboratory" when the report names no Type (GP Connect's default).
- effective: the CollectionDate (FHIR: the specimen's collection time for lab reports).
- issued (an instant): the Event's time, when the Event is on the IssueDate. That is when
  the report reached the practice's record (FHIR: "made available to providers"); an
  IssueDate without a time of its own cannot be an instant, so a report filed on a later
  day has no ``issued``.
- conclusion: the Comments; conclusionCode's text the Result (Normal / Abnormal: not a
  clinical finding, so no code is invented). Follow-up actions are notes (UK Core's R5
  backport of DiagnosticReport.note).
- result: the Observations made from the numeric readings of the report's own Event
  (blood-pressure pairs excepted). A report filed with no readings of its own (the
  values recorded in another Event on the day the sample was taken) references the
  laboratory readings of the Events dated its CollectionDate that hold no report
  themselves: codes of conceptmaps.LAB_RESULTS and CTV3 codes of Read chapter 4
  (laboratory procedures) only, so a blood pressure or a weight taken the same day is
  never made a result. A lab code neither knows is then left out of ``result`` (it is
  still served as an Observation).
- performer is left out: DoneAt names where the Event was recorded (the surgery), not the
  laboratory, which the record does not name. No Specimen either: the record gives no
  specimen type, only the collection date (served as ``effective``).
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Var, When

from . import conceptmaps, systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY
from .observation import PAIR_END, PAIR_START, code_is

RESOURCE = "DiagnosticReport"

#: At a Report: the readings of its own Event that are Observations of their own.
OWN_READINGS = f"../ClinicalCode[Value][not({PAIR_START} or {PAIR_END})]"
_LAB_CODES = tuple(code for codes, _, _ in conceptmaps.LAB_RESULTS for code in codes)
#: At a ClinicalCode: a laboratory reading — a code the laboratory table knows, or a Read
#: code of chapter 4, "Laboratory procedures" (CTV3 keeps Read's chapters for its
#: five-character Read codes; its X… and Y… codes have no chapter to tell by).
LAB_READING = (f"{code_is(_LAB_CODES)} or "
               "(Code/@Scheme = 'CTV3' and starts-with(Code/@Code, '4'))")
#: At a Report (with $collected, its CollectionDate): laboratory readings recorded in
#: another Event on that day.
COLLECTED_READINGS = ("../../Event[starts-with(@DateTime, $collected)][not(Report)]"
                      f"/ClinicalCode[Value][{LAB_READING}]")
_OBSERVATION = Ref("Observation", ITEM_KEY)

REPORT = {
    "resourceType": "DiagnosticReport",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_DIAGNOSTIC_REPORT], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "extension": [Each("FollowUpActions/FollowUpAction/Action[normalize-space()]", {
        "url": systems.EXT_DIAGNOSTIC_REPORT_NOTE,
        "valueAnnotation": {"text": Path("concat('Follow-up action: ', normalize-space())")},
    })],
    "status": "final",
    "category": [When("normalize-space(Type)",
                      {"coding": [Path("Type", map="report_category")], "text": Path("Type")},
                      {"coding": [conceptmaps.LABORATORY_SECTION]})],
    "code": {"coding": [{"system": systems.SNOMED, "code": "721981007",
                         "display": "Diagnostic studies report"}],
             "text": Path("BatteryHeaders", via="single_spaced")},
    "subject": Var("patient"),
    "encounter": ENCOUNTER,
    "effectiveDateTime": Path("CollectionDate", via="date_time"),
    "issued": When(f"substring({EVENT}/@DateTime, 1, 10) = substring(IssueDate, 1, 10)",
                   Path(f"{EVENT}/@DateTime", via="date_time")),
    "result": [When(OWN_READINGS, Each(OWN_READINGS, _OBSERVATION),
                    When("string-length($collected) = 10",
                         Each(COLLECTED_READINGS, _OBSERVATION)))],
    "conclusion": Path("Comments"),
    "conclusionCode": [{"text": Path("Result")}],
}

TEMPLATE = [Each("Clinical/Event/Report", REPORT,
                 let={"collected": "substring(normalize-space(CollectionDate), 1, 10)"})]

DECLARATION = Declaration(
    type="DiagnosticReport",
    profile=systems.UKCORE_DIAGNOSTIC_REPORT,
    supported_profiles=(systems.UKCORE_DIAGNOSTIC_REPORT,),
    # The readings a report's results are made from come with the coded data.
    sections=frozenset({"Results", "ClinicalCodes"}),
    search_params=(
        patient_param(definition=r4("clinical-patient")),
        patient_param("subject", definition=r4("DiagnosticReport-subject")),
        SearchParam("category", "token", ("category.coding",),
                    "The diagnostic service (HL7 v2 table 0074): LAB, MB, HM, CH...",
                    definition=r4("DiagnosticReport-category")),
        SearchParam("code", "token", ("code.coding",),
                    "SNOMED CT 721981007 (Diagnostic studies report): SystmOne codes no "
                    "report; the batteries are the code's text.", definition=r4("clinical-code")),
        SearchParam("date", "date", ("effectiveDateTime",),
                    "when the sample was collected; prefixes eq ne gt lt ge le sa eb ap; repeat "
                    "for a range.", definition=r4("clinical-date")),
        SearchParam("issued", "date", ("issued",), "when the report was filed.",
                    definition=r4("DiagnosticReport-issued")),
        SearchParam("status", "token", ("status",), "final.",
                    definition=r4("DiagnosticReport-status")),
        SearchParam("result", "reference", ("result",),
                    "Observation/[id]; _include=DiagnosticReport:result adds them.",
                    definition=r4("DiagnosticReport-result")),
        SearchParam("encounter", "reference", ("encounter",),
                    "Encounter/[id]: the SystmOne Event the report was filed in.",
                    definition=r4("clinical-encounter")),
    ),
    patient_params=("patient", "subject"),
    sort=("effectiveDateTime", "issued"),
    includes=("patient", "result"),
)
