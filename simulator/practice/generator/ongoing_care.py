"""Ongoing care: next of kin, reminders, care plans, home visits and open workflow tasks.

These items describe how the practice looks after the patient now rather than
what happened in the past; pending visits and open tasks go to the NonClinical
part through ``Pending``.
"""

from __future__ import annotations

import datetime as dt
import random

from ..organisation import User
from .dates import _add_years, _between, _datetime
from .items import (
    ActivityItem,
    CarePlanItem,
    Item,
    LetterItem,
    PatientPlanItem,
    Pending,
    RelationshipItem,
    ReminderItem,
    ReportItem,
    TaskSpec,
    VisitSpec,
)
from .person import _address, _mobile, _names
from .timeline import Timeline

#: Tasks are still open for reports and letters filed this recently.
OPEN_TASK_DAYS = 10


def _recent_start(timeline: Timeline, years: float) -> dt.date:
    return max(timeline.profile.history_start, _add_years(timeline.as_of, -years))


def _relationship(timeline: Timeline) -> None:
    """Next of kin: parents of children, spouses, and the grown-up children of the old."""
    rng, person = timeline.rng, timeline.person
    age = person.age_on(timeline.as_of)
    married = person.marital_status is not None and person.marital_status.key == "married"
    widowed = person.marital_status is not None and person.marital_status.key == "widowed"
    if age < 16 and rng.random() < 0.7:
        sex = "F" if rng.random() < 0.75 else "M"
        kind, years, same_home = ("Mother" if sex == "F" else "Father"), -rng.randint(20, 40), True
    elif age >= 18 and married and rng.random() < 0.3:
        sex = "F" if person.sex == "M" else "M"
        kind, years, same_home = "Next of kin", rng.randint(-6, 6), True
    elif age >= 70 and (widowed or rng.random() < 0.3) and rng.random() < 0.6:
        sex = rng.choice("MF")
        kind, years, same_home = "Next of kin", rng.randint(22, 38), rng.random() < 0.1
    else:
        return
    born = min(_add_years(person.date_of_birth, years) + dt.timedelta(days=rng.randint(0, 364)),
               timeline.as_of - dt.timedelta(days=365 * 18))
    ethnicity = person.ethnicity.key if person.ethnicity else None
    first, _, surname, _ = _names(rng, sex, born.year, ethnicity)
    if same_home or rng.random() < 0.5:
        surname = person.surname
    address = person.address if same_home else _address(rng)
    title = ("Mr" if sex == "M" else "Mrs" if kind != "Mother" or rng.random() < 0.8 else "Ms")
    telephone = (person.home_telephone if same_home and person.home_telephone
                 else _mobile(rng))
    relation = RelationshipItem(title, first, surname,
                                tuple((tag, value) for tag, value in address if value),
                                telephone, born, kind)
    registered = person.care_start
    day = registered if registered >= timeline.profile.history_start else _between(
        rng, timeline.profile.history_start, timeline.as_of)
    timeline.add(day, rng.choice(timeline.staff.admins or timeline.staff.gps), [relation])


def _reminders(timeline: Timeline, housebound: bool) -> None:
    rng, person = timeline.rng, timeline.person
    reminders: list[ReminderItem] = []
    if person.english_speaker == "No" and person.language is not None:
        language = person.language.ctv3_term.removeprefix("Main spoken language ")
        reminders.append(ReminderItem(f"Interpreter needed: {language}. Book double slot.",
                                      "High"))
    if housebound:
        reminders.append(ReminderItem("Housebound - home visits only.", "Normal"))
    if timeline.age(timeline.as_of) >= 75 and rng.random() < 0.12:
        reminders.append(ReminderItem("Hard of hearing - please face pt when speaking.", "Low"))
    if timeline.age(timeline.as_of) >= 16 and rng.random() < 0.03:
        reminders.append(ReminderItem("Prefers contact by text message, not phone.", "Low"))
    for reminder in reminders:
        day = _between(rng, _recent_start(timeline, 6), timeline.as_of)
        timeline.add(day, rng.choice(timeline.staff.admins or timeline.staff.gps), [reminder])


# Care plans: condition -> (chance, name, description, subcategory, aim, instructions).
_CARE_PLANS = {
    "type2_diabetes": (0.4, "Diabetes care plan", "Personalised care & support plan",
                       "Diabetes", "HbA1c < 58 mmol/mol & BP < 140/80", (
                           ("Bloods a week before each review", "Patient"),
                           ("Check feet daily & report any sores", "Patient"),
                           ("Review HbA1c & medication 6-monthly", "Practice nurse"))),
    "copd": (0.5, "COPD self-management plan", "Self-management & rescue pack plan",
             "COPD", "Fewer exacerbations & admissions", (
                 ("Start rescue pack if sputum changes colour & more breathless; tell surgery",
                  "Patient"),
                 ("Annual review & inhaler technique check", "Practice nurse"),
                 ("Consider pulmonary rehab if MRC 3 or more", "GP"))),
    "asthma": (0.25, "Asthma action plan", "Personal asthma action plan", "Asthma",
               "No night symptoms & no attacks", (
                   ("Use preventer inhaler every day", "Patient"),
                   ("If reliever needed > 3 times a week, book review", "Patient"))),
}


def _care_plans(timeline: Timeline, frail: bool) -> None:
    rng, profile = timeline.rng, timeline.profile
    for key, diagnosed in sorted(profile.conditions.items(), key=lambda pair: pair[1]):
        plan = _CARE_PLANS.get(key)
        if plan is None or rng.random() >= plan[0]:
            continue
        _, name, description, subcategory, aim, instructions = plan
        day = _between(rng, max(diagnosed, _recent_start(timeline, 3)), timeline.as_of)
        timeline.add(day, timeline.nurse(), [CarePlanItem(
            name, description, "Long term conditions", subcategory, aim, _add_years(day, 1),
            instructions)])
    if frail and rng.random() < 0.6:
        day = _between(rng, _recent_start(timeline, 2), timeline.as_of)
        timeline.add(day, timeline.gp(), [
            CarePlanItem("Frailty care plan", "Moderate frailty: proactive care plan", "Frailty",
                         "Falls prevention", "Stay well & independent at home",
                         _add_years(day, 1), (
                             ("Falls risk & home hazards assessment", "Community team"),
                             ("Structured medication review 6-monthly", "GP"),
                             ("Agree emergency plan with family", "Patient"))),
            ActivityItem("Discussed care arrangements with family", "Relative", "Telephone",
                         rng.choice((10, 15, 20)))])
    if (timeline.age(timeline.as_of) >= 18 and profile.bmi_offset > 6
            and rng.random() < 0.3):
        day = _between(rng, _recent_start(timeline, 4), timeline.as_of)
        timeline.add(day, timeline.nurse(), [PatientPlanItem("Weight management", (
            "Aim to lose 5% of body weight in 6 months",
            "Self-referral to local weight management programme",
            "Weigh monthly & bring readings to review"))])


_HOME_VISIT_LINES = (
    "Home visit: more breathless, chest crackles R base. Antibiotics & review 48h.",
    "Home visit: frailty review with daughter present. Medication reviewed.",
    "Home visit: fall last week, no injury. Walking with frame. OT referral discussed.",
    "Home visit: bloods taken & BP checked. Eating & drinking well.",
)
_VISIT_REASONS = ("Housebound - chest review", "Frailty review & bloods",
                  "Housebound - BP & medication check", "Post-discharge review")


def _home_visits(timeline: Timeline, frail: bool, housebound: bool, history_scale: float,
                 pending: Pending) -> None:
    """Housebound patients' past home visits, and visits booked for the coming fortnight."""
    rng, staff = timeline.rng, timeline.staff
    if housebound and history_scale > 0:
        day = _recent_start(timeline, 3)
        while True:
            day += dt.timedelta(days=max(1, int(rng.expovariate(3 * history_scale) * 365.25)))
            if day > timeline.as_of:
                break
            user = timeline.gp() if rng.random() < 0.7 else timeline.nurse()
            items: list[Item] = []
            if rng.random() < 0.5:
                items += timeline.blood_pressure(day)
            items.append(timeline.narrative(rng.choice(_HOME_VISIT_LINES)))
            timeline.add(day, user, items, done_at="Home visit")
    if not (housebound and rng.random() < 0.7) and not (frail and rng.random() < 0.2):
        return
    day = timeline.as_of + dt.timedelta(days=rng.randint(1, 14))
    day += dt.timedelta(days=7 - day.weekday()) if day.weekday() >= 5 else dt.timedelta()
    slot = rng.randrange(11 * 60 + 30, 15 * 60 + 30, 10)  # between morning & afternoon surgery
    gp_visit = rng.random() < 0.7
    user = (timeline.person.usual_gp if gp_visit and rng.random() < 0.6 else
            rng.choice(staff.gps if gp_visit else staff.nurses))
    pending.visits.append(VisitSpec(dt.datetime.combine(day, dt.time(slot // 60, slot % 60)),
                                    rng.choice((20, 30)), user, rng.choice(_VISIT_REASONS)))


_OTHER_TASKS = (("Call patient", "Pt asking for a call back re: side effects of medication."),
                ("Miscellaneous", "Insurance report requested - consent form received."),
                ("Prescription request", "Pharmacy query: item out of stock, please advise."),
                ("Miscellaneous", "Update contact details - new mobile given at reception."))


def _open_tasks(timeline: Timeline, pending: Pending) -> None:
    """Workflow tasks still open: reports and letters just filed, and a few others."""
    rng = timeline.rng
    recent = timeline.as_of - dt.timedelta(days=OPEN_TASK_DAYS)
    for event in sorted(timeline.events, key=lambda event: (event.when, event.order)):
        if event.when.date() < recent:
            continue
        reports = [item for item in event.items if isinstance(item, ReportItem)]
        letters = [item for item in event.items
                   if isinstance(item, LetterItem) and item.direction == "Incoming"]
        if reports and rng.random() < 0.7:
            kind = "Pathology results"
            text = f"{reports[0].batteries}: {reports[0].result.lower()} - please review & file."
        elif letters and rng.random() < 0.6:
            kind = "Incoming document"
            text = f"{letters[0].kind} from {letters[0].sender_organisation} to action."
        else:
            continue
        pending.tasks.append(_task(rng, event.when, event.user, kind, text, two_lines=True))
    if rng.random() < 0.08:
        day = timeline.as_of - dt.timedelta(days=rng.randint(0, 7))
        when = _datetime(rng, day)
        creator = rng.choice(timeline.staff.admins or timeline.staff.gps)
        kind, text = rng.choice(_OTHER_TASKS)
        pending.tasks.append(_task(rng, when, creator, kind, text,
                                   two_lines=rng.random() < 0.5))


def _task(rng: random.Random, when: dt.datetime, creator: User, kind: str, text: str,
          two_lines: bool) -> TaskSpec:
    """SystmOne heads a task's content with when and by whom it was written."""
    content = (f"{when:%a %d %b %H:%M} - {creator.surname.upper()}, {creator.first_name}\n{text}"
               if two_lines else text)
    return TaskSpec(when, kind, "Not Started" if rng.random() < 0.75 else "Started", content)
