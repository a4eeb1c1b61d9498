"""A deterministic fictitious practice: patients and their records, built on demand.

The simulator needs a practice large and varied enough to exercise the facade
(search, filters, code translation, big records) without real patient data.
Every patient is derived from ``(seed, index)`` alone, so a patient is the same
whichever practice size it belongs to, and two runs with the same arguments
give byte-identical XML. Demographics are cheap to build (the patient index
reads all of them at start-up); a full record is built only when asked for.

Each record follows one coherent patient: a profile (age, sex, smoking, body
size, long-term conditions chosen with age-dependent prevalence) drives the
recordings, reviews and medication over the years up to ``as_of``. Records are
held as SystmOne holds them, in CTV3 and Multilex (see ``concepts``).

Contact details use ranges that can never reach anyone: Ofcom's drama numbers
(0113 496 0xxx, 07700 900xxx), RFC 2606 example domains and NHS numbers from
the 999 test range.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import math
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from . import people
from .concepts import BY_KEY, DRUG_BY_KEY, Concept, Drug
from .organisation import ADDRESS_FIELDS, Organisation, Site, User

#: The NHS-number scheme below gives each index its own 5-digit block.
MAX_PATIENTS = 100_000
#: How far back a record reaches (records transferred from earlier practices).
HISTORY_YEARS = 20
SURGERY_OPENS = 8 * 60  # minutes after midnight
SURGERY_CLOSES = 18 * 60 + 30
#: Repeat prescriptions are issued for this many days at a time.
ISSUE_DAYS = 56

_EGFR_ABOVE_90 = "6"  # Comparator for "> 90", as labs report eGFR


class GeneratedPractice:
    """A generated practice list that satisfies ``model.RecordSource``."""

    translates_codes = True  # records are held in CTV3 + Multilex

    def __init__(self, patients: int, seed: int, as_of: dt.date | None = None,
                 history_scale: float = 1.0) -> None:
        if not 0 <= patients <= MAX_PATIENTS:
            raise ValueError(f"patients must be between 0 and {MAX_PATIENTS}")
        if history_scale < 0:
            raise ValueError("history_scale must not be negative")
        self.organisation: Organisation = default_organisation()
        self.patients = patients
        self.seed = seed
        self.as_of = as_of or dt.date.today()
        self.history_scale = history_scale
        self._gps = tuple(user for user in self.organisation.users if user.is_gp)
        self._cached_record = functools.lru_cache(maxsize=64)(self._build_record)

    def __len__(self) -> int:
        return self.patients

    def demographics(self, index: int) -> etree._Element:
        return _demographics_response(self._person(index))

    def record(self, index: int) -> etree._Element:
        return self._cached_record(self._checked(index))

    def _build_record(self, index: int) -> etree._Element:
        person = self._person(index)
        response = _demographics_response(person)
        rng = random.Random(f"{self.seed}:{index}:clinical")
        profile = clinical_profile(person, rng, self.as_of)
        staff = Staff.of(self.organisation)
        timeline = build_timeline(person, profile, rng, staff, self.as_of, self.history_scale)
        response.append(clinical_element(timeline, person))
        response.append(non_clinical_element(person, rng, staff, self.as_of))
        return response

    def _person(self, index: int) -> Person:
        return make_person(self.seed, self._checked(index), self.as_of, self._gps)

    def _checked(self, index: int) -> int:
        if not 0 <= index < self.patients:
            raise IndexError(f"patient index {index} out of range 0..{self.patients - 1}")
        return index


def _demographics_response(person: Person) -> etree._Element:
    response = etree.Element("Response")
    response.append(identity_element(person))
    response.append(demographics_element(person))
    return response


# --- identifiers ---------------------------------------------------------------

def _digest(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _permutation(seed: int, purpose: str, modulus: int) -> Callable[[int], int]:
    """A seed-dependent bijection on 0..modulus-1 (an affine map)."""
    multiplier = _digest(seed, purpose, "a") % modulus or 1
    while math.gcd(multiplier, modulus) != 1:
        multiplier += 1
    offset = _digest(seed, purpose, "c") % modulus
    return lambda index: (multiplier * index + offset) % modulus


def _nhs_check_digit(nine_digits: str) -> int | None:
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(nine_digits, weights, strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def nhs_number(seed: int, index: int) -> str:
    """A valid test-range NHS number ("999..."), unique per index.

    Digits 4-8 are a permutation of the index; digit 9 is the first value that
    makes the modulus-11 check digit valid (changing it always finds one).
    """
    block = f"999{_permutation(seed, 'nhs', MAX_PATIENTS)(index):05d}"
    for filler in range(10):
        check = _nhs_check_digit(f"{block}{filler}")
        if check is not None:
            return f"{block}{filler}{check}"
    raise AssertionError("unreachable: a filler digit always gives a valid check digit")


def pseudo_number(seed: int, index: int) -> str:
    return f"9000{_permutation(seed, 'pseudo', 1_000_000)(index):06d}"


def strategic_reporting_id(seed: int, index: int) -> int:
    return 1_000_000 + _permutation(seed, "sri", 9_000_000)(index)


def _uid(sri: str, counter: int, kind: int) -> str:
    """16 lower-hex digits: the patient's SRI, a counter and the kind of item."""
    return f"{int(sri):08x}{counter:06x}{kind:02x}"


EVENT_UID, PROBLEM_UID, APPOINTMENT_UID = 0, 1, 2


# --- the person: identity and demographics -------------------------------------

@dataclass(frozen=True, slots=True)
class Person:
    identity_kind: str
    identity_value: str
    sri: str
    sex: str
    title: str
    first_name: str
    middle_names: str
    surname: str
    known_as: str
    date_of_birth: dt.date
    marital_status: Concept | None
    ethnicity: Concept | None
    language: Concept | None
    english_speaker: str
    address: tuple[tuple[str, str], ...]  # (ADDRESS_FIELDS name, value)
    home_telephone: str
    work_telephone: str
    mobile_telephone: str
    alternate_telephone: str
    email: str
    sms_consent: str
    usual_gp: User
    care_start: dt.date
    registration_type: str

    def age_on(self, day: dt.date) -> float:
        return (day - self.date_of_birth).days / 365.25


# Share of the population in each five-year age band from 0-4 to 90-95.
_AGE_BANDS = (5.6, 6.0, 6.0, 5.6, 5.8, 6.6, 6.8, 6.6, 6.3, 6.2, 6.8, 6.8, 6.0, 5.2, 5.1,
              3.9, 2.6, 1.6, 0.8)
_ETHNICITY_WEIGHTS = (("white_british", 76), ("pakistani", 8), ("other_white", 4),
                      ("indian", 3), ("white_irish", 1), ("caribbean", 1), ("african", 1),
                      ("chinese", 1), (None, 5))


def make_person(seed: int, index: int, as_of: dt.date, gps: tuple[User, ...]) -> Person:
    rng = random.Random(f"{seed}:{index}:person")
    pseudo = rng.random() < 0.02
    date_of_birth = _date_of_birth(rng, as_of)
    age = (as_of - date_of_birth).days / 365.25
    sex = rng.choices("MFU", weights=(495, 504, 1))[0]
    ethnicity_key = _weighted(rng, _ETHNICITY_WEIGHTS)
    ethnicity = BY_KEY[ethnicity_key] if ethnicity_key else None
    first, middle, surname, polish = _names(rng, sex, date_of_birth.year, ethnicity_key)
    marital = _marital_status(rng, age)
    language = _language(rng, ethnicity_key, polish)
    mobile = _mobile(rng) if rng.random() < (0.85 if age >= 16 else 0.3) else ""
    return Person(
        identity_kind="PseudoNumber" if pseudo else "NHSNumber",
        identity_value=pseudo_number(seed, index) if pseudo else nhs_number(seed, index),
        sri=str(strategic_reporting_id(seed, index)),
        sex=sex,
        title=_title(rng, sex, age, marital),
        first_name=first,
        middle_names=middle,
        surname=surname,
        known_as=people.KNOWN_AS.get(first, "") if rng.random() < 0.4 else "",
        date_of_birth=date_of_birth,
        marital_status=marital,
        ethnicity=ethnicity,
        language=language,
        english_speaker=_english_speaker(rng, language),
        address=_address(rng),
        home_telephone=_landline(rng) if rng.random() < 0.55 else "",
        work_telephone=_landline(rng) if 18 <= age < 67 and rng.random() < 0.1 else "",
        mobile_telephone=mobile,
        alternate_telephone=_mobile(rng) if rng.random() < 0.05 else "",
        email=_email(rng, first, surname) if age >= 16 and rng.random() < 0.35 else "",
        sms_consent="Yes" if mobile and rng.random() < 0.8 else "No",
        usual_gp=rng.choice(gps),
        care_start=_care_start(rng, date_of_birth, as_of),
        registration_type=rng.choices(("GMS", "Applied", "Private"), weights=(97, 2, 1))[0],
    )


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _date_of_birth(rng: random.Random, as_of: dt.date) -> dt.date:
    band = rng.choices(range(len(_AGE_BANDS)), weights=_AGE_BANDS)[0]
    span = 6 if band == len(_AGE_BANDS) - 1 else 5  # the last band runs to 95
    days = int((band * 5 + rng.random() * span) * 365.25)
    return as_of - dt.timedelta(days=days)


def _cohort(birth_year: int) -> str:
    return "old" if birth_year < 1955 else "mid" if birth_year < 1985 else "young"


def _names(rng: random.Random, sex: str, birth_year: int, ethnicity: str | None
           ) -> tuple[str, str, str, bool]:
    """(first name, middle names, surname, whether the names are Polish)."""
    polish = ethnicity == "other_white" and rng.random() < 0.5
    female = sex == "F" or (sex == "U" and rng.random() < 0.5)
    if ethnicity in ("pakistani", "indian"):
        given = people.SOUTH_ASIAN_FEMALE_NAMES if female else people.SOUTH_ASIAN_MALE_NAMES
        surnames = people.SOUTH_ASIAN_SURNAMES
    elif polish:
        given = people.POLISH_FEMALE_NAMES if female else people.POLISH_MALE_NAMES
        surnames = people.POLISH_SURNAMES
    else:
        pool = people.FEMALE_NAMES if female else people.MALE_NAMES
        given, surnames = pool[_cohort(birth_year)], people.SURNAMES
    first = rng.choice(given)
    middle = rng.choice([name for name in given if name != first]) if rng.random() < 0.35 else ""
    return first, middle, rng.choice(surnames), polish


def _marital_status(rng: random.Random, age: float) -> Concept | None:
    if age < 16 or rng.random() < 0.12:
        return None
    if age < 25:
        weights = (93, 7, 0, 0)
    elif age < 35:
        weights = (55, 42, 3, 0)
    elif age < 55:
        weights = (25, 58, 15, 2)
    elif age < 75:
        weights = (10, 60, 15, 15)
    else:
        weights = (6, 42, 7, 45)
    key = rng.choices(("single", "married", "divorced", "widowed"), weights=weights)[0]
    return BY_KEY[key]


def _title(rng: random.Random, sex: str, age: float, marital: Concept | None) -> str:
    if sex not in "MF":
        return ""
    if age >= 25 and rng.random() < 0.015:
        return "Dr"
    if sex == "M":
        return "Master" if age < 16 else "Mr"
    if age < 16:
        return "Miss"
    status = marital.key if marital else ""
    if status in ("married", "widowed"):
        return "Mrs" if rng.random() < 0.9 else "Ms"
    if status == "divorced":
        return rng.choice(("Mrs", "Ms"))
    return "Miss" if age < 40 and rng.random() < 0.7 else "Ms"


def _language(rng: random.Random, ethnicity: str | None, polish: bool) -> Concept | None:
    if rng.random() < 0.08:
        return None
    if ethnicity == "pakistani":
        key = rng.choices(("english", "urdu", "punjabi"), weights=(65, 20, 15))[0]
    elif ethnicity == "indian":
        key = rng.choices(("english", "punjabi"), weights=(75, 25))[0]
    elif polish:
        key = rng.choices(("english", "polish"), weights=(40, 60))[0]
    else:
        key = "english"
    return BY_KEY[key]


def _english_speaker(rng: random.Random, language: Concept | None) -> str:
    if language is None:
        return "Unknown"
    if language.key == "english":
        return "Yes"
    return "Yes" if rng.random() < 0.6 else "No"


def _address(rng: random.Random) -> tuple[tuple[str, str], ...]:
    locality = rng.choices(people.LOCALITIES, weights=[p.weight for p in people.LOCALITIES])[0]
    named = rng.random() < 0.05
    letters = people.POSTCODE_UNIT_LETTERS
    postcode = (f"{locality.district} {rng.choice(locality.sectors)}"
                f"{rng.choice(letters)}{rng.choice(letters)}")
    values = {
        "HouseName": rng.choice(people.HOUSE_NAMES) if named else "",
        "HouseNumber": "" if named else str(rng.randint(1, 180)),
        "Road": rng.choice(people.STREETS),
        "Locality": locality.name,
        "Town": locality.town,
        "County": people.COUNTY,
        "Postcode": postcode,
    }
    return tuple((name, values[name]) for name in ADDRESS_FIELDS)


def _landline(rng: random.Random) -> str:
    return f"0113 496 0{rng.randrange(1000):03d}"


def _mobile(rng: random.Random) -> str:
    return f"07700 900{rng.randrange(1000):03d}"


def _ascii_letters(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(char for char in plain if char.isascii() and char.isalpha()).lower()


def _email(rng: random.Random, first: str, surname: str) -> str:
    number = rng.randrange(100) if rng.random() < 0.5 else ""
    domain = rng.choice(people.EMAIL_DOMAINS)
    return f"{_ascii_letters(first)}.{_ascii_letters(surname)}{number}@{domain}"


def _care_start(rng: random.Random, date_of_birth: dt.date, as_of: dt.date) -> dt.date:
    age_days = (as_of - date_of_birth).days
    if age_days < 18 * 365 and rng.random() < 0.6:  # registered here as a baby
        start = date_of_birth + dt.timedelta(days=rng.randint(14, 42))
    else:
        years = rng.expovariate(1 / 9)
        start = as_of - dt.timedelta(days=min(age_days, int(years * 365.25)))
    return min(max(start, date_of_birth), as_of)


# --- Identity and Demographics XML ----------------------------------------------

def _child(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text or None  # empty optional text is written as <Tag/>
    return element


def _coded(parent: etree._Element, tag: str, concept: Concept | None) -> None:
    holder = etree.SubElement(parent, tag)
    if concept is not None:
        etree.SubElement(holder, "Code", {"Scheme": "CTV3", "Code": concept.ctv3,
                                          "Term": concept.ctv3_term})


def identity_element(person: Person) -> etree._Element:
    identity = etree.Element("Identity")
    _child(identity, person.identity_kind, person.identity_value)
    _child(identity, "StrategicReportingIdentifier", person.sri)
    return identity


def demographics_element(person: Person) -> etree._Element:
    demographics = etree.Element("Demographics")
    for tag, text in (("Title", person.title), ("FirstName", person.first_name),
                      ("MiddleNames", person.middle_names), ("Surname", person.surname),
                      ("KnownAs", person.known_as),
                      ("DateOfBirth", person.date_of_birth.isoformat()), ("Sex", person.sex)):
        _child(demographics, tag, text)
    _coded(demographics, "MaritalStatus", person.marital_status)
    _coded(demographics, "Ethnicity", person.ethnicity)
    _coded(demographics, "MainLanguage", person.language)
    _child(demographics, "EnglishSpeaker", person.english_speaker)
    address = _child(demographics, "Address")
    for tag, text in person.address:
        _child(address, tag, text)
    for tag, text in (("HomeTelephone", person.home_telephone),
                      ("WorkTelephone", person.work_telephone),
                      ("MobileTelephone", person.mobile_telephone),
                      ("AlternateTelephone", person.alternate_telephone),
                      ("EmailAddress", person.email), ("SMSConsent", person.sms_consent),
                      ("UsualGPUserName", person.usual_gp.user_name),
                      ("CareStartDate", person.care_start.isoformat()),
                      ("RegistrationType", person.registration_type)):
        _child(demographics, tag, text)
    return demographics


# --- the clinical profile -----------------------------------------------------------

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


# --- dates and times ------------------------------------------------------------------

def _add_years(day: dt.date, years: float) -> dt.date:
    return day + dt.timedelta(days=int(years * 365.25))


def _between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _weekday(day: dt.date, not_before: dt.date, not_after: dt.date) -> dt.date:
    """Move a weekend day to the nearest weekday within the bounds, if there is one."""
    if day.weekday() < 5:
        return day
    later = day + dt.timedelta(days=7 - day.weekday())
    earlier = day - dt.timedelta(days=day.weekday() - 4)
    if later <= not_after:
        return later
    return earlier if earlier >= not_before else day


def _surgery_time(rng: random.Random, day: dt.date) -> dt.datetime:
    minute = rng.randrange(SURGERY_OPENS, SURGERY_CLOSES)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60, rng.randrange(60)))


# --- recordings -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CodeItem:
    concept: Concept
    value: str | None = None
    comparator: str | None = None
    problem_uid: str | None = None
    severity: str | None = None
    end_date: dt.date | None = None
    free_text: str | None = None


@dataclass(frozen=True, slots=True)
class MedicationItem:
    drug: Drug
    dose: str
    quantity: str
    start: dt.date
    end: dt.date


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
    lines: tuple[str, ...]


Item = CodeItem | MedicationItem | RepeatItem | NarrativeItem


@dataclass(frozen=True, slots=True)
class EventSpec:
    when: dt.datetime
    order: int  # creation order, to keep same-time events stable
    user: User
    done_at: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Staff:
    gps: tuple[User, ...]
    nurses: tuple[User, ...]
    hcas: tuple[User, ...]
    sites: tuple[Site, ...]

    @classmethod
    def of(cls, organisation: Organisation) -> Staff:
        users = organisation.users
        return cls(gps=tuple(u for u in users if u.is_gp),
                   nurses=tuple(u for u in users if "Nurse" in u.role),
                   hcas=tuple(u for u in users if u.role == "Health Care Assistant"),
                   sites=organisation.sites)


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

_CONSULTATION_LINES = (
    "Seen with cough for 2/52, chest clear. Advised fluids & rest.",
    "C/O lower back pain after lifting. No red flags. Simple analgesia.",
    "Sore throat 3/7, tonsils inflamed, no exudate. Safety-netted.",
    "Pt's partner present. Discussed work stress & sleep, will review.",
    "Rash on forearm, likely contact dermatitis. Emollients advised.",
    "Feeling tired all the time. Bloods requested & will review results.",
    "Knee pain on stairs; no swelling. Exercises & weight advice given.",
    "Night sweats & temp > 38 twice this week. Chest clear, bloods requested.",
    "Headaches for 1/12, worse with screens. BP < 140/90 & neuro exam normal.",
    "Fit note issued for 2 weeks. Review if not improving.",
    "Ear pain & reduced hearing L side. Wax seen, olive oil advised.",
    "Anxious about results of O'Neill family history query; reassured.",
    "Insomnia since bereavement. Sleep hygiene discussed. Pt's partner attended.",
    "Dyspepsia after meals, no weight loss < 3 months. Lifestyle advice.",
    "Telephone consultation: symptoms settling, no need to be seen.",
)
_CHILD_CONSULTATION_LINES = (
    "Coryzal & febrile for 2/7. Eating & drinking well. Ears & throat normal.",
    "Seen with mum: barking cough at night, croup score 1. Safety-netted.",
    "Eczema flare behind knees. Emollients & mild steroid cream for 1/52.",
    "Vomiting x3 since yesterday, no diarrhoea. Well hydrated. Advice given.",
    "Parent's concern re: weight gain; growth on centile, reassured.",
    "Otitis media L ear. Temp > 38. Analgesia & review if not better in 3/7.",
)
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
_PROBLEM_SEVERITY = {"hypertension": "Major", "type2_diabetes": "Major", "asthma": "Minor",
                     "copd": "Major", "hypothyroidism": "Minor", "depression": "Major",
                     "osteoarthritis": "Minor", "atrial_fibrillation": "Major",
                     "gord": "Minor", "ckd3": "Minor"}
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


class Timeline:
    """Collects a record's events; values are worked out from the profile."""

    def __init__(self, person: Person, profile: Profile, rng: random.Random, staff: Staff,
                 as_of: dt.date) -> None:
        self.person, self.profile, self.rng, self.staff = person, profile, rng, staff
        self.as_of = as_of
        self.events: list[EventSpec] = []
        self.problems = 0

    # events

    def add(self, day: dt.date, user: User, items: list[Item]) -> None:
        if not items:
            return
        day = _weekday(day, self.profile.history_start, self.as_of)
        if not self.profile.history_start <= day <= self.as_of:
            return
        done_at = "Surgery" if self.rng.random() < 0.3 else self._site().name
        self.events.append(EventSpec(_surgery_time(self.rng, day), len(self.events), user,
                                     done_at, tuple(items)))

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
        systolic = self.systolic(day)
        note = None
        if systolic < 140 and self.rng.random() < 0.1:
            note = "BP < 140/90 & review in 6/12"
        return [self.measured("systolic_bp", str(systolic), free_text=note),
                self.measured("diastolic_bp", str(self.diastolic(systolic)))]

    def body_size(self, day: dt.date, with_height: bool = True) -> list[Item]:
        height = round(self.height(day), 2)
        weight = round(self.bmi(day) * height * height * self.rng.gauss(1.0, 0.012), 1)
        items: list[Item] = [self.measured("weight", f"{weight:.1f}")]
        if with_height:
            items.append(self.measured("height", f"{height:.2f}"))
            items.append(self.measured("bmi", f"{weight / (height * height):.1f}"))
        return items

    def pulse(self, day: dt.date) -> Item:
        irregular = self.has("atrial_fibrillation", day)
        mean, spread = (86, 12) if irregular else (73, 9)
        return self.measured("pulse", str(int(min(140, max(45, self.rng.gauss(mean, spread))))))

    def temperature(self) -> Item:
        value = min(40.2, max(35.6, self.rng.gauss(37.3, 0.6)))
        return self.measured("temperature", f"{value:.1f}")

    def hba1c(self, day: dt.date, first: bool = False) -> Item:
        if not self.has("type2_diabetes", day):
            mean = 38 + (3 if self.profile.bmi_offset > 4 else 0)
            return self.measured("hba1c", str(round(self.rng.gauss(mean, 3))))
        mean, spread = (66, 9) if first else (55, 7)
        return self.measured("hba1c", str(round(max(42, self.rng.gauss(mean, spread)))))

    def cholesterol(self, day: dt.date) -> Item:
        mean = 4.0 if self.on_statin(day) else 5.3
        value = min(9.5, max(2.6, self.rng.gauss(mean, 0.7)))
        return self.measured("cholesterol", f"{value:.1f}")

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
        self.problems += 1
        return CodeItem(BY_KEY[key], problem_uid=_uid(self.person.sri, self.problems, PROBLEM_UID),
                        severity=_PROBLEM_SEVERITY[key], end_date=self.profile.resolved.get(key))

    def narrative(self, *lines: str) -> NarrativeItem:
        return NarrativeItem(tuple(lines))


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


# --- building the history ------------------------------------------------------------------

def build_timeline(person: Person, profile: Profile, rng: random.Random, staff: Staff,
                   as_of: dt.date, history_scale: float) -> list[EventSpec]:
    timeline = Timeline(person, profile, rng, staff, as_of)
    _registration_check(timeline)
    _routine_consultations(timeline, history_scale)
    courses = _diagnoses(timeline)
    _condition_reviews(timeline, history_scale)
    _repeat_issues(timeline, courses, history_scale)
    return sorted(timeline.events, key=lambda event: (event.when, event.order))


def _registration_check(timeline: Timeline) -> None:
    """New-patient check at registration, for patients who joined within the history."""
    day = timeline.person.care_start
    if day < timeline.profile.history_start or timeline.age(day) < 5:
        return
    items: list[Item] = [*timeline.body_size(day)]
    if timeline.age(day) >= 16:
        items += [*timeline.blood_pressure(day), CodeItem(timeline.smoking_concept(day))]
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
    items: list[Item] = []
    if age < 5:
        items += timeline.body_size(day)
    elif age >= 18 and rng.random() < (0.5 if timeline.has("hypertension", day) else 0.25):
        items += timeline.blood_pressure(day)
    if rng.random() < 0.15:
        items.append(timeline.pulse(day))
    if rng.random() < 0.1:
        items.append(timeline.temperature())
    if age >= 16 and rng.random() < 0.12:
        items += timeline.body_size(day, with_height=rng.random() < 0.5)
    if age >= 16 and rng.random() < 0.1:
        items.append(CodeItem(timeline.smoking_concept(day)))
    if age >= 12 and rng.random() < 0.15:
        items.append(_acute_issue("paracetamol", day, "32 tablet", 8))
    lines = _CHILD_CONSULTATION_LINES if age < 12 else _CONSULTATION_LINES
    items.append(timeline.narrative(*rng.sample(lines, rng.choice((1, 1, 2)))))
    timeline.add(day, timeline.gp() if rng.random() < 0.8 else timeline.nurse(), items)


def _acute_issue(key: str, day: dt.date, quantity: str, days: int) -> MedicationItem:
    dose = _DOSING[key][0]
    return MedicationItem(DRUG_BY_KEY[key], dose, quantity, day, day + dt.timedelta(days=days))


def _diagnoses(timeline: Timeline) -> list[Course]:
    """One event per diagnosis: the problem, first recordings and any new repeats."""
    courses: list[Course] = []
    for key, day in sorted(timeline.profile.conditions.items(), key=lambda pair: pair[1]):
        new = _courses_for(timeline, key, day)
        courses += new
        items: list[Item] = [timeline.problem(key), *_diagnosis_recordings(timeline, key, day)]
        items += [_authorisation(course, day) for course in new if course.start == day]
        items.append(timeline.narrative(f"Diagnosis: {BY_KEY[key].ctv3_term}. Plan discussed & "
                                        "agreed with pt."))
        timeline.add(day, timeline.gp(), items)
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
        timeline.add(statin, timeline.gp(), [timeline.cholesterol(statin - dt.timedelta(days=1)),
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
        return [timeline.hba1c(day, first=True), *timeline.body_size(day)]
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
        items.append(timeline.hba1c(day))
        if annual:
            items += [*timeline.body_size(day), timeline.cholesterol(day), *timeline.kidney(day),
                      CodeItem(BY_KEY["diabetes_plan"])]
    elif key == "ckd3" or (key == "hypertension" and annual):
        items += timeline.kidney(day)
    if annual and key in ("hypertension", "copd", "asthma") and timeline.age(day) >= 16:
        items.append(CodeItem(timeline.smoking_concept(day)))
    if annual and timeline.on_statin(day) and key != "type2_diabetes":
        items.append(timeline.cholesterol(day))
    items.append(timeline.narrative(rng.choice(_REVIEW_LINES[key])))
    user = timeline.gp() if key == "depression" else timeline.nurse()
    timeline.add(day, user, items)


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


# --- Clinical and NonClinical XML ----------------------------------------------------------

def clinical_element(events: list[EventSpec], person: Person) -> etree._Element:
    clinical = etree.Element("Clinical")
    for number, event in enumerate(events, start=1):
        element = etree.SubElement(clinical, "Event", {
            "DateTime": event.when.isoformat(timespec="seconds"),
            "UserName": event.user.user_name,
            "DoneBy": event.user.done_by,
            "DoneAt": event.done_at,
            "EventUID": _uid(person.sri, number, EVENT_UID),
        })
        for item in event.items:
            _ITEM_WRITERS[type(item)](element, item)
    return clinical


def _write_code(event: etree._Element, item: CodeItem) -> None:
    code = etree.SubElement(event, "ClinicalCode")
    concept = item.concept
    etree.SubElement(code, "Code", {"Scheme": "CTV3", "Code": concept.ctv3,
                                    "Term": concept.ctv3_term})
    if item.problem_uid is not None:
        _child(code, "Episodicity", "New")
    if item.value is not None:
        _child(code, "Value", item.value)
        if concept.units:
            _child(code, "Units", concept.units)
    if item.comparator is not None:
        _child(code, "Comparator", item.comparator)
    if item.problem_uid is not None:
        _child(code, "ProblemUID", item.problem_uid)
        _child(code, "ProblemSeverity", item.severity)
        if item.end_date is not None:
            _child(code, "ProblemEndDate", item.end_date.isoformat())
    if item.free_text:
        _child(code, "FreeText", item.free_text)


def _write_drug(parent: etree._Element, drug: Drug) -> None:
    etree.SubElement(parent, "Drug", {"Scheme": "Multilex", "ProductID": drug.multilex,
                                      "Name": drug.name})


def _write_medication(event: etree._Element, item: MedicationItem) -> None:
    medication = etree.SubElement(event, "Medication")
    _child(medication, "MedicationType", "NHS medication")
    _write_drug(medication, item.drug)
    _child(medication, "Dose", item.dose)
    _child(medication, "Quantity", item.quantity)
    _child(medication, "StartDate", item.start.isoformat())
    _child(medication, "EndDate", item.end.isoformat())
    _child(medication, "EndReason")


def _write_repeat(event: etree._Element, item: RepeatItem) -> None:
    repeat = etree.SubElement(event, "RepeatMedication")
    _write_drug(repeat, item.drug)
    _child(repeat, "Dose", item.dose)
    _child(repeat, "Quantity", item.quantity)
    _child(repeat, "StartDate", item.start.isoformat())
    _child(repeat, "ReviewDate", item.review.isoformat())
    _child(repeat, "MaxIssues", str(item.max_issues))
    _child(repeat, "IssueDurationDays", str(item.issue_days))


def _write_narrative(event: etree._Element, item: NarrativeItem) -> None:
    narrative = etree.SubElement(event, "Narrative")
    for line in item.lines:
        _child(narrative, "Line", line)


_ITEM_WRITERS: dict[type, Callable[[etree._Element, object], None]] = {
    CodeItem: _write_code, MedicationItem: _write_medication, RepeatItem: _write_repeat,
    NarrativeItem: _write_narrative,
}


def non_clinical_element(person: Person, rng: random.Random, staff: Staff,
                         as_of: dt.date) -> etree._Element:
    """A few appointments booked in the coming six weeks (the only dates after as_of)."""
    non_clinical = etree.Element("NonClinical")
    booked = rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]
    days = sorted(rng.sample(range(1, 43), booked))
    for number, offset in enumerate(days, start=1):
        day = as_of + dt.timedelta(days=offset)
        day += dt.timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)
        with_gp = rng.random() < 0.65
        user = person.usual_gp if with_gp and rng.random() < 0.7 else rng.choice(
            staff.gps if with_gp else staff.nurses)
        slot = rng.randrange(SURGERY_OPENS + 30, SURGERY_CLOSES - 40, 10)
        when = dt.datetime.combine(day, dt.time(slot // 60, slot % 60))
        appointment = etree.SubElement(non_clinical, "Appointment")
        for tag, text in (("DateTime", when.isoformat(timespec="seconds")),
                          ("Duration", "10.0" if with_gp else "15.0"),
                          ("Clinician", f"{user.surname.upper()}, {user.first_name}"),
                          ("UserName", user.user_name),
                          ("Site", staff.sites[0].name),
                          ("ClinicType", "Session" if with_gp else "Nurse Clinic"),
                          ("AppointmentUID", _uid(person.sri, number, APPOINTMENT_UID)),
                          ("Status", "Booked")):
            _child(appointment, tag, text)
    return non_clinical


# --- the organisation ---------------------------------------------------------------------

def default_organisation() -> Organisation:
    """Tarnfield Medical Practice: a fictitious two-site practice in Aireborough.

    Names, ids, GMC/NMC numbers and telephone numbers are all fictitious
    (telephones from Ofcom's drama range); role codes follow the national RBAC
    pattern for illustration.
    """
    main = Site(
        name="Tarnfield Medical Practice", id="B99991", telephone="0113 496 0000",
        address={"HouseName": "Tarnfield House", "HouseNumber": "12", "Road": "Tarn Court",
                 "Locality": "Yeadon", "Town": "Leeds", "County": "West Yorkshire",
                 "Postcode": "LS19 7TZ"},
        fax="0113 496 0001", email="reception.tarnfield@example.nhs.uk",
        primary=True, current=True)
    branch = Site(
        name="Tarnfield Menston Branch Surgery", id="B99992", telephone="0113 496 0002",
        address={"HouseName": "", "HouseNumber": "3", "Road": "Low Green",
                 "Locality": "Menston", "Town": "Ilkley", "County": "West Yorkshire",
                 "Postcode": "LS29 6EY"})
    return Organisation(sites=(main, branch), users=_practice_users())


def _practice_users() -> tuple[User, ...]:
    gp_rights = ("Clinical", "Prescribing", "Patient Record Access")
    nurse_rights = ("Clinical", "Patient Record Access")
    admin_rights = ("Appointments", "Registration")

    def gp(title, first, surname, user_name, gender, gmc, current=False):
        return User(title, first, surname, user_name, gender, "General Medical Practitioner",
                    "S0010:G0020:R0260", gmc, "GMC", access_rights=gp_rights,
                    groups=("Clinicians",), teams=("GP Team",), current=current)

    return (
        gp("Dr", "Sarah", "Fenwick", "sfenwick2210", "F", "7012345", current=True),
        gp("Dr", "Martin", "Oldroyd", "moldroyd0412", "M", "7023456"),
        gp("Dr", "Priya", "Chaudhry", "pchaudhry1187", "F", "7034567"),
        gp("Dr", "Owen", "Whitley", "owhitley0935", "M", "7045678"),
        User("Mrs", "Helen", "Ackroyd", "hackroyd0622", "F", "Practice Nurse",
             "S8000:G8000:R8001", "91A2345E", "NMC", access_rights=nurse_rights,
             groups=("Clinicians",), teams=("Nursing Team",)),
        User("Ms", "Joanne", "Sykes", "jsykes1540", "F", "Nurse Practitioner",
             "S8000:G8000:R8001", "88B6789C", "NMC", access_rights=(*nurse_rights, "Prescribing"),
             groups=("Clinicians",), teams=("Nursing Team",)),
        User("Mr", "Kieran", "Dobson", "kdobson0318", "M", "Health Care Assistant",
             "S8000:G8000:R8003", access_rights=nurse_rights, teams=("Nursing Team",)),
        User("Mrs", "Lisa", "Marsden", "lmarsden2714", "F", "Receptionist",
             "S8000:G8000:R8008", access_rights=admin_rights, teams=("Reception",)),
        User("Mr", "Paul", "Whitaker", "pwhitaker1102", "M", "Practice Manager",
             "S8000:G8000:R8008", access_rights=(*admin_rights, "Reporting"),
             teams=("Management",)),
    )
