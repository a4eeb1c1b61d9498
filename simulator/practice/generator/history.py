"""Building the history: consultations, diagnoses, condition reviews and prescribing.

``build_timeline`` is the entry point for a record's events. It draws
registration checks, routine consultations, diagnoses with their repeat
medication, recurring reviews and repeat issues from the record's main random
stream, then hands a second stream to ``care`` for everything else.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from ..concepts import BY_KEY, DRUG_BY_KEY, Concept, Drug
from .care import _care_records
from .dates import _add_years, _between
from .items import CodeItem, EventSpec, Item, MedicationItem, Pending, RecallItem, RepeatItem, Staff
from .person import Person
from .profile import Profile, _band
from .timeline import Timeline

#: Repeat prescriptions are issued for this many days at a time.
ISSUE_DAYS = 56


# How each drug is prescribed: dose, units a day (None: a fixed quantity), form.
_DOSING: dict[str, tuple[str, int | None, str]] = {
    "amlodipine": ("One tablet once a day", 1, "tablet"),
    "ramipril": ("One capsule once a day", 1, "capsule"),
    "lisinopril": ("One tablet once a day", 1, "tablet"),
    "bisoprolol": ("One tablet once a day", 1, "tablet"),
    "metformin": ("One tablet twice a day with food", 2, "tablet"),
    "atorvastatin": ("One tablet at night", 1, "tablet"),
    "simvastatin": ("One tablet at night", 1, "tablet"),
    "salbutamol": ("Two puffs when required", None, "1 inhaler"),
    "beclometasone": ("Two puffs twice a day", None, "1 inhaler"),
    "levothyroxine": ("One tablet each morning", 1, "tablet"),
    "omeprazole": ("One capsule once a day", 1, "capsule"),
    "sertraline": ("One tablet once a day", 1, "tablet"),
    "paracetamol": ("Two tablets up to four times a day when required", None, "100 tablet"),
    "apixaban": ("One tablet twice a day", 2, "tablet"),
}


# Routine consultations: what the clinician typed, and the code (if any) they added.
_CONSULTATION_LINES: tuple[tuple[str, str | None], ...] = (
    ("Seen with cough for 2/52, chest clear. Advised fluids & rest.", "cough"),
    ("C/O lower back pain after lifting. No red flags. Simple analgesia.", "low_back_pain"),
    ("Sore throat 3/7, tonsils inflamed, no exudate. Safety-netted.", "tonsillitis"),
    ("Pt's partner present. Discussed work stress & sleep, will review.", None),
    ("Rash on forearm, likely contact dermatitis. Emollients advised.", None),
    ("Feeling tired all the time. Bloods requested & will review results.", "tiredness"),
    ("Knee pain on stairs; no swelling. Exercises & weight advice given.", None),
    ("Night sweats & temp > 38 twice this week. Chest clear, bloods requested.", None),
    ("Headaches for 1/12, worse with screens. BP < 140/90 & neuro exam normal.", "headache"),
    ("Fit note issued for 2 weeks. Review if not improving.", None),
    ("Ear pain & reduced hearing L side. Wax seen, olive oil advised.", None),
    ("Anxious about results of O'Neill family history query; reassured.", None),
    ("Insomnia since bereavement. Sleep hygiene discussed. Pt's partner attended.", "insomnia"),
    ("Dyspepsia after meals, no weight loss < 3 months. Lifestyle advice.", "dyspepsia"),
    ("Telephone consultation: symptoms settling, no need to be seen.", "telephone_encounter"),
    ("Coryzal & sore throat 5/7, afebrile. Viral URTI, self-care advice.", "urti"),
    ("Productive cough & fever 4/7, crackles R base. Chest infection; antibiotics.",
     "chest_infection"),
    ("Dysuria & frequency 2/7, urine dip nitrites +ve. UTI; 3/7 antibiotics.", "uti"),
    ("Unilateral throbbing headache with aura & photophobia. Triptan discussed.", "migraine"),
    ("Worry & tension most days for 6/12, GAD-7 14. Talking therapies info given.", "anxiety"),
    ("Sneezing & itchy eyes every summer. Antihistamine & nasal spray advised.", "hay_fever"),
    ("Back pain radiating down L leg below knee. Sciatica; exercises given.", "sciatica"),
    ("Hard stools < 3x/week for 1/12. Diet & fluids advice.", "constipation"),
)
_CHILD_CONSULTATION_LINES: tuple[tuple[str, str | None], ...] = (
    ("Coryzal & febrile for 2/7. Eating & drinking well. Ears & throat normal.", "urti"),
    ("Seen with mum: barking cough at night, croup score 1. Safety-netted.", "cough"),
    ("Eczema flare behind knees. Emollients & mild steroid cream for 1/52.", "eczema"),
    ("Vomiting x3 since yesterday, no diarrhoea. Well hydrated. Advice given.", None),
    ("Parent's concern re: weight gain; growth on centile, reassured.", None),
    ("Otitis media L ear. Temp > 38. Analgesia & review if not better in 3/7.", "otitis_media"),
)
#: Coded consultation findings that are lasting conditions: the first gets an open minor
#: problem; later consultations code the finding and link it to that problem.
_LASTING = ("migraine", "anxiety", "hay_fever", "eczema")
#: Findings that never become problems (symptoms, administrative codes).
_NEVER_PROBLEMS = ("telephone_encounter", "cough", "tiredness", "headache", "constipation")
#: Findings of an unwell chest: oxygen saturation, respiratory rate and temperature taken.
_CHEST = ("chest_infection", "cough")
_REVIEW_LINES = {
    "hypertension": ("Hypertension review. BP < 140/90 & stable; continue current treatment.",
                     "Home BP readings brought in & reviewed: average 138/84."),
    "type2_diabetes": ("Diabetes annual review. Feet checked, pulses present & sensation OK.",
                       "HbA1c discussed; aim < 58 mmol/mol. Diet & activity reviewed."),
    "asthma": ("Asthma review. Inhaler technique checked & good. No night symptoms.",
               "Asthma control test 22/25. Personal asthma action plan updated."),
    "copd": ("COPD review. MRC dyspnoea scale 2. Inhaler technique OK.",
             "Exacerbation plan discussed & rescue pack not needed."),
    "hypothyroidism": ("Thyroid review: feels well, TFTs normal, dose unchanged.",),
    "depression": ("Mood improving. PHQ-9 down to 9 from 17. Continue sertraline.",
                   "Low mood & poor sleep. Discussed talking therapies; self-referral info."),
    "osteoarthritis": ("Osteoarthritis review: hips & knees stiff in the morning < 30 min.",),
    "atrial_fibrillation": ("AF review. Rate controlled, CHA2DS2-VASc 3. Anticoagulation "
                            "continued.",),
    "gord": ("Reflux controlled on PPI. Considered step-down; pt prefers to continue.",),
    "ckd3": ("CKD review. eGFR stable; BP & ACR monitoring continues.",),
}


_CONDITION_DRUGS = {"asthma": ("salbutamol", "beclometasone"), "copd": ("salbutamol",),
                    "hypothyroidism": ("levothyroxine",), "depression": ("sertraline",),
                    "atrial_fibrillation": ("apixaban", "bisoprolol"), "gord": ("omeprazole",),
                    "type2_diabetes": ("metformin",)}


@dataclass(slots=True)
class Course:
    """A repeat prescription: issued every ISSUE_DAYS from start until end."""

    drug: Drug
    start: dt.date
    end: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


# --- building the history ------------------------------------------------------------------

def build_timeline(person: Person, profile: Profile, rng: random.Random, staff: Staff,
                   as_of: dt.date, history_scale: float, care: random.Random | None = None,
                   pending: Pending | None = None) -> list[EventSpec]:
    """The record's events in date order.

    ``care`` drives everything beyond consultations, reviews and prescribing
    (see ``_care_records``); it is a separate stream so that adding to it never
    shifts the values drawn from ``rng``. ``pending`` receives the visits and
    tasks the NonClinical part lists.
    """
    timeline = Timeline(person, profile, rng, staff, as_of)
    _registration_check(timeline)
    _routine_consultations(timeline, history_scale)
    courses = _diagnoses(timeline)
    _problem_reviews(timeline)
    _condition_reviews(timeline, history_scale)
    _repeat_issues(timeline, courses, history_scale)
    if care is not None:
        timeline.rng = care
        _care_records(timeline, history_scale, pending if pending is not None else Pending())
    return sorted(timeline.events, key=lambda event: (event.when, event.order))


def _registration_check(timeline: Timeline) -> None:
    """New-patient check at registration, for patients who joined within the history."""
    day = timeline.person.care_start
    if day < timeline.profile.history_start or timeline.age(day) < 5:
        return
    items: list[Item] = [*timeline.body_size(day)]
    if timeline.age(day) >= 16:
        items += [*timeline.blood_pressure(day), CodeItem(timeline.smoking_concept(day)),
                  timeline.alcohol()]
    items.append(timeline.narrative("New patient health check."))
    timeline.add(day, timeline.hca(), items)


def _visit_rate(age: float, female: bool, conditions: int) -> float:
    """Routine consultations a year."""
    rate = _band(age, ((5, 4.0), (16, 1.5), (45, 2.0), (65, 3.0), (80, 5.0), (200, 7.0)))
    if female and 16 <= age < 45:
        rate += 1.0
    return rate + 0.5 * conditions


def _routine_consultations(timeline: Timeline, history_scale: float) -> None:
    rng, profile, person = timeline.rng, timeline.profile, timeline.person
    day = profile.history_start
    while True:
        age = timeline.age(day)
        rate = _visit_rate(age, person.sex == "F", len(profile.conditions)) * history_scale
        if rate <= 0:
            return
        day += dt.timedelta(days=max(1, int(rng.expovariate(rate) * 365.25)))
        if day > timeline.as_of:
            return
        _consultation(timeline, day)


def _consultation(timeline: Timeline, day: dt.date) -> None:
    rng = timeline.rng
    age = timeline.age(day)
    lines = _CHILD_CONSULTATION_LINES if age < 12 else _CONSULTATION_LINES
    chosen = rng.sample(lines, rng.choice((1, 1, 2)))
    findings = [key for _, key in chosen if key is not None]
    items: list[Item] = []
    if age < 5:
        items += timeline.body_size(day)
    elif age >= 18 and rng.random() < (0.5 if timeline.has("hypertension", day) else 0.25):
        items += timeline.blood_pressure(day)
    if rng.random() < 0.15:
        items.append(timeline.pulse(day))
    unwell_chest = any(key in _CHEST for key in findings)
    if rng.random() < (0.7 if unwell_chest else 0.1):
        items.append(timeline.temperature())
    if unwell_chest and rng.random() < 0.6:
        unwell = "chest_infection" in findings
        items.append(timeline.oxygen_saturation(unwell))
        if timeline.snomed_era(day):  # respiratory rate is held in SNOMED CT only
            items.append(timeline.respiratory_rate(unwell))
    if age >= 16 and rng.random() < 0.12:
        items += timeline.body_size(day, with_height=rng.random() < 0.5)
        if rng.random() < 0.2:
            items.append(timeline.waist(day))
    if age >= 16 and rng.random() < 0.1:
        items.append(CodeItem(timeline.smoking_concept(day)))
    coded: list[Concept] = []
    problem_uid = None
    for key in findings:
        finding_items, uid = _finding(timeline, key, day)
        items += finding_items
        problem_uid = problem_uid or uid
        if uid is not None and rng.random() < 0.5:
            coded.append(BY_KEY[key])
    if age >= 12 and rng.random() < 0.15:
        items.append(_acute_issue("paracetamol", day, "32 tablet", 8, problem_uid))
    items.append(timeline.narrative(*(line for line, _ in chosen), coded=tuple(coded)))
    timeline.add(day, timeline.gp() if rng.random() < 0.8 else timeline.nurse(), items)


def _finding(timeline: Timeline, key: str, day: dt.date) -> tuple[list[Item], str | None]:
    """A consultation's coded finding: a plain code, a problem header, or both.

    Returns the items and the ProblemUID they open or link to, if any.
    """
    rng, concept = timeline.rng, BY_KEY[key]
    if key in _NEVER_PROBLEMS or rng.random() < 0.7:
        known = timeline.problem_uids.get(key) if key in _LASTING else None
        return [CodeItem(concept, linked_problem=known)], known
    if key in _LASTING:
        known = timeline.problem_uids.get(key)
        if known is not None:
            return [CodeItem(concept, linked_problem=known)], known
        timeline.problem_uids[key] = uid = timeline.new_problem_uid()
        header = CodeItem(concept, problem_uid=uid, severity="Minor")
    else:
        header = timeline.acute_problem(concept, day)
    # Plain code and problem header of the same code, in one event, as SystmOne shows
    # a consultation coded while adding the problem.
    items: list[Item] = [CodeItem(concept), header] if rng.random() < 0.4 else [header]
    return items, header.problem_uid


def _acute_issue(key: str, day: dt.date, quantity: str, days: int,
                 problem_uid: str | None = None) -> MedicationItem:
    dose = _DOSING[key][0]
    return MedicationItem(DRUG_BY_KEY[key], dose, quantity, day, day + dt.timedelta(days=days),
                          problem_uid)


def _diagnoses(timeline: Timeline) -> list[Course]:
    """One event per diagnosis: the problem, first recordings and any new repeats.

    A problem that resolves is recorded again, with its end date, when it ends.
    """
    rng = timeline.rng
    courses: list[Course] = []
    for key, day in sorted(timeline.profile.conditions.items(), key=lambda pair: pair[1]):
        new = _courses_for(timeline, key, day)
        courses += new
        header = timeline.problem(key)
        # Often coded plainly too, in the same event, next to the problem header.
        items: list[Item] = [CodeItem(BY_KEY[key]), header] if rng.random() < 0.5 else [header]
        if key == "hypertension" and rng.random() < 0.3:
            items.append(CodeItem(BY_KEY[rng.choice(("raised_bp", "hypertensive_disease"))]))
        items += _diagnosis_recordings(timeline, key, day)
        items += [_authorisation(course, day) for course in new if course.start == day]
        items.append(timeline.narrative("Plan discussed & agreed with pt.",
                                        coded=(BY_KEY[key],)))
        timeline.add(day, timeline.gp(), items)
        ended = timeline.profile.resolved.get(key)
        if ended is not None:  # the problem header again, now ended
            timeline.add(ended, timeline.gp(), [
                timeline.rerecorded(key, end_date=ended),
                timeline.narrative("Problem resolved; treatment stopped.")])
        for course in new:
            if course.start != day:
                timeline.add(course.start, timeline.gp(), [
                    _authorisation(course, course.start), _issue(course, course.start),
                    timeline.narrative(f"Not at target; {course.drug.name} added.")])
    statin = timeline.profile.on_statin_from
    if statin is not None:
        drug = "atorvastatin" if timeline.rng.random() < 0.75 else "simvastatin"
        course = Course(DRUG_BY_KEY[drug], statin)
        courses.append(course)
        timeline.add(statin, timeline.gp(), [*timeline.lipids(statin - dt.timedelta(days=1)),
                                             _authorisation(course, statin)])
    return courses


def _courses_for(timeline: Timeline, key: str, day: dt.date) -> list[Course]:
    rng, profile = timeline.rng, timeline.profile
    if key == "hypertension":
        first = "amlodipine" if timeline.age(day) >= 55 or _black_ethnicity(timeline) else (
            rng.choice(("ramipril", "lisinopril")))
        courses = [Course(DRUG_BY_KEY[first], day)]
        second_day = day + dt.timedelta(days=rng.randint(365, 1500))
        if rng.random() < 0.4 and second_day < timeline.as_of:
            second = "ramipril" if first == "amlodipine" else "amlodipine"
            courses.append(Course(DRUG_BY_KEY[second], second_day))
        return courses
    if key == "osteoarthritis" and rng.random() < 0.5:
        return [Course(DRUG_BY_KEY["paracetamol"], day)]
    end = profile.resolved.get(key)
    return [Course(DRUG_BY_KEY[drug], day, end) for drug in _CONDITION_DRUGS.get(key, ())]


def _black_ethnicity(timeline: Timeline) -> bool:
    ethnicity = timeline.person.ethnicity
    return ethnicity is not None and ethnicity.key in ("caribbean", "african")


def _diagnosis_recordings(timeline: Timeline, key: str, day: dt.date) -> list[Item]:
    if key == "hypertension":
        return [*timeline.blood_pressure(day), timeline.pulse(day)]
    if key == "type2_diabetes":
        return [*timeline.hba1c_readings(day, first=True), *timeline.body_size(day)]
    if key == "ckd3":
        return timeline.kidney(day)
    if key == "atrial_fibrillation":
        return [timeline.pulse(day)]
    return []


def _authorisation(course: Course, day: dt.date) -> RepeatItem:
    dose, per_day, form = _DOSING[course.drug.key]
    return RepeatItem(course.drug, dose, _quantity(per_day, form), day,
                      _add_years(day, 1), 6, ISSUE_DAYS)


def _quantity(per_day: int | None, form: str) -> str:
    return form if per_day is None else f"{per_day * ISSUE_DAYS} {form}"


def _problem_reviews(timeline: Timeline) -> None:
    """Problem lists summarised and reviewed: several problem headers in one event.

    When a patient with earlier diagnoses registers, the notes summariser records
    their problems again; some patients' problem lists are reviewed later on. Each
    header keeps the ProblemUID it was given at diagnosis, so one problem appears
    in several events; ended problems carry their end date.
    """
    rng, profile = timeline.rng, timeline.profile
    conditions = sorted(profile.conditions.items(), key=lambda pair: pair[1])
    if not conditions:
        return
    registered = timeline.person.care_start
    earlier = [key for key, diagnosed in conditions if diagnosed < registered]
    if earlier and registered >= profile.history_start and rng.random() < 0.8:
        day = registered + dt.timedelta(days=rng.randint(20, 120))
        items: list[Item] = [_problem_as_of(timeline, key, day) for key in earlier]
        items.append(timeline.narrative("Notes summarised from previous GP record."))
        timeline.add(day, rng.choice(timeline.staff.admins or timeline.staff.gps), items)
    if len(conditions) >= 2 and rng.random() < 0.5:
        day = _between(rng, conditions[-1][1], timeline.as_of)
        items = [_problem_as_of(timeline, key, day) for key, _ in conditions]
        items += [CodeItem(BY_KEY["medication_review"]),
                  timeline.narrative("Problem list reviewed & updated.")]
        timeline.add(day, timeline.gp(), items)


def _problem_as_of(timeline: Timeline, key: str, day: dt.date) -> CodeItem:
    ended = timeline.profile.resolved.get(key)
    return timeline.rerecorded(key, end_date=ended if ended is not None and ended <= day
                               else None)


def _condition_reviews(timeline: Timeline, history_scale: float) -> None:
    """Recurring reviews: each long-term condition's own monitoring schedule."""
    for key, diagnosed in sorted(timeline.profile.conditions.items(), key=lambda pair: pair[1]):
        end = timeline.profile.resolved.get(key, timeline.as_of)
        months = (5, 7) if key in ("hypertension", "type2_diabetes", "ckd3") else (10, 14)
        if key == "depression":
            months = (1, 3)
        for day in _schedule(timeline.rng, diagnosed, end, months, history_scale):
            _review(timeline, key, day)


def _schedule(rng: random.Random, start: dt.date, end: dt.date, months: tuple[int, int],
              history_scale: float):
    if history_scale <= 0:
        return
    day = start
    while True:
        day += dt.timedelta(days=max(1, int(rng.randint(*months) * 30.4 / history_scale)))
        if day > end:
            return
        yield day


def _review(timeline: Timeline, key: str, day: dt.date) -> None:
    rng = timeline.rng
    items: list[Item] = []
    annual = rng.random() < 0.5
    if key in ("hypertension", "type2_diabetes", "ckd3", "atrial_fibrillation"):
        items += timeline.blood_pressure(day)
        items.append(timeline.pulse(day))
    if key == "type2_diabetes":
        items += timeline.hba1c_readings(day)
        if annual:
            items += [*timeline.body_size(day), timeline.waist(day), *timeline.lipids(day),
                      *timeline.kidney(day), timeline.urine_acr(),
                      CodeItem(BY_KEY["diabetes_plan"])]
    elif key == "ckd3" or (key == "hypertension" and annual):
        items += [*timeline.kidney(day), *timeline.electrolytes()]
        if key == "ckd3":
            items.append(timeline.urine_acr())
    if key == "asthma" and rng.random() < 0.7:
        items.append(timeline.peak_flow(day))
    if key == "copd":
        items.append(timeline.oxygen_saturation())
        if timeline.snomed_era(day):
            items.append(timeline.respiratory_rate())
    if key == "hypothyroidism":
        items.append(timeline.tsh(day))
    if annual and key in ("hypertension", "copd", "asthma") and timeline.age(day) >= 16:
        items.append(CodeItem(timeline.smoking_concept(day)))
    if annual and key == "hypertension" and timeline.age(day) >= 18:
        items.append(timeline.alcohol())
    if annual and timeline.on_statin(day) and key != "type2_diabetes":
        items += timeline.lipids(day)
    items.append(timeline.narrative(rng.choice(_REVIEW_LINES[key])))
    if annual and key in _RECALLS:  # the next annual review (no random draws: see build)
        due = _add_years(day, 1)
        items.append(RecallItem(due, _RECALLS[key], "Annual review: bloods a week before.",
                                "Pending" if due > timeline.as_of else "Seen"))
    user = timeline.gp() if key == "depression" else timeline.nurse()
    problem_uid = timeline.problem_uids.get(key)
    timeline.add(day, user, items,
                 linked_problems=(problem_uid,) if problem_uid is not None else ())


_RECALLS = {"hypertension": "Hypertension annual review",
            "type2_diabetes": "Diabetes annual review", "asthma": "Asthma annual review",
            "copd": "COPD annual review", "ckd3": "CKD annual review",
            "atrial_fibrillation": "AF annual review"}


def _repeat_issues(timeline: Timeline, courses: list[Course], history_scale: float) -> None:
    """Issue every active repeat together, every ISSUE_DAYS; review them yearly."""
    if not courses or history_scale <= 0:
        return
    interval = max(1, round(ISSUE_DAYS / history_scale))
    day = min(course.start for course in courses)
    next_review = _add_years(day, 1)
    while day <= timeline.as_of:
        active = _active_courses(courses, day)
        items: list[Item] = []
        if day >= next_review and active:
            items.append(CodeItem(BY_KEY["medication_review"]))
            items += [_authorisation(course, day) for course in active]
            next_review = _add_years(day, 1)
        items += [_issue(course, day) for course in active]
        timeline.add(day, timeline.gp(), items)
        jitter = timeline.rng.randint(-3, 3) if interval > 7 else 0
        day += dt.timedelta(days=interval + jitter)


def _active_courses(courses: list[Course], day: dt.date) -> list[Course]:
    """The courses to issue on a day, one per drug (asthma and COPD share salbutamol)."""
    active: list[Course] = []
    for course in courses:
        if course.active_on(day) and all(other.drug != course.drug for other in active):
            active.append(course)
    return active


def _issue(course: Course, day: dt.date) -> MedicationItem:
    dose, per_day, form = _DOSING[course.drug.key]
    return MedicationItem(course.drug, dose, _quantity(per_day, form), day,
                          day + dt.timedelta(days=ISSUE_DAYS))
