"""The clinical profile: what drives a patient's recordings, decided once per record.

Age, sex, smoking, body size and long-term conditions (chosen with
age-dependent prevalence) are drawn here, before any event, so that every later
recording, review and prescription tells one coherent story.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from .dates import _add_years, _between
from .person import Person

#: How far back a record reaches (records transferred from earlier practices).
HISTORY_YEARS = 20


@dataclass(slots=True)
class Profile:
    """What drives a patient's recordings, decided once per record."""

    history_start: dt.date
    adult_height: float
    bmi_offset: float  # the patient's BMI relative to the typical BMI for their age
    bmi_drift: float  # BMI units per year
    egfr_offset: float
    smoking: str  # "never", "ex" or "current" as of today
    quit_date: dt.date | None  # for ex-smokers: when they stopped
    conditions: dict[str, dt.date] = field(default_factory=dict)  # key -> diagnosed
    resolved: dict[str, dt.date] = field(default_factory=dict)  # key -> problem ended
    on_statin_from: dt.date | None = None


def clinical_profile(person: Person, rng: random.Random, as_of: dt.date) -> Profile:
    age = person.age_on(as_of)
    history_start = max(person.date_of_birth,
                        as_of - dt.timedelta(days=int(HISTORY_YEARS * 365.25)))
    male = person.sex == "M"
    smoking = _smoking_status(rng, age)
    profile = Profile(
        history_start=history_start,
        adult_height=rng.gauss(1.76, 0.07) if male else rng.gauss(1.625, 0.065),
        bmi_offset=max(-8.0, min(18.0, rng.gauss(0.0, 4.3))),
        bmi_drift=rng.gauss(0.06, 0.08),
        egfr_offset=rng.gauss(0.0, 8.0),
        smoking=smoking,
        quit_date=_between(rng, history_start, as_of) if smoking == "ex" else None,
    )
    for key, chance, min_age in _condition_chances(person, profile, age):
        earliest = max(history_start, _add_years(person.date_of_birth, min_age))
        if earliest < as_of and rng.random() < chance:
            profile.conditions[key] = _between(rng, earliest, as_of)
    _add_course_ends(profile, rng, as_of)
    _choose_statin(profile, rng, age, as_of)
    return profile


def _smoking_status(rng: random.Random, age: float) -> str:
    if age < 14:
        return "never"
    current = 0.17 if age < 60 else 0.10
    ex = min(0.45, 0.05 + age * 0.005)
    roll = rng.random()
    return "current" if roll < current else "ex" if roll < current + ex else "never"


def _band(age: float, bands: tuple[tuple[float, float], ...]) -> float:
    """The chance for the first (upper age, chance) band the age falls below."""
    return next((chance for upper, chance in bands if age < upper), bands[-1][1])


def _condition_chances(person: Person, profile: Profile, age: float):
    """(condition key, lifetime-to-date chance, minimum age at diagnosis)."""
    smoker = profile.smoking != "never"
    heavy = profile.bmi_offset > 4
    female = person.sex == "F"
    yield ("hypertension", _band(age, ((30, .01), (45, .06), (60, .2), (75, .4), (200, .55)))
           * (1.3 if heavy else 1.0), 25)
    yield ("type2_diabetes", _band(age, ((30, .003), (45, .03), (60, .08), (75, .14), (200, .16)))
           * (2.0 if heavy else 1.0), 25)
    yield "asthma", 0.09, 3
    yield "copd", _band(age, ((40, 0), (60, .02), (200, .05))) * (1.8 if smoker else 0.3), 40
    yield "hypothyroidism", _band(age, ((30, .015), (60, .05), (200, .09))) * (
        1.0 if female else 0.2), 20
    yield "depression", _band(age, ((16, 0), (200, .11))) * (1.4 if female else 1.0), 16
    yield "osteoarthritis", _band(age, ((45, 0), (65, .15), (200, .3))), 45
    yield "atrial_fibrillation", _band(age, ((65, .005), (80, .06), (200, .12))), 50
    yield "gord", _band(age, ((18, 0), (200, .08))), 18
    yield "ckd3", _band(age, ((50, 0), (60, .02), (75, .08), (200, .18))), 50


def _add_course_ends(profile: Profile, rng: random.Random, as_of: dt.date) -> None:
    """Depression is the one problem that resolves; most episodes end within two years."""
    diagnosed = profile.conditions.get("depression")
    if diagnosed is not None:
        ended = diagnosed + dt.timedelta(days=rng.randint(180, 730))
        if ended < as_of and rng.random() < 0.7:
            profile.resolved["depression"] = ended


def _choose_statin(profile: Profile, rng: random.Random, age: float, as_of: dt.date) -> None:
    conditions = profile.conditions
    candidates = [conditions[key] for key in ("type2_diabetes", "ckd3") if key in conditions]
    if "hypertension" in conditions and age >= 55 and rng.random() < 0.5:
        candidates.append(conditions["hypertension"])
    if candidates and rng.random() < 0.8:
        start = min(candidates) + dt.timedelta(days=rng.randint(30, 240))
        profile.on_statin_from = start if start < as_of else None
