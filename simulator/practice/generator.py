"""A deterministic fictitious practice: patients and their records, built on demand.

The simulator needs a practice large and varied enough to exercise the facade
(search, filters, code translation, big records) without real patient data.
Every patient is derived from ``(seed, index)`` alone, so a patient is the same
whichever practice size it belongs to, and two runs with the same arguments
give byte-identical XML. Demographics are cheap to build (the patient index
reads all of them at start-up); a full record is built only when asked for.

Each record follows one coherent patient: a profile (age, sex, smoking, body
size, long-term conditions chosen with age-dependent prevalence) drives the
recordings, reviews and medication over the years up to ``as_of``. A second
random stream (so the consultations above do not shift) adds the rest of a GP
record around them: drug sensitivities, immunisations, pathology reports for the
bloods taken, referrals with their letters, hospital letters, attachments,
recalls, reminders, next of kin, care plans, activities, and the pending home
visits and workflow tasks of the NonClinical part. Records are held as SystmOne
holds them, in CTV3 and Multilex (see ``concepts``).

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
from .concepts import BY_KEY, DRUG_BY_KEY, INGREDIENT_BY_KEY, Concept, Drug, Ingredient
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
        care = random.Random(f"{self.seed}:{index}:care")
        pending = Pending()
        timeline = build_timeline(person, profile, rng, staff, self.as_of, self.history_scale,
                                  care, pending)
        response.append(clinical_element(timeline, person))
        response.append(non_clinical_element(person, rng, staff, self.as_of, pending))
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


EVENT_UID, PROBLEM_UID, APPOINTMENT_UID, REFERRAL_UID, DOCUMENT_UID, VISIT_UID, TASK_UID = (
    0, 1, 2, 3, 4, 5, 6)


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
        self._uids: dict[int, int] = {}

    # events

    def add(self, day: dt.date, user: User, items: list[Item], done_at: str | None = None,
            linked_referral: str | None = None) -> None:
        if not items:
            return
        day = _weekday(day, self.profile.history_start, self.as_of)
        if not self.profile.history_start <= day <= self.as_of:
            return
        if done_at is None:
            done_at = "Surgery" if self.rng.random() < 0.3 else self._site().name
        self.events.append(EventSpec(_surgery_time(self.rng, day), len(self.events), user,
                                     done_at, tuple(items), linked_referral))

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
    if annual and key in _RECALLS:  # the next annual review (no random draws: see build)
        due = _add_years(day, 1)
        items.append(RecallItem(due, _RECALLS[key], "Annual review: bloods a week before.",
                                "Pending" if due > timeline.as_of else "Completed"))
    user = timeline.gp() if key == "depression" else timeline.nurse()
    timeline.add(day, user, items)


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


# --- the rest of the record: care beyond consultations and prescribing ----------------

#: Electronic pathology reports reach back this many years (older results are values only).
REPORT_YEARS = 6
#: Tasks are still open for reports and letters filed this recently.
OPEN_TASK_DAYS = 10

_LAB_BATTERY = {"hba1c": "HbA1c", "egfr": "U&E", "creatinine": "U&E",
                "cholesterol": "Lipid profile"}
_LAB_LABEL = {"hba1c": "HbA1c", "egfr": "eGFR", "creatinine": "Creatinine",
              "cholesterol": "Total cholesterol"}
# Conditions that make a patient under 65 eligible for the NHS flu vaccine.
_FLU_RISK = ("type2_diabetes", "copd", "asthma", "ckd3", "atrial_fibrillation")


def _care_records(timeline: Timeline, history_scale: float, pending: Pending) -> None:
    """Everything a GP record holds beyond consultations, reviews and prescriptions."""
    existing = list(timeline.events)
    frail = _frail(timeline)
    housebound = frail and timeline.rng.random() < 0.5
    _sensitivities(timeline)
    _immunisations(timeline)
    _pathology_reports(timeline, existing)
    _cervical_screening(timeline)
    _referrals(timeline)
    _hospital_letters(timeline, frail, history_scale)
    _eye_screening(timeline)
    _attachments(timeline, existing)
    _relationship(timeline)
    _reminders(timeline, housebound)
    _care_plans(timeline, frail)
    _home_visits(timeline, frail, housebound, history_scale, pending)
    _open_tasks(timeline, pending)


def _frail(timeline: Timeline) -> bool:
    age = timeline.age(timeline.as_of)
    return age >= 88 or (age >= 78 and len(timeline.profile.conditions) >= 2)


def _datetime(rng: random.Random, day: dt.date, first: int = SURGERY_OPENS,
              last: int = SURGERY_CLOSES) -> dt.datetime:
    minute = rng.randrange(first, last)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60))


def _name_of(user: User) -> tuple[str, str, str]:
    return user.title, user.first_name, user.surname


def _recent_start(timeline: Timeline, years: float) -> dt.date:
    return max(timeline.profile.history_start, _add_years(timeline.as_of, -years))


# Drug sensitivities: (weight, drug key or None for an ingredient-level entry,
# ingredient keys, reactions).
_SENSITIVITIES = (
    (45, None, ("penicillin",), ("Rash", "Urticaria", "Facial swelling",
                                 "Rash as a child, details unknown")),
    (22, "amoxicillin", ("amoxicillin",), ("Rash", "Urticarial rash", "Vomiting & diarrhoea")),
    (9, "ibuprofen", ("ibuprofen",), ("Indigestion", "Wheeze")),
    (5, None, ("nsaids",), ("Wheeze", "GI bleed on NSAID")),
    (4, None, ("aspirin",), ("Wheeze", "Angioedema")),
    (9, "codeine", ("codeine",), ("Nausea & vomiting", "Constipation & drowsiness")),
    (6, "trimethoprim", ("trimethoprim",), ("Rash",)),
    (3, None, ("latex",), ("Contact dermatitis",)),
)
_NSAID_ENTRIES = (2, 3, 4)


def _sensitivities(timeline: Timeline) -> None:
    """About one patient in ten has a drug allergy or intolerance, mostly penicillin."""
    rng, profile = timeline.rng, timeline.profile
    asthma = "asthma" in profile.conditions
    if rng.random() >= (0.15 if asthma else 0.11):
        return
    weights = [entry[0] * (3 if asthma and number in _NSAID_ENTRIES else 1)
               for number, entry in enumerate(_SENSITIVITIES)]
    count = 2 if rng.random() < 0.15 else 1
    chosen = sorted(set(rng.choices(range(len(_SENSITIVITIES)), weights=weights, k=count)))
    for number in chosen:
        _, drug_key, ingredient_keys, reactions = _SENSITIVITIES[number]
        registered = timeline.person.care_start
        if registered >= profile.history_start and rng.random() < 0.5:
            day = registered  # declared at registration
        else:
            day = _between(rng, profile.history_start, timeline.as_of)
        end, unknown = None, False
        if drug_key is None and ingredient_keys == ("penicillin",) and rng.random() < 0.08:
            end = _between(rng, day, timeline.as_of)  # de-labelled after testing
        elif rng.random() < 0.03:
            unknown = True
        item = SensitivityItem(DRUG_BY_KEY[drug_key] if drug_key else None,
                               tuple(INGREDIENT_BY_KEY[key] for key in ingredient_keys),
                               rng.choice(reactions), end, unknown)
        timeline.add(day, timeline.gp(), [item])


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
            rng.choice(("Left deltoid", "Right deltoid")))])
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
            item = _vaccination(rng, "Influenza", "Influenza", "Part 1",
                                rng.choice(("Left deltoid", "Right deltoid")))
        timeline.add(day, rng.choice((timeline.nurse(), timeline.hca())), [item])


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


def _pathology_reports(timeline: Timeline, existing: list[EventSpec]) -> None:
    """A lab report for every blood test of the last REPORT_YEARS years."""
    cutoff = _add_years(timeline.as_of, -REPORT_YEARS)
    for event in existing:
        day = event.when.date()
        if day < cutoff:
            continue
        labs = [item for item in event.items if isinstance(item, CodeItem)
                and item.concept.key in _LAB_LABEL and item.value is not None]
        if labs:
            _lab_report(timeline, day, labs)
        elif any(isinstance(item, NarrativeItem) and "loods requested" in " ".join(item.lines)
                 for item in event.items):
            _blood_screen_report(timeline, day)


def _lab_flag(timeline: Timeline, item: CodeItem) -> str:
    key, value = item.concept.key, float(item.value or 0)
    high_creatinine = 110 if timeline.person.sex == "M" else 90
    if (key == "hba1c" and value >= 48) or (key == "creatinine" and value > high_creatinine) or (
            key == "cholesterol" and value > 6.5):
        return " (H)"
    if key == "egfr" and item.comparator is None and value < 60:
        return " (L)"
    return ""


def _lab_report(timeline: Timeline, collected: dt.date, labs: list[CodeItem]) -> None:
    rng = timeline.rng
    batteries = "; ".join(dict.fromkeys(_LAB_BATTERY[item.concept.key] for item in labs))
    parts, abnormal = [], False
    for item in labs:
        flag = _lab_flag(timeline, item)
        abnormal = abnormal or bool(flag)
        shown = f"> {item.value}" if item.comparator == _EGFR_ABOVE_90 else item.value
        parts.append(f"{_LAB_LABEL[item.concept.key]} {shown} {item.concept.units}{flag}")
    issued = collected + dt.timedelta(days=rng.randint(1, 3))
    known = any(timeline.has(key, collected) for key in ("type2_diabetes", "ckd3"))
    if not abnormal:
        actions: tuple[str, ...] = ()
    elif known:
        actions = ("Discuss at next review",)
    else:
        actions = (rng.choice(("Make routine appointment", "Repeat test in 3 months")),)
    items: list[Item] = [ReportItem(batteries, issued, "Abnormal" if abnormal else "Normal",
                                    actions, "; ".join(parts), collected)]
    if abnormal and not known and rng.random() < 0.5:
        items.append(ActivityItem("Telephoned patient with results", "Patient", "Telephone",
                                  rng.choice((3, 5, 8))))
    timeline.add(issued, timeline.gp(), items)


def _blood_screen_report(timeline: Timeline, requested: dt.date) -> None:
    rng = timeline.rng
    collected = requested + dt.timedelta(days=rng.randint(1, 7))
    issued = collected + dt.timedelta(days=rng.randint(1, 2))
    if rng.random() < 0.8:
        report = ReportItem("FBC; U&E; LFT; TFT; CRP", issued, "Normal", (),
                            "All results within reference ranges.", collected)
    else:
        report = ReportItem("FBC; U&E; LFT; TFT; CRP; Ferritin", issued, "Abnormal",
                            ("Make routine appointment",),
                            rng.choice(("Ferritin 9 ug/L (L) & Hb 108 g/L (L) - iron deficiency?",
                                        "CRP 46 mg/L (H); FBC normal. Repeat in 2/52.",
                                        "TSH 7.8 mU/L (H), free T4 normal - repeat in 3/12.")),
                            collected)
    timeline.add(issued, timeline.gp(), [report])


def _cervical_screening(timeline: Timeline) -> None:
    """Women of 25 to 64: three-yearly screening to 49, five-yearly after; most attend."""
    rng, person, profile = timeline.rng, timeline.person, timeline.profile
    if person.sex != "F":
        return
    attends = rng.random() < 0.75
    day = max(profile.history_start, _add_years(person.date_of_birth, 25))
    day += dt.timedelta(days=rng.randint(0, 300))
    while day <= timeline.as_of and timeline.age(day) < 65:
        if rng.random() >= (0.9 if attends else 0.25):
            day = _add_years(day, 1)
            continue
        hpv_primary = day >= dt.date(2019, 12, 1)
        positive = rng.random() < 0.1
        years = 1 if positive else 3 if timeline.age(day) < 50 else 5
        due = _add_years(day, years)
        timeline.add(day, timeline.nurse(), [
            timeline.narrative("Cervical screening: sample taken (LBC). Pt consented."),
            RecallItem(due, "Cervical screening", f"Next screening in {years} year(s).",
                       "Pending" if due > timeline.as_of else "Completed")])
        issued = day + dt.timedelta(days=rng.randint(10, 28))
        if hpv_primary:
            batteries = "Cervical screening (HPV primary)"
            comments = ("HPV detected; cytology negative. Recall in 12 months." if positive
                        else "HPV not detected. Routine recall.")
        else:
            batteries = "Cervical cytology (LBC)"
            comments = ("Borderline changes. HPV triage negative; recall in 12 months."
                        if positive else "Negative. Routine recall.")
        timeline.add(issued, timeline.gp(), [ReportItem(
            batteries, issued, "Abnormal" if positive else "Normal",
            ("Early recall",) if positive else (), comments, day)])
        day = due + dt.timedelta(days=rng.randint(0, 90))


# Referrals that follow a diagnosis: condition -> (chance, service, provider,
# clinicians' specialty, reason, kind of the reply letter).
_CONDITION_REFERRALS = {
    "atrial_fibrillation": (0.7, "Cardiology", people.AIRE_VALLEY_HOSPITAL, "Cardiology",
                            "New AF; rate control & anticoagulation started. ?Echo.",
                            "Outpatient letter"),
    "osteoarthritis": (0.45, "Physiotherapy", people.COMMUNITY_MSK, "Physiotherapy",
                       "Knee & hip pain with OA. For exercise programme.", "Discharge letter"),
    "depression": (0.5, "Talking therapies", people.TALKING_THERAPIES, "Talking Therapies",
                   "Low mood & anxiety. Pt keen on CBT.", "Assessment letter"),
    "type2_diabetes": (0.4, "Diabetes structured education", people.DIABETES_SERVICE,
                       "Diabetes", "Newly diagnosed type 2 diabetes, for education course.",
                       "Attendance letter"),
    "copd": (0.3, "Pulmonary rehabilitation", people.RESPIRATORY_SERVICE, "Respiratory",
             "COPD with MRC dyspnoea scale 3. For pulmonary rehab.", "Discharge letter"),
}


def _referrals(timeline: Timeline) -> None:
    rng, profile = timeline.rng, timeline.profile
    for key, diagnosed in sorted(profile.conditions.items(), key=lambda pair: pair[1]):
        plan = _CONDITION_REFERRALS.get(key)
        if plan is not None and rng.random() < plan[0]:
            day = diagnosed + dt.timedelta(days=rng.randint(7, 90))
            _refer(timeline, day, *plan[1:5], "Routine", plan[5])
    age = timeline.age(timeline.as_of)
    start, end = profile.history_start, timeline.as_of
    oa = profile.conditions.get("osteoarthritis")
    if oa is not None and timeline.age(oa) >= 60 and rng.random() < 0.25:
        _refer(timeline, oa + dt.timedelta(days=rng.randint(200, 900)), "Orthopaedics",
               people.AIRE_VALLEY_HOSPITAL, "Orthopaedics",
               "Severe hip OA despite analgesia & physio; for consideration of THR.",
               "Routine", "Outpatient letter")
    if age >= 18 and rng.random() < 0.04:
        _refer(timeline, _between(rng, max(start, _add_years(timeline.person.date_of_birth, 18)),
                                  end), "Physiotherapy", people.COMMUNITY_MSK, "Physiotherapy",
               "Mechanical low back pain > 6/52, no red flags.", "Routine", "Discharge letter")
    if age >= 30 and rng.random() < 0.02:
        _refer(timeline, _between(rng, max(start, _add_years(timeline.person.date_of_birth, 30)),
                                  end), "Dermatology", people.AIRE_VALLEY_HOSPITAL, "Dermatology",
               "Changing pigmented lesion on back, ?melanoma.", "Two week wait",
               "Outpatient letter")


def _refer(timeline: Timeline, day: dt.date, service: str, provider: people.Provider,
           specialty: str, reason: str, urgency: str, reply_kind: str) -> None:
    """An outgoing referral with its letter and, once seen, the service's reply."""
    rng = timeline.rng
    referred = timeline.in_range(day)
    if referred is None:
        return
    uid = timeline.uid(REFERRAL_UID)
    wait = rng.randint(7, 14) if urgency == "Two week wait" else rng.randint(28, 120)
    replied = timeline.in_range(referred + dt.timedelta(days=wait))
    if replied is not None and replied <= referred:
        replied = None
    gp, clinician = timeline.gp(), rng.choice(people.CLINICIANS[specialty])
    practice = timeline.staff.sites[0]
    practice_address = tuple((tag, value) for tag, value in practice.address.items() if value)
    referral = ReferralItem(uid, "Outgoing", service, provider.name, reason, urgency,
                            "Closed" if replied else "Awaiting appointment", replied)
    letter = LetterItem((clinician.title, clinician.first_name, clinician.surname),
                        provider.name, _name_of(gp), practice.name, practice_address,
                        timeline.uid(DOCUMENT_UID), "Referral letter", "Outgoing",
                        _datetime(rng, referred))
    timeline.add(referred, gp, [referral, letter])
    if replied is not None:
        usual = timeline.person.usual_gp
        reply = LetterItem(_name_of(usual), practice.name,
                           (clinician.title, clinician.first_name, clinician.surname),
                           provider.name, provider.address, timeline.uid(DOCUMENT_UID),
                           reply_kind, "Incoming", _datetime(rng, replied))
        timeline.add(replied, timeline.gp(), [reply], linked_referral=uid)


def _incoming_letter(timeline: Timeline, day: dt.date, provider: people.Provider,
                     specialty: str, kind: str) -> LetterItem:
    rng, practice = timeline.rng, timeline.staff.sites[0]
    clinician = rng.choice(people.CLINICIANS[specialty])
    return LetterItem(_name_of(timeline.person.usual_gp), practice.name,
                      (clinician.title, clinician.first_name, clinician.surname),
                      provider.name, provider.address, timeline.uid(DOCUMENT_UID), kind,
                      "Incoming", _datetime(rng, day))


_ED_REASONS = ("Fall at home, laceration to scalp closed with glue.",
               "Chest pain; ECG & troponin normal. Discharged.",
               "Sprained L ankle, X-ray NAD. Advice given.",
               "Wrist injury, X-ray showed distal radius fracture; fracture clinic.")
_ADMISSION_REASONS = ("Admitted with community-acquired pneumonia; IV then oral antibiotics.",
                      "Admitted with urinary tract infection & delirium; resolved.",
                      "Admitted with exacerbation of breathlessness; improved with treatment.")


def _hospital_letters(timeline: Timeline, frail: bool, history_scale: float) -> None:
    """Emergency department attendances and admissions, commoner with age and frailty."""
    rng = timeline.rng
    day = timeline.profile.history_start
    while history_scale > 0:
        rate = _band(timeline.age(day), ((16, 0.06), (65, 0.05), (80, 0.12), (200, 0.25)))
        rate *= (1.6 if frail else 1.0) * history_scale
        day += dt.timedelta(days=max(1, int(rng.expovariate(rate) * 365.25)))
        if day > timeline.as_of:
            return
        received = day + dt.timedelta(days=rng.randint(1, 5))
        if rng.random() < 0.6:
            letter = _incoming_letter(timeline, received, people.AIRE_VALLEY_HOSPITAL,
                                      "Emergency Medicine", "A&E attendance")
            note = rng.choice(_ED_REASONS)
        else:
            letter = _incoming_letter(timeline, received, people.AIRE_VALLEY_HOSPITAL,
                                      "Acute Medicine", "Discharge summary")
            note = rng.choice(_ADMISSION_REASONS)
        timeline.add(received, timeline.gp(), [letter, timeline.narrative(note)])


def _eye_screening(timeline: Timeline) -> None:
    """Diabetic eye screening every year after diagnosis; the result comes as a letter."""
    rng = timeline.rng
    diagnosed = timeline.profile.conditions.get("type2_diabetes")
    if diagnosed is None:
        return
    day = diagnosed + dt.timedelta(days=rng.randint(60, 200))
    while day <= timeline.as_of:
        if rng.random() < 0.85:
            received = day + dt.timedelta(days=rng.randint(10, 30))
            timeline.add(received, timeline.hca(), [_incoming_letter(
                timeline, received, people.EYE_SCREENING, "Eye Screening", "Screening result")])
        day += dt.timedelta(days=rng.randint(330, 420))


def _attach(timeline: Timeline, day: dt.date, user: User, file_name: str, comments: str,
            size: tuple[int, int] = (40_000, 600_000)) -> None:
    rng = timeline.rng
    timeline.add(day, user, [AttachmentItem(file_name, rng.randint(*size),
                                            timeline.uid(DOCUMENT_UID), comments)])


def _attachments(timeline: Timeline, existing: list[EventSpec]) -> None:
    """Scanned and clinical documents that are not letters."""
    rng, profile = timeline.rng, timeline.profile
    af = profile.conditions.get("atrial_fibrillation")
    if af is not None and rng.random() < 0.6:
        _attach(timeline, af, timeline.gp(), "ECG.pdf",
                f"12-lead ECG: atrial fibrillation, ventricular rate {rng.randint(88, 130)}.")
    copd = profile.conditions.get("copd")
    if copd is not None and rng.random() < 0.6:
        _attach(timeline, copd, timeline.nurse(), "Spirometry report.pdf",
                f"Post-bronchodilator FEV1/FVC {rng.randint(52, 68) / 100:.2f}.")
    registered = timeline.person.care_start
    if (registered >= profile.history_start and timeline.age(registered) >= 16
            and rng.random() < 0.25):
        _attach(timeline, registered + dt.timedelta(days=rng.randint(14, 60)),
                rng.choice(timeline.staff.admins or timeline.staff.gps),
                "Previous GP record summary.pdf", "Scanned summary from previous practice.",
                (300_000, 2_500_000))
    for event in existing:
        text = " ".join(line for item in event.items if isinstance(item, NarrativeItem)
                        for line in item.lines)
        if "Fit note issued" in text and rng.random() < 0.15:
            _attach(timeline, event.when.date(), event.user, "Fit note.pdf",
                    "Copy of fit note issued.", (20_000, 90_000))
        elif "Rash on forearm" in text and rng.random() < 0.1:
            _attach(timeline, event.when.date(), event.user, "Rash photo.jpg",
                    "Photo of rash, taken with pt's consent.", (800_000, 2_500_000))


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
        reminders.append(ReminderItem("Housebound - home visits only.", "Medium"))
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
            ActivityItem("Discussed care arrangements with family", "Daughter", "Telephone",
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


# --- Clinical and NonClinical XML ----------------------------------------------------------

def clinical_element(events: list[EventSpec], person: Person) -> etree._Element:
    clinical = etree.Element("Clinical")
    for number, event in enumerate(events, start=1):
        element = etree.SubElement(clinical, "Event", {
            "DateTime": event.when.isoformat(timespec="seconds"),
            "UserName": event.user.user_name,
            "DoneBy": event.user.done_by,
            "DoneAt": event.done_at,
        })
        if event.linked_referral is not None:
            element.set("LinkedReferralUID", event.linked_referral)
        element.set("EventUID", _uid(person.sri, number, EVENT_UID))
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


def _texts(parent: etree._Element, pairs) -> None:
    for tag, text in pairs:
        _child(parent, tag, text)


def _write_name(parent: etree._Element, tag: str, name: tuple[str, str, str]) -> None:
    _texts(_child(parent, tag), zip(("Title", "FirstName", "Surname"), name, strict=True))


def _write_sensitivity(event: etree._Element, item: SensitivityItem) -> None:
    sensitivity = etree.SubElement(event, "DrugSensitivity")
    _child(sensitivity, "Type", "Drug" if item.drug else "Ingredient")
    if item.drug is not None:
        _write_drug(sensitivity, item.drug)
    for ingredient in item.ingredients:  # for a drug: its ingredients, Details its name
        etree.SubElement(sensitivity, "Ingredient", {
            "Scheme": "Multilex", "IngredientID": ingredient.multilex, "Name": ingredient.name,
            "Details": item.drug.name if item.drug else ingredient.details})
    _child(sensitivity, "FreeText", item.reaction)
    if item.end is not None:
        _child(sensitivity, "EndDate", item.end.isoformat())
    elif item.ended_unknown:
        _child(sensitivity, "EndedWithUnknownDate")


def _write_vaccination(event: etree._Element, item: VaccinationItem) -> None:
    _texts(etree.SubElement(event, "Vaccination"), (
        ("Name", item.name), ("Contents", item.contents), ("BatchNumber", item.batch),
        ("Notes", item.notes), ("PartType", item.part), ("Dosage", item.dosage)))


def _write_report(event: etree._Element, item: ReportItem) -> None:
    report = etree.SubElement(event, "Report")
    _texts(report, (("BatteryHeaders", item.batteries), ("IssueDate", item.issued.isoformat()),
                    ("Result", item.result)))
    if item.actions:
        actions = _child(report, "FollowUpActions")
        for action in item.actions:
            _child(_child(actions, "FollowUpAction"), "Action", action)
    _texts(report, (("Comments", item.comments), ("CollectionDate", item.collected.isoformat()),
                    ("Type", item.kind)))


def _write_letter(event: etree._Element, item: LetterItem) -> None:
    letter = etree.SubElement(event, "Letter")
    _write_name(letter, "RecipientName", item.recipient)
    _child(letter, "RecipientOrganisation", item.recipient_organisation)
    _write_name(letter, "SenderName", item.sender)
    _child(letter, "SenderOrganisation", item.sender_organisation)
    _texts(_child(letter, "SenderAddress"), item.sender_address)
    _texts(letter, (("DocumentUID", item.document_uid), ("Type", item.kind),
                    ("Direction", item.direction),
                    ("DateSentReceived", item.sent.isoformat(timespec="seconds"))))


def _write_attachment(event: etree._Element, item: AttachmentItem) -> None:
    _texts(etree.SubElement(event, "Attachment"), (
        ("FileName", item.file_name), ("FileSize", f"{item.size} bytes"),
        ("DocumentUID", item.document_uid), ("Comments", item.comments)))


def _write_recall(event: etree._Element, item: RecallItem) -> None:
    _texts(etree.SubElement(event, "Recall"), (
        ("RecallDate", item.due.isoformat()), ("Type", item.kind), ("Comments", item.comments),
        ("Status", item.status)))


def _write_reminder(event: etree._Element, item: ReminderItem) -> None:
    _texts(etree.SubElement(event, "Reminder"),
           (("FreeText", item.text), ("Severity", item.severity)))


def _write_referral(event: etree._Element, item: ReferralItem) -> None:
    referral = etree.SubElement(event, "Referral")
    _texts(referral, (("ReferralUID", item.uid), ("Direction", item.direction),
                      ("Service", item.service), ("ReferredTo", item.organisation),
                      ("Reason", item.reason), ("Urgency", item.urgency),
                      ("Status", item.status)))
    if item.end is not None:
        _child(referral, "EndDate", item.end.isoformat())


def _write_relationship(event: etree._Element, item: RelationshipItem) -> None:
    relationship = etree.SubElement(event, "Relationship")
    _texts(relationship, (("Title", item.title), ("FirstName", item.first_name),
                          ("Surname", item.surname)))
    _texts(_child(relationship, "Address"), item.address)
    _texts(relationship, (("Telephone", item.telephone), ("WorkContact", ""),
                          ("EndDate", "9999-12-31"),  # TPP's "not ended", as in its template
                          ("DateOfBirth", item.date_of_birth.isoformat()), ("Type", item.kind)))


def _write_instructions(parent: etree._Element, tag: str, instructions) -> None:
    holder = _child(parent, tag)
    for order, (text, responsibility) in enumerate(instructions, start=1):
        instruction = _child(holder, "Instruction")
        _texts(instruction, (("InstructionText", text), ("Order", str(order))))
        if responsibility:
            _child(instruction, "Responsibility", responsibility)


def _write_care_plan(event: etree._Element, item: CarePlanItem) -> None:
    plan = etree.SubElement(event, "CarePlan")
    _texts(plan, (("CarePlanName", item.name), ("Description", item.description),
                  ("Category", item.category), ("SubCategory", item.subcategory),
                  ("Aim", item.aim), ("ReviewDate", item.review.isoformat())))
    _write_instructions(plan, "Instructions", item.instructions)


def _write_patient_plan(event: etree._Element, item: PatientPlanItem) -> None:
    plan = etree.SubElement(event, "PatientPlan")
    _child(plan, "Name", item.name)
    _write_instructions(plan, "Items", ((text, "") for text in item.instructions))


def _write_activity(event: etree._Element, item: ActivityItem) -> None:
    _texts(etree.SubElement(event, "Activity"), (
        ("Performed", item.performed), ("With", item.with_whom), ("Method", item.method),
        ("Duration", str(item.minutes))))


_ITEM_WRITERS: dict[type, Callable[[etree._Element, object], None]] = {
    CodeItem: _write_code, MedicationItem: _write_medication, RepeatItem: _write_repeat,
    NarrativeItem: _write_narrative, SensitivityItem: _write_sensitivity,
    VaccinationItem: _write_vaccination, ReportItem: _write_report, LetterItem: _write_letter,
    AttachmentItem: _write_attachment, RecallItem: _write_recall, ReminderItem: _write_reminder,
    ReferralItem: _write_referral, RelationshipItem: _write_relationship,
    CarePlanItem: _write_care_plan, PatientPlanItem: _write_patient_plan,
    ActivityItem: _write_activity,
}


def non_clinical_element(person: Person, rng: random.Random, staff: Staff,
                         as_of: dt.date, pending: Pending | None = None) -> etree._Element:
    """Appointments booked in the coming six weeks, then pending visits and open tasks."""
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
    pending = pending or Pending()
    for number, visit in enumerate(pending.visits, start=1):
        user = visit.user
        _texts(etree.SubElement(non_clinical, "Visit"), (
            ("DateTime", visit.when.isoformat(timespec="seconds")),
            ("Duration", f"{visit.minutes}.0"),
            ("Clinician", f"{user.surname.upper()}, {user.first_name}"),
            ("UserName", user.user_name), ("VisitUID", _uid(person.sri, number, VISIT_UID)),
            ("Status", "Booked"), ("Comments", visit.comments)))
    for number, task in enumerate(pending.tasks, start=1):
        _texts(etree.SubElement(non_clinical, "Task"), (
            ("TaskUID", _uid(person.sri, number, TASK_UID)),
            ("DateTime", task.when.isoformat(timespec="seconds")), ("TaskType", task.kind),
            ("Status", task.status), ("Content", task.content)))
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
