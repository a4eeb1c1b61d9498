"""Patient searches by demographics (facade/fhir/patients.py): which PatientSearch calls a
query makes, and what is filtered after. ``name`` beside one other criterion searches
twice (as surname, then first name); ``:exact`` is sent as a beginning and matched whole;
``:contains`` is never sent. Unit tests of the plan, then the real simulator over HTTP,
counting the PatientSearch calls it received."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from facade.fhir.outcome import FhirError
from facade.fhir.patients import plan
from facade.ids import IdCodec
from facade.protocol.functions import PatientSearchCriteria as Criteria
from mappings.patient import DECLARATION
from tests.bundles import matches

from .test_api import search

CODEC = IdCodec(bytes(range(64)))


def planned(**params: str | list[str]):
    return plan(DECLARATION, {name.replace("_", "-").replace("--", ":"):
                              value if isinstance(value, list) else [value]
                              for name, value in params.items()}, CODEC)


def refused(**params) -> str:
    with pytest.raises(FhirError) as raised:
        planned(**params)
    assert raised.value.status == 400
    return raised.value.diagnostics


def test_name_beside_one_criterion_is_searched_as_surname_then_first_name():
    assert planned(name="Smi", gender="male").criteria == [
        Criteria(surname="Smi", gender="M"), Criteria(first_name="Smi", gender="M")]
    born = dt.date(1970, 1, 2)
    assert planned(name="Jo", birthdate="1970-01-02").criteria == [
        Criteria(surname="Jo", date_of_birth=born), Criteria(first_name="Jo", date_of_birth=born)]
    assert planned(name=" Jo ", address_postalcode="ls18").criteria == [
        Criteria(surname="Jo", postcode="LS18"), Criteria(first_name="Jo", postcode="LS18")]
    assert planned(name="Jo", phone="0113").criteria == [
        Criteria(surname="Jo", telephone="0113"), Criteria(first_name="Jo", telephone="0113")]


def test_name_beside_two_criteria_only_narrows_one_search():
    query = planned(name="Smi", gender="female", birthdate="1970-01-02")
    assert query.criteria == [Criteria(gender="F", date_of_birth=dt.date(1970, 1, 2))]
    born = {"birthDate": "1970-01-02"}
    assert query.keeps({"name": [{"family": "Jones", "given": ["Smita"]}], **born})
    assert not query.keeps({"name": [{"family": "Jones", "given": ["Anne"]}], **born})


@pytest.mark.parametrize("params", [
    {"name": "Smi"},  # one criterion per search
    {"name": "Smi", "family": "Jones"},  # a name beside a name: as surname it is no search
    {"name": "Smi", "given": "Anne"},
    {"name": "Smi,Jo", "gender": "male"},  # alternatives: no one value to send
    {"name": "Smi", "birthdate": "ge1970"},  # a range is no criterion
])
def test_name_cannot_stand_in_without_exactly_one_other_criterion(params):
    assert "at least two" in refused(**params)


def test_name_alternatives_narrow_and_a_second_family_is_a_filter():
    query = planned(name="Smi,Jon", family=["Wal", "Walker"], gender="male")
    assert query.criteria == [Criteria(surname="Wal", gender="M")]
    assert query.keeps({"name": [{"family": "Walker", "given": ["Jon"]}]})
    assert not query.keeps({"name": [{"family": "Walsh", "given": ["Jon"]}]})  # not Walker
    assert not query.keeps({"name": [{"family": "Walker", "given": ["Ann"]}]})


def test_exact_is_sent_as_a_beginning_and_contains_never():
    assert planned(family__exact="Smith", gender="male").criteria == [
        Criteria(surname="Smith", gender="M")]
    assert planned(name__exact="Smith", gender="male").criteria == [
        Criteria(surname="Smith", gender="M"), Criteria(first_name="Smith", gender="M")]
    said = refused(family__contains="mit", gender="male")
    assert "family:contains cannot be sent" in said and "at least two" in said
    assert planned(given__contains="an", gender="male", birthdate="1970-01-02").criteria == [
        Criteria(gender="M", date_of_birth=dt.date(1970, 1, 2))]


# --- over HTTP, against the simulator ----------------------------------------------------

def sent(live, expected: int) -> list[dict[str, str]]:
    """The criteria of every PatientSearch the simulator received, oldest first: once the
    ``expected`` number are in its audit (written just after each reply), and a moment
    more to show no other follows."""
    live.messages(expected, function="PatientSearch")
    return [{child.tag: child.text for child in etree.fromstring(entry.request_xml)
             .find("FunctionParameters")}
            for entry in live.messages(expected + 1, 0.3, function="PatientSearch")]


def found(bundle: dict) -> list[tuple[str, str]]:
    return [(r["name"][0]["family"], r["name"][0]["given"][0]) for r in matches(bundle)]


def starting(text: str, prefix: str) -> bool:
    return text.casefold().startswith(prefix.casefold())


def test_name_and_gender_search_twice_and_keep_either(watched, practice):
    client, live = watched
    # A letter that begins some patients' surnames and other patients' first names.
    sex, letter = next((sex, letter) for sex in "MF" for letter in "ABCDEFGHIJKLMNOPRSTW"
                       if any(p.sex == sex and starting(p.surname, letter)
                              for p in practice.index.summaries)
                       and any(p.sex == sex and starting(p.first_name, letter)
                               and not starting(p.surname, letter)
                               for p in practice.index.summaries))
    gender = {"M": "male", "F": "female"}[sex]
    bundle = search(client, f"/fhir/Patient?name={letter.lower()}&gender={gender}")
    assert sent(live, 2) == [{"Surname": letter.lower(), "Gender": sex},
                          {"FirstName": letter.lower(), "Gender": sex}]
    surnames = [(p.surname, p.first_name) for p in practice.index.summaries
                if p.sex == sex and starting(p.surname, letter)]
    first_names = [(p.surname, p.first_name) for p in practice.index.summaries
                   if p.sex == sex and starting(p.first_name, letter)
                   and (p.surname, p.first_name) not in surnames]
    assert found(bundle) == surnames + first_names  # each once, surnames' matches first
    assert bundle["total"] == len(surnames + first_names)


def test_name_beside_two_criteria_is_one_search(watched, practice):
    client, live = watched
    patient = next(p for p in practice.index.summaries if p.sex in "MF")
    gender = {"M": "male", "F": "female"}[patient.sex]
    bundle = search(client, f"/fhir/Patient?name={patient.first_name}&gender={gender}"
                            f"&birthdate={patient.date_of_birth}")
    assert len(sent(live, 1)) == 1
    assert (patient.surname, patient.first_name) in found(bundle)


def test_name_beside_a_family_is_refused_before_systmone(watched):
    client, live = watched
    response = client.get("/fhir/Patient?name=Jo&family=Smith")
    assert response.status_code == 400
    assert "at least two" in response.json["issue"][0]["diagnostics"]
    assert sent(live, 0) == []


def test_family_exact_is_case_sensitive(watched, practice):
    client, live = watched
    patient = next(p for p in practice.index.summaries if p.sex in "MF")
    gender = {"M": "male", "F": "female"}[patient.sex]
    exact = search(client, f"/fhir/Patient?family:exact={patient.surname}&gender={gender}")
    assert sent(live, 1) == [{"Surname": patient.surname, "Gender": patient.sex}]
    assert {family for family, _ in found(exact)} == {patient.surname}
    assert sorted(found(exact)) == sorted(
        (p.surname, p.first_name) for p in practice.index.summaries
        if p.surname == patient.surname and p.sex == patient.sex)
    shouted = search(client, f"/fhir/Patient?family:exact={patient.surname.upper()}"
                             f"&gender={gender}")
    assert shouted["total"] == 0  # SystmOne's beginning matches; FHIR's :exact does not
    assert search(client, f"/fhir/Patient?family={patient.surname.upper()}"
                          f"&gender={gender}")["total"] == exact["total"]


def test_given_contains_narrows_and_alone_with_one_criterion_is_refused(watched, practice):
    client, live = watched
    patient = next(p for p in practice.index.summaries if len(p.first_name) >= 4)
    gender = {"M": "male", "F": "female"}[patient.sex]
    middle = patient.first_name[1:3]
    response = client.get(f"/fhir/Patient?given:contains={middle}&gender={gender}")
    assert response.status_code == 400
    assert "given:contains cannot be sent" in response.json["issue"][0]["diagnostics"]
    assert sent(live, 0) == []
    bundle = search(client, f"/fhir/Patient?given:contains={middle.upper()}&gender={gender}"
                            f"&birthdate={patient.date_of_birth}")
    assert sent(live, 1) == [{"DateOfBirth": patient.date_of_birth.isoformat(),
                           "Gender": patient.sex}]
    assert found(bundle) == [(p.surname, p.first_name) for p in practice.index.summaries
                             if p.sex == patient.sex and p.date_of_birth
                             == patient.date_of_birth
                             and middle.casefold() in p.first_name.casefold()]
