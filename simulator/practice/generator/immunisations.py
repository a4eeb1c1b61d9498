"""Immunisations: the childhood schedule, flu, pneumococcal, shingles and travel vaccines.

The schedule's dates follow the NHS programme's changes over the years (the
six-in-one, HPV for boys, single-dose HPV, Shingrix); ``flu_eligible`` is
public because the tests check it directly.
"""

from __future__ import annotations

import datetime as dt
import random

from ..concepts import BY_KEY
from .dates import _add_years, _between
from .items import CodeItem, Item, VaccinationItem
from .timeline import Timeline

# Conditions that make a patient under 65 eligible for the NHS flu vaccine.
_FLU_RISK = ("type2_diabetes", "copd", "asthma", "ckd3", "atrial_fibrillation")


# The childhood schedule: (age in days, name, contents, part, born on or after, born before).
_SIX_IN_ONE = "Diphtheria, Tetanus, Pertussis, Polio, Haemophilus influenzae type b, Hepatitis B"
_FIVE_IN_ONE = "Diphtheria, Tetanus, Pertussis, Polio, Haemophilus influenzae type b"
_HEXAVALENT_FROM = dt.date(2017, 6, 1)
_CHILDHOOD: tuple[tuple[int, str, str, str, dt.date | None, dt.date | None], ...] = (
    (56, "DTaP/IPV/Hib/HepB", _SIX_IN_ONE, "Part 1", _HEXAVALENT_FROM, None),
    (56, "DTaP/IPV/Hib", _FIVE_IN_ONE, "Part 1", None, _HEXAVALENT_FROM),
    (56, "Rotavirus", "Rotavirus", "Part 1", dt.date(2013, 5, 1), None),
    (56, "MenB", "Meningococcal group B", "Part 1", dt.date(2015, 7, 1), None),
    (84, "DTaP/IPV/Hib/HepB", _SIX_IN_ONE, "Part 2", _HEXAVALENT_FROM, None),
    (84, "DTaP/IPV/Hib", _FIVE_IN_ONE, "Part 2", None, _HEXAVALENT_FROM),
    (84, "Rotavirus", "Rotavirus", "Part 2", dt.date(2013, 5, 1), None),
    (84, "Pneumococcal conjugate (PCV)", "Pneumococcal", "Part 1", None, None),
    (84, "MenC", "Meningococcal group C", "Part 1", None, dt.date(2016, 7, 1)),
    (112, "DTaP/IPV/Hib/HepB", _SIX_IN_ONE, "Part 3", _HEXAVALENT_FROM, None),
    (112, "DTaP/IPV/Hib", _FIVE_IN_ONE, "Part 3", None, _HEXAVALENT_FROM),
    (112, "MenB", "Meningococcal group B", "Part 2", dt.date(2015, 7, 1), None),
    (112, "Pneumococcal conjugate (PCV)", "Pneumococcal", "Part 2", None, dt.date(2020, 1, 1)),
    (366, "Hib/MenC", "Haemophilus influenzae type b, Meningococcal group C", "Booster 1",
     None, None),
    (366, "MMR", "Measles, Mumps, Rubella", "Part 1", None, None),
    (366, "Pneumococcal conjugate (PCV)", "Pneumococcal", "Booster 1", None, None),
    (366, "MenB", "Meningococcal group B", "Booster 1", dt.date(2015, 7, 1), None),
    (1220, "MMR", "Measles, Mumps, Rubella", "Part 2", None, None),
    (1220, "DTaP/IPV", "Diphtheria, Tetanus, Pertussis, Polio", "Booster 1", None, None),
    (4560, "HPV", "Human papillomavirus", "Part 1", dt.date(1995, 9, 1), None),
    (5110, "Td/IPV", "Tetanus, Diphtheria, Polio", "Booster 2", None, None),
    (5110, "MenACWY", "Meningococcal groups A, C, W, Y", "Part 1", dt.date(2001, 9, 1), None),
)
_HPV_FOR_BOYS_FROM = dt.date(2006, 9, 1)
_HPV_ONE_DOSE_FROM = dt.date(2023, 9, 1)
_BATCH_LETTERS = "ABCDEFGHJKLMNPRSTVWXYZ"


def _vaccination(rng: random.Random, name: str, contents: str, part: str, site: str,
                 dosage: str = "0.5 ml") -> VaccinationItem:
    batch = f"{rng.choice(_BATCH_LETTERS)}{rng.choice(_BATCH_LETTERS)}{rng.randrange(1000, 99999)}"
    return VaccinationItem(name, contents, batch, site, part, dosage)


def _immunisations(timeline: Timeline) -> None:
    rng, person = timeline.rng, timeline.person
    keen = rng.random() < 0.85  # accepts what is offered, year after year
    _childhood_immunisations(timeline, keen)
    _influenza(timeline, keen)
    born = person.date_of_birth
    if rng.random() < (0.75 if keen else 0.2):
        day = _add_years(born, 65) + dt.timedelta(days=rng.randint(0, 300))
        timeline.add(day, timeline.nurse(), [_vaccination(
            rng, "Pneumococcal polysaccharide (PPV23)", "Pneumococcal", "Part 1",
            rng.choice(("Left deltoid", "Right deltoid"))),
            CodeItem(BY_KEY["pneumococcal_vaccination"])])
    _shingles(timeline, keen)
    if timeline.age(timeline.as_of) >= 18 and rng.random() < 0.06:
        day = _between(rng, max(timeline.profile.history_start, _add_years(born, 18)),
                       timeline.as_of)
        ethnicity = person.ethnicity.key if person.ethnicity else ""
        place = "Pakistan" if ethnicity == "pakistani" else "India" if ethnicity == "indian" else (
            rng.choice(("Thailand", "Kenya", "Peru", "Vietnam")))
        timeline.add(day, timeline.nurse(), [
            _vaccination(rng, "Hepatitis A", "Hepatitis A", "Part 1", "Left deltoid", "1 ml"),
            _vaccination(rng, "Typhoid", "Typhoid", "Part 1", "Right deltoid"),
            timeline.narrative(f"Travel clinic: visiting {place}. Malaria & food hygiene advice.")])


def _childhood_immunisations(timeline: Timeline, keen: bool) -> None:
    rng, person = timeline.rng, timeline.person
    born = person.date_of_birth
    if born < timeline.profile.history_start:
        return
    visits: dict[int, list[Item]] = {}
    for age_days, name, contents, part, born_from, born_before in _CHILDHOOD:
        if (born_from and born < born_from) or (born_before and born >= born_before):
            continue
        if name == "HPV" and person.sex != "F" and born < _HPV_FOR_BOYS_FROM:
            continue
        if rng.random() >= (0.97 if keen else 0.4):
            continue
        site = ("Oral" if name == "Rotavirus" else
                rng.choice(("Left thigh", "Right thigh")) if age_days < 400 else
                rng.choice(("Left deltoid", "Right deltoid")))
        dosage = "1.5 ml" if name == "Rotavirus" else "0.5 ml"
        visits.setdefault(age_days, []).append(
            _vaccination(rng, name, contents, part, site, dosage))
    for age_days, items in visits.items():
        day = born + dt.timedelta(days=age_days + rng.randint(0, 21))
        timeline.add(day, timeline.nurse(), items)
        hpv = next((item for item in items if isinstance(item, VaccinationItem)
                    and item.name == "HPV"), None)
        if hpv is not None and day < _HPV_ONE_DOSE_FROM:
            second = day + dt.timedelta(days=rng.randint(182, 365))
            timeline.add(second, timeline.nurse(), [_vaccination(
                rng, "HPV", hpv.contents, "Part 2", rng.choice(("Left deltoid", "Right deltoid")))])


def flu_eligible(age: float, at_risk: bool, season: int) -> str | None:
    """Which flu vaccine the NHS offers a patient of this age: "injected", "nasal" or None."""
    if age >= 65 or (at_risk and age >= 0.5):
        return "injected"
    if 2 <= age < 4 and season >= 2013:
        return "nasal"
    return None


def _influenza(timeline: Timeline, keen: bool) -> None:
    """Each autumn: over-65s and at-risk patients; two- and three-year-olds nasally."""
    rng, profile = timeline.rng, timeline.profile
    for season in range(profile.history_start.year, timeline.as_of.year + 1):
        day = dt.date(season, 9, 20) + dt.timedelta(days=rng.randint(0, 80))
        if not profile.history_start <= day <= timeline.as_of:
            continue
        at_risk = any(timeline.has(key, day) for key in _FLU_RISK)
        kind = flu_eligible(timeline.age(day), at_risk, season)
        chance = 0.9 if keen else 0.12
        if kind is None or rng.random() >= (chance if kind == "injected" else chance * 0.6):
            continue
        if kind == "nasal":
            item = _vaccination(rng, "Influenza (live attenuated, intranasal)", "Influenza",
                                "Part 1", "Intranasal", "0.2 ml")
        else:
            if rng.random() < 0.12:  # given at a community pharmacy, which notifies the practice
                timeline.add(day, rng.choice(timeline.staff.admins or timeline.staff.gps),
                             [CodeItem(BY_KEY["flu_by_pharmacist"])])
                continue
            item = _vaccination(rng, "Influenza", "Influenza", "Part 1",
                                rng.choice(("Left deltoid", "Right deltoid")))
        items: list[Item] = [item]
        if rng.random() < 0.6:  # the vaccination's clinical code, from the flu template
            items.append(CodeItem(BY_KEY["flu_first_inactivated" if kind == "injected"
                                         and season >= 2017 and rng.random() < 0.5
                                         else "flu_vaccination"]))
        timeline.add(day, rng.choice((timeline.nurse(), timeline.hca())), items)


def _shingles(timeline: Timeline, keen: bool) -> None:
    rng = timeline.rng
    if rng.random() >= (0.6 if keen else 0.1):
        return
    day = _add_years(timeline.person.date_of_birth, 70) + dt.timedelta(days=rng.randint(0, 500))
    if day < dt.date(2013, 9, 1):
        return
    site = rng.choice(("Left deltoid", "Right deltoid"))
    if day < _HPV_ONE_DOSE_FROM:  # Zostavax until September 2023, Shingrix since
        timeline.add(day, timeline.nurse(), [_vaccination(
            rng, "Shingles (live)", "Herpes zoster", "Part 1", site, "0.65 ml")])
        return
    timeline.add(day, timeline.nurse(), [_vaccination(
        rng, "Shingles (recombinant)", "Herpes zoster", "Part 1", site)])
    second = day + dt.timedelta(days=rng.randint(60, 180))
    timeline.add(second, timeline.nurse(), [_vaccination(
        rng, "Shingles (recombinant)", "Herpes zoster", "Part 2", site)])
