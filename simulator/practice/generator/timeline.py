"""Timeline: collects a record's events and works out values (BP, BMI, eGFR...) at a date.

Everything that builds a record adds its events through a Timeline, which
keeps them inside the record's span, moves them to weekdays, hands out UIDs,
picks the clinician and derives measurements from the profile.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from ..concepts import BY_KEY, Concept
from ..organisation import Site, User
from .dates import SNOMED_ERA, _surgery_time, _weekday
from .identifiers import PROBLEM_UID, _uid
from .items import CodeItem, EventSpec, Item, NarrativeItem, Staff
from .person import Person
from .profile import Profile

_EGFR_ABOVE_90 = "6"  # Comparator for "> 90", as labs report eGFR
# UK laboratories reported HbA1c in IFCC units (mmol/mol) from June 2009, alongside the
# DCCT percentage until the end of May 2011.
_IFCC_FROM, _DCCT_UNTIL = dt.date(2009, 6, 1), dt.date(2011, 6, 1)


_PROBLEM_SEVERITY = {"hypertension": "Major", "type2_diabetes": "Major", "asthma": "Minor",
                     "copd": "Major", "hypothyroidism": "Minor", "depression": "Major",
                     "osteoarthritis": "Minor", "atrial_fibrillation": "Major",
                     "gord": "Minor", "ckd3": "Minor"}


class Timeline:
    """Collects a record's events; values are worked out from the profile."""

    def __init__(self, person: Person, profile: Profile, rng: random.Random, staff: Staff,
                 as_of: dt.date) -> None:
        self.person, self.profile, self.rng, self.staff = person, profile, rng, staff
        self.as_of = as_of
        self.events: list[EventSpec] = []
        self.problems = 0
        self.problem_uids: dict[str, str] = {}  # condition key -> its ProblemUID
        self._uids: dict[int, int] = {}

    # events

    def add(self, day: dt.date, user: User, items: list[Item], done_at: str | None = None,
            linked_referral: str | None = None, linked_problems: tuple[str, ...] = ()) -> None:
        if not items:
            return
        day = _weekday(day, self.profile.history_start, self.as_of)
        if not self.profile.history_start <= day <= self.as_of:
            return
        if done_at is None:
            done_at = "Surgery" if self.rng.random() < 0.3 else self._site().name
        self.events.append(EventSpec(_surgery_time(self.rng, day), len(self.events), user,
                                     done_at, tuple(items), linked_referral, linked_problems))

    def snomed_era(self, day: dt.date) -> bool:
        """Can an event on ``day`` hold codes that exist only in SNOMED CT?"""
        return day >= SNOMED_ERA

    def in_range(self, day: dt.date) -> dt.date | None:
        """The weekday an event on ``day`` would get, or None if it falls outside the record."""
        day = _weekday(day, self.profile.history_start, self.as_of)
        return day if self.profile.history_start <= day <= self.as_of else None

    def uid(self, kind: int) -> str:
        self._uids[kind] = self._uids.get(kind, 0) + 1
        return _uid(self.person.sri, self._uids[kind], kind)

    def _site(self) -> Site:
        sites = self.staff.sites
        return sites[0] if len(sites) == 1 or self.rng.random() < 0.75 else self.rng.choice(sites)

    def gp(self) -> User:
        usual = self.person.usual_gp
        return usual if self.rng.random() < 0.6 else self.rng.choice(self.staff.gps)

    def nurse(self) -> User:
        return self.rng.choice(self.staff.nurses)

    def hca(self) -> User:
        return self.rng.choice(self.staff.hcas or self.staff.nurses)

    # values at a date

    def age(self, day: dt.date) -> float:
        return self.person.age_on(day)

    def has(self, condition: str, day: dt.date) -> bool:
        diagnosed = self.profile.conditions.get(condition)
        return diagnosed is not None and diagnosed <= day

    def height(self, day: dt.date) -> float:
        return self.profile.adult_height * _growth_fraction(self.age(day))

    def bmi(self, day: dt.date) -> float:
        age = self.age(day)
        typical = _typical_bmi(age)
        adult_years = max(0.0, age - 18)
        drift = self.profile.bmi_drift * min(adult_years, 40)
        diabetic = 2.5 if self.has("type2_diabetes", day) else 0.0
        scale = min(1.0, max(0.25, (age - 2) / 16))  # children vary less
        return typical + scale * (self.profile.bmi_offset + drift + diabetic)

    def systolic(self, day: dt.date) -> int:
        raised = 0.0
        diagnosed = self.profile.conditions.get("hypertension")
        if diagnosed is not None:
            years_to = (diagnosed - day).days / 365.25
            raised = 28 - 16 * min(1.0, max(0.0, -years_to)) if years_to < 3 else 0.0
        base = 112 + 0.45 * max(0.0, self.age(day) - 20) + raised
        return round(min(220.0, max(88.0, self.rng.gauss(base, 9))))

    def diastolic(self, systolic: int) -> int:
        value = round(self.rng.gauss(systolic * 0.56 + 4, 5))
        return max(45, min(value, systolic - 25))

    def egfr(self, day: dt.date) -> int:
        age = self.age(day)
        value = 108 - 0.85 * max(0.0, age - 35) + self.profile.egfr_offset
        if self.has("ckd3", day):
            value = min(value, 50 + self.profile.egfr_offset / 2)
        elif "ckd3" in self.profile.conditions:
            value = max(62.0, value)
        return round(max(8.0, self.rng.gauss(value, 4)))

    def on_statin(self, day: dt.date) -> bool:
        start = self.profile.on_statin_from
        return start is not None and start <= day

    def smoking_concept(self, day: dt.date) -> Concept:
        profile = self.profile
        if profile.smoking == "current":
            return BY_KEY["current_smoker"]
        if profile.smoking == "ex" and profile.quit_date is not None:
            return BY_KEY["ex_smoker" if day >= profile.quit_date else "current_smoker"]
        return BY_KEY["never_smoked"]

    # items

    def measured(self, key: str, value: str, comparator: str | None = None,
                 free_text: str | None = None) -> CodeItem:
        return CodeItem(BY_KEY[key], value=value, comparator=comparator, free_text=free_text)

    def blood_pressure(self, day: dt.date) -> list[Item]:
        """Systolic then diastolic, adjacent; sometimes under a BP header code with no
        value, and a high first reading is often repeated (two pairs in one event)."""
        rng = self.rng
        systolic = self.systolic(day)
        note = None
        if systolic < 140 and rng.random() < 0.1:
            note = "BP < 140/90 & review in 6/12"
        items: list[Item] = [CodeItem(BY_KEY["bp_header"])] if rng.random() < 0.15 else []
        items += [self.measured("systolic_bp", str(systolic), free_text=note),
                  self.measured("diastolic_bp", str(self.diastolic(systolic)))]
        if systolic >= 140 and rng.random() < 0.4:  # repeated after a few minutes' rest
            second = max(95, systolic - rng.randint(2, 14))
            items += [self.measured("systolic_bp", str(second),
                                    free_text="Repeat reading after 5 min rest"),
                      self.measured("diastolic_bp", str(self.diastolic(second)))]
        return items

    def body_size(self, day: dt.date, with_height: bool = True) -> list[Item]:
        height = round(self.height(day), 2)
        weight = round(self.bmi(day) * height * height * self.rng.gauss(1.0, 0.012), 1)
        # Scales that print two decimals give "72.40"; most entries keep one.
        shown = f"{weight:.2f}" if self.rng.random() < 0.2 else f"{weight:.1f}"
        items: list[Item] = [self.measured("weight", shown)]
        if with_height:
            bmi = weight / (height * height)
            items.append(self.measured("height", f"{height:.2f}"))
            items.append(self.measured("bmi", f"{bmi:.1f}"))
            if self.age(day) >= 18 and self.rng.random() < 0.3:
                items.append(CodeItem(BY_KEY["bmi_obese" if bmi >= 30 else
                                            "bmi_overweight" if bmi >= 25 else "bmi_normal"]))
        return items

    def waist(self, day: dt.date) -> Item:
        centimetres = 52 + 1.6 * self.bmi(day) + (6 if self.person.sex == "M" else 0)
        return self.measured("waist", f"{self.rng.gauss(centimetres, 3):.1f}")

    def pulse(self, day: dt.date) -> Item:
        irregular = self.has("atrial_fibrillation", day)
        mean, spread = (86, 12) if irregular else (73, 9)
        return self.measured("pulse", str(int(min(140, max(45, self.rng.gauss(mean, spread))))))

    def temperature(self) -> Item:
        value = round(min(40.2, max(35.6, self.rng.gauss(37.3, 0.6))), 1)
        return self.measured("temperature", f"{value:.2f}" if self.rng.random() < 0.25
                             else f"{value:.1f}")

    def oxygen_saturation(self, unwell: bool = False) -> Item:
        value = round(min(100.0, self.rng.gauss(94.5 if unwell else 97.5, 1.5)))
        return self.measured("o2_saturation", str(value))

    def respiratory_rate(self, unwell: bool = False) -> Item:
        return self.measured("respiratory_rate",
                             str(round(self.rng.gauss(22 if unwell else 15, 2.5))))

    def peak_flow(self, day: dt.date) -> Item:
        height = max(1.0, self.height(day))
        predicted = (5.5 if self.person.sex == "M" else 4.4) * height * 100 - 0.5 * self.age(day)
        value = max(80, round(predicted * self.rng.uniform(0.7, 1.0) / 10) * 10)
        return self.measured("peak_flow", str(value))

    def alcohol(self) -> Item:
        """Units a week, or a drinking status code for those who drink little or nothing."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.18:
            return CodeItem(BY_KEY["teetotaller"])
        if roll < 0.3:
            return CodeItem(BY_KEY["trivial_drinker"])
        units = min(80, max(1, round(rng.lognormvariate(2.2, 0.7))))
        return self.measured("alcohol_units", str(units))

    def electrolytes(self) -> list[Item]:
        """Sodium (integer) and potassium (to two decimals: "4.20")."""
        sodium = round(self.rng.gauss(139.5, 2.2))
        potassium = round(self.rng.gauss(4.3, 0.35), 1)
        return [self.measured("sodium", str(sodium)),
                self.measured("potassium", f"{potassium:.2f}")]

    def tsh(self, day: dt.date) -> Item:
        treated = self.has("hypothyroidism", day)
        value = self.rng.lognormvariate(0.55 if treated else 0.6, 0.45)
        if value < 0.05:
            return self.measured("tsh", "0.05", comparator="7")  # "< 0.05", as labs report it
        return self.measured("tsh", f"{value:.2f}")

    def urine_acr(self) -> Item:
        value = self.rng.lognormvariate(0.2, 0.9)
        if value < 0.5:
            return self.measured("urine_acr", "0.5", comparator="7")
        return self.measured("urine_acr", f"{value:.1f}")

    def cholesterol_ratio(self, total: float) -> Item:
        hdl = max(0.7, self.rng.gauss(1.5 if self.person.sex == "F" else 1.25, 0.3))
        return self.measured("cholesterol_hdl_ratio", f"{total / hdl:.2f}")

    def hba1c_readings(self, day: dt.date, first: bool = False) -> list[Item]:
        """HbA1c as the lab reported it: a percentage (DCCT) until mid-2009, both during
        the change-over to IFCC units, mmol/mol since mid-2011."""
        ifcc = self.hba1c(day, first)
        dcct = self.measured("hba1c_dcct", f"{float(ifcc.value or 0) / 10.929 + 2.15:.1f}")
        if day < _IFCC_FROM:
            return [dcct]
        return [ifcc, dcct] if day < _DCCT_UNTIL else [ifcc]

    def hba1c(self, day: dt.date, first: bool = False) -> CodeItem:
        if not self.has("type2_diabetes", day):
            mean = 38 + (3 if self.profile.bmi_offset > 4 else 0)
            return self.measured("hba1c", str(round(self.rng.gauss(mean, 3))))
        mean, spread = (66, 9) if first else (55, 7)
        return self.measured("hba1c", str(round(max(42, self.rng.gauss(mean, spread)))))

    def cholesterol(self, day: dt.date) -> Item:
        mean = 4.0 if self.on_statin(day) else 5.3
        value = min(9.5, max(2.6, self.rng.gauss(mean, 0.7)))
        return self.measured("cholesterol", f"{value:.1f}")

    def lipids(self, day: dt.date) -> list[Item]:
        """Total cholesterol and, in most lipid profiles, the cholesterol/HDL ratio."""
        total = self.cholesterol(day)
        if self.rng.random() < 0.6:
            return [total, self.cholesterol_ratio(float(total.value or 5))]
        return [total]

    def kidney(self, day: dt.date) -> list[Item]:
        egfr = self.egfr(day)
        base = 78 if self.person.sex == "M" else 62
        creatinine = round(base * (95 / max(egfr, 5)) ** 1.05 + self.rng.gauss(0, 3))
        if egfr > 90:
            egfr_item = self.measured("egfr", "90", comparator=_EGFR_ABOVE_90)
        else:
            egfr_item = self.measured("egfr", str(egfr))
        return [egfr_item, self.measured("creatinine", str(creatinine))]

    def problem(self, key: str) -> CodeItem:
        """A long-term condition's problem header, as recorded at diagnosis (open)."""
        uid = self.problem_uids[key] = self.new_problem_uid()
        return CodeItem(BY_KEY[key], problem_uid=uid, severity=_PROBLEM_SEVERITY[key])

    def rerecorded(self, key: str, end_date: dt.date | None = None) -> CodeItem:
        """The same problem header again, in a later event (reviewed, summarised or ended)."""
        return CodeItem(BY_KEY[key], problem_uid=self.problem_uids[key],
                        severity=_PROBLEM_SEVERITY[key], end_date=end_date,
                        episodicity="Ongoing")

    def acute_problem(self, concept: Concept, day: dt.date, severity: str = "Minor") -> CodeItem:
        """A short-lived problem, opened and given its expected end date in one go."""
        return CodeItem(concept, problem_uid=self.new_problem_uid(), severity=severity,
                        end_date=day + dt.timedelta(days=self.rng.choice((7, 14, 14, 28))))

    def new_problem_uid(self) -> str:
        self.problems += 1
        return _uid(self.person.sri, self.problems, PROBLEM_UID)

    def narrative(self, *lines: str, coded: tuple[Concept, ...] = ()) -> NarrativeItem:
        return NarrativeItem(tuple(lines), coded)


def _growth_fraction(age: float) -> float:
    """Height as a fraction of adult height (a smoothed UK growth curve)."""
    points = ((0.0, 0.29), (1.0, 0.43), (2.0, 0.49), (5.0, 0.62), (10.0, 0.79),
              (14.0, 0.93), (18.0, 1.0))
    if age >= 18:
        return 1.0
    for (a0, f0), (a1, f1) in itertools.pairwise(points):
        if age < a1:
            return f0 + (f1 - f0) * (max(age, 0.0) - a0) / (a1 - a0)
    return 1.0


def _typical_bmi(age: float) -> float:
    if age < 8:
        return 16.0
    if age < 18:
        return 16.0 + (age - 8) * 0.5
    return 21.0 + min(age - 18, 32) * 0.15  # 21 at 18, rising to about 26 in late middle age
