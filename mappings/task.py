"""UK Core Tasks: SystmOne's open workflow tasks about the patient (NonClinical/Task:
TaskUID, DateTime, TaskType, Status, Content), one Task each.

- TPP's Tasks filter extracts only tasks not yet completed, so every Task served is open.
  status from conceptmaps.TASK_STATUS ("Not Started" is ready: assignment is a given in
  SystmOne; "Started" in-progress); a status the map does not know is requested (open,
  action sought, nothing more claimed). businessStatus keeps SystmOne's word either way.
- intent order: a task is work the practice has asked of a user or team.
- code is the TaskType as text ("Pathology results"): SystmOne's task types are the
  practice's own, with no published code.
- description is the Content as written, including the "Tue 04 May 15:33 - SURNAME, Name"
  heading SystmOne puts on a task: who wrote it is not a field, so it is not parsed out.
- authoredOn is the task's DateTime. The record names no assignee, team or requester for
  a task, so owner and requester are left out.
- The id and the event-item identifier come from the TaskUID (the task is in no Event).
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Var

from . import systems
from .fragments import ITEM_IDENTIFIER, ITEM_KEY

RESOURCE = "Task"


def lower_case(xpath: str) -> str:
    """An XPath giving the text at ``xpath`` single-spaced and in lower case (ASCII): the
    status and type maps are keyed so, whatever capitals SystmOne writes."""
    return (f"translate(normalize-space({xpath}), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
            "'abcdefghijklmnopqrstuvwxyz')")


TASK = {
    "resourceType": "Task",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_TASK], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": Path(lower_case("Status"), map="task_status", default="requested"),
    "businessStatus": {"text": Path("Status", via="single_spaced")},
    "intent": "order",
    "code": {"text": Path("TaskType", via="single_spaced")},
    "description": Path("Content"),
    "for": Var("patient"),
    "authoredOn": Path("DateTime", via="date_time"),
}

TEMPLATE = [Each("NonClinical/Task", TASK)]

DECLARATION = Declaration(
    type="Task",
    profile=systems.UKCORE_TASK,
    supported_profiles=(systems.UKCORE_TASK,),
    sections=frozenset({"Tasks"}),
    search_params=(
        patient_param("patient", "for", definition=r4("Task-patient")),
        patient_param("subject", "for", definition=r4("Task-subject")),
        SearchParam("status", "token", ("status",),
                    "ready, in-progress, requested...: SystmOne lists open tasks only.",
                    definition=r4("Task-status")),
        SearchParam("authored-on", "date", ("authoredOn",),
                    "when the task was created; prefixes eq ne gt lt ge le sa eb ap.",
                    definition=r4("Task-authored-on")),
    ),
    patient_params=("patient", "subject"),
    sort=("authoredOn",),
    includes=("patient",),
)
