"""The recordings a record is made of, as plain frozen dataclasses, and who records them.

Builders produce these items and the XML writers consume them, so they sit
apart from both; events (EventSpec), pending visits and tasks, and the staff
lists a record draws its clinicians from are defined here too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..concepts import Concept, Drug, Ingredient
from ..organisation import Organisation, Site, User


@dataclass(frozen=True, slots=True)
class CodeItem:
    """A ClinicalCode: a plain code, a numeric reading or a problem header.

    A problem header (``problem_uid`` set) first appears with Episodicity New;
    later events may record the same problem again (same ``problem_uid``),
    for instance when it is reviewed or ended. Values are text, written with
    the precision they were recorded with ("72.40").
    """

    concept: Concept
    value: str | None = None
    comparator: str | None = None
    problem_uid: str | None = None
    severity: str | None = None
    end_date: dt.date | None = None
    free_text: str | None = None
    episodicity: str | None = None  # None: "New" for a problem header, else absent
    linked_problem: str | None = None  # LinkedProblemUID of this item alone


@dataclass(frozen=True, slots=True)
class MedicationItem:
    drug: Drug
    dose: str
    quantity: str
    start: dt.date
    end: dt.date
    linked_problem: str | None = None


@dataclass(frozen=True, slots=True)
class RepeatItem:
    drug: Drug
    dose: str
    quantity: str
    start: dt.date
    review: dt.date
    max_issues: int
    issue_days: int


@dataclass(frozen=True, slots=True)
class NarrativeItem:
    """Narrative lines; ``coded`` ones come first, as "D: term (code)" in the event's scheme."""

    lines: tuple[str, ...]
    coded: tuple[Concept, ...] = ()


@dataclass(frozen=True, slots=True)
class SensitivityItem:
    """A drug allergy or intolerance, against a drug or an ingredient."""

    drug: Drug | None  # None: an ingredient-level sensitivity
    ingredients: tuple[Ingredient, ...]
    reaction: str
    end: dt.date | None = None
    ended_unknown: bool = False


@dataclass(frozen=True, slots=True)
class VaccinationItem:
    name: str
    contents: str
    batch: str
    notes: str
    part: str
    dosage: str


@dataclass(frozen=True, slots=True)
class ReportItem:
    batteries: str
    issued: dt.date
    result: str
    actions: tuple[str, ...]
    comments: str
    collected: dt.date
    kind: str = "Pathology"


@dataclass(frozen=True, slots=True)
class LetterItem:
    recipient: tuple[str, str, str]  # title, first name, surname
    recipient_organisation: str
    sender: tuple[str, str, str]
    sender_organisation: str
    sender_address: tuple[tuple[str, str], ...]
    document_uid: str
    kind: str
    direction: str
    sent: dt.datetime


@dataclass(frozen=True, slots=True)
class AttachmentItem:
    file_name: str
    size: int
    document_uid: str
    comments: str


@dataclass(frozen=True, slots=True)
class RecallItem:
    due: dt.date
    kind: str
    comments: str
    status: str


@dataclass(frozen=True, slots=True)
class ReminderItem:
    text: str
    severity: str


@dataclass(frozen=True, slots=True)
class ReferralItem:
    uid: str
    direction: str
    service: str
    organisation: str
    reason: str
    urgency: str
    status: str
    end: dt.date | None


@dataclass(frozen=True, slots=True)
class RelationshipItem:
    title: str
    first_name: str
    surname: str
    address: tuple[tuple[str, str], ...]
    telephone: str
    date_of_birth: dt.date
    kind: str


@dataclass(frozen=True, slots=True)
class CarePlanItem:
    name: str
    description: str
    category: str
    subcategory: str
    aim: str
    review: dt.date
    instructions: tuple[tuple[str, str], ...]  # (instruction, responsibility)


@dataclass(frozen=True, slots=True)
class PatientPlanItem:
    name: str
    instructions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActivityItem:
    performed: str
    with_whom: str
    method: str
    minutes: int


Item = (CodeItem | MedicationItem | RepeatItem | NarrativeItem | SensitivityItem
        | VaccinationItem | ReportItem | LetterItem | AttachmentItem | RecallItem | ReminderItem
        | ReferralItem | RelationshipItem | CarePlanItem | PatientPlanItem | ActivityItem)


@dataclass(frozen=True, slots=True)
class EventSpec:
    when: dt.datetime
    order: int  # creation order, to keep same-time events stable
    user: User
    done_at: str
    items: tuple[Item, ...]
    linked_referral: str | None = None
    linked_problems: tuple[str, ...] = ()  # LinkedProblemUID of the whole event


@dataclass(frozen=True, slots=True)
class VisitSpec:
    when: dt.datetime
    minutes: int
    user: User
    comments: str


@dataclass(frozen=True, slots=True)
class TaskSpec:
    when: dt.datetime
    kind: str
    status: str
    content: str


@dataclass(slots=True)
class Pending:
    """The NonClinical part beyond appointments: pending visits and open tasks."""

    visits: list[VisitSpec] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Staff:
    gps: tuple[User, ...]
    nurses: tuple[User, ...]
    hcas: tuple[User, ...]
    sites: tuple[Site, ...]
    admins: tuple[User, ...] = ()

    @classmethod
    def of(cls, organisation: Organisation) -> Staff:
        users = organisation.users
        clinical = ("Nurse", "Health Care Assistant")
        return cls(gps=tuple(u for u in users if u.is_gp),
                   nurses=tuple(u for u in users if "Nurse" in u.role),
                   hcas=tuple(u for u in users if u.role == "Health Care Assistant"),
                   sites=organisation.sites,
                   admins=tuple(u for u in users if not u.is_gp
                                and not any(word in u.role for word in clinical)))
