"""Chained patient parameters (facade/fhir/chains.py): ``patient.identifier=[NHS number]``
and ``subject:Patient.identifier=`` on every type with a patient parameter, answered as the
plain ``patient=Patient/[id]`` search is, without asking SystmOne for the id."""

from __future__ import annotations

import pytest

from facade.fhir.chains import resolved
from facade.fhir.outcome import FhirError
from facade.fhir.registry import RESOURCES
from facade.ids import IdCodec
from facade.mapping.declaration import Declaration, SearchParam, patient_param
from facade.protocol.identity import Identity
from tests.bundles import matches

from ..tokens import authorized_client
from .conftest import patient_with_numerics
from .test_api import search

NHS = "https://fhir.nhs.uk/Id/nhs-number"
NUMBER = "9990000018"  # valid: 9*10 + 9*9 + 9*8 + 1*2 = 245, 11 - 245 % 11 = 8
CODEC = IdCodec(bytes(range(64)))
TOY = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(patient_param(), patient_param("subject"),
                   SearchParam("code", "token", ("code",), "a code")),
    patient_params=("patient", "subject"))


def the_patient() -> str:
    """The reference the chain stands for: the Patient id ids.py gives the NHS number (an
    id cannot be worked out by hand: it is encrypted)."""
    return f"Patient/{CODEC.patient_id(Identity.nhs_number(NUMBER))}"


@pytest.mark.parametrize("name", ["patient.identifier", "patient:Patient.identifier"])
def test_a_chain_becomes_its_patient_parameter(name):
    assert resolved(TOY, {name: [f"{NHS}|{NUMBER}"], "code": ["x"]}, CODEC) == \
        {"patient": [the_patient()], "code": ["x"]}


def test_the_bare_number_and_every_patient_parameter():
    assert resolved(TOY, {"subject.identifier": [NUMBER]}, CODEC) == \
        {"subject": [the_patient()]}


def test_beside_the_plain_parameter_both_are_kept():
    assert resolved(TOY, {"patient": ["Patient/abc"], "patient.identifier": [NUMBER]},
                    CODEC) == {"patient": ["Patient/abc", the_patient()]}


def test_no_chain_leaves_the_parameters_as_they_are():
    params = {"patient": ["abc"], "code.text": ["x"], "subject:Patient": ["abc"]}
    assert resolved(TOY, params, CODEC) is params


def test_an_empty_value_stays_empty_for_the_search_to_ignore():
    assert resolved(TOY, {"patient.identifier": [""]}, CODEC) == {"patient": [""]}


@pytest.mark.parametrize(("name", "says"), [
    ("patient.name", "the only chain on patient is patient.identifier"),
    ("patient.identifier:of-type", "the only chain on patient is patient.identifier"),
    ("subject:Group.identifier", "subject references a Patient"),
])
def test_other_chains_on_a_patient_parameter_are_refused(name, says):
    with pytest.raises(FhirError) as raised:
        resolved(TOY, {name: ["x"]}, CODEC)
    assert raised.value.status == 400
    assert raised.value.diagnostics.startswith(f"{name}: ") and says in raised.value.diagnostics


@pytest.mark.parametrize(("value", "code"), [
    ("9990000019", "INVALID_NHS_NUMBER"),
    (f"{NHS}|12345", "INVALID_NHS_NUMBER"),
    (f"http://fhir.nhs.net/Id/nhs-number|{NUMBER}", "INVALID_IDENTIFIER_SYSTEM"),
])
def test_the_identifier_is_checked_as_patient_search_checks_it(value, code):
    with pytest.raises(FhirError) as raised:
        resolved(TOY, {"subject:Patient.identifier": [value]}, CODEC)
    assert raised.value.details["coding"][0]["code"] == code
    assert raised.value.diagnostics.startswith("subject:Patient.identifier: ")


# --- over HTTP, every type with a patient parameter -----------------------------------

def entry_ids(client, url: str) -> list[str]:
    bundle = search(client, f"{url}&_count=500")
    return [resource["id"] for resource in matches(bundle)]


def test_every_type_answers_the_chains_as_the_plain_search(client, practice):
    patient = patient_with_numerics(practice)
    number = patient.identity.value
    patient_id = matches(search(client, f"/fhir/Patient?identifier={number}"))[0]["id"]
    checked = 0
    for declaration in RESOURCES.values():
        if not declaration.searchable:
            continue
        for param in declaration.patient_params:
            url = f"/fhir/{declaration.type}?"
            plain = entry_ids(client, f"{url}{param}=Patient/{patient_id}")
            for chained in (f"{param}.identifier={NHS}|{number}",
                            f"{param}:Patient.identifier={NHS}|{number}",
                            f"{param}.identifier={number}",
                            f"{param}:Patient={patient_id}"):
                assert entry_ids(client, url + chained) == plain, (declaration.type, chained)
            checked += 1
    assert checked >= 20  # every record type, most by patient and subject
    assert entry_ids(client, f"/fhir/Observation?patient.identifier={NHS}|{number}")


def test_a_chain_keeps_the_callers_confinement(api, practice):
    client = api()
    mine, other = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:2]
    my_id = matches(search(client, f"/fhir/Patient?identifier={mine.identity.value}"))[0]["id"]
    app = client.application
    confined = authorized_client(app, scope="patient/*.rs", client_id="app", patient=my_id)
    own = confined.get(f"/fhir/Condition?patient.identifier={NHS}|{mine.identity.value}")
    assert own.status_code == 200
    refused = confined.get(f"/fhir/Condition?patient.identifier={NHS}|{other.identity.value}")
    assert refused.status_code == 403
