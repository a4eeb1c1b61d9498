"""The person: identity and demographics, and the XML that carries them.

Demographics are cheap to build (the patient index reads every patient's at
start-up), so they come from their own random stream, separate from the
record's; this module draws a person's sex, age, names, ethnicity, language,
address and contact details, and writes the Identity and Demographics elements.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

from lxml import etree

from .. import people
from ..concepts import BY_KEY, Concept
from ..organisation import ADDRESS_FIELDS, User
from .identifiers import nhs_number, pseudo_number, strategic_reporting_id


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
