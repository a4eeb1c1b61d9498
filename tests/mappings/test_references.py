"""The practice and the usual GP as Patient.generalPractitioner names them, from
GetOrganisationMetaData's Site and User (TPP spec v33.4). Identifier systems are UK Core's
(ODS organisation code; GMC and NMC numbers), written here by hand."""

from __future__ import annotations

import pytest
from lxml import etree

from facade.mapping.registry import DEFAULT

SITE = "<Site><ID>B86012</ID><Name>Idle Medical Centre</Name></Site>"


def user(kind: str) -> str:
    return (f"<User><Title>Dr</Title><FirstName>James</FirstName><Surname>Harrison</Surname>"
            f"<NationalIDType>{kind}</NationalIDType><NationalID>4411223</NationalID></User>")


def test_the_practice_is_named_by_its_ods_code():
    assert DEFAULT.reference("PRACTICE", etree.fromstring(SITE)) == {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                       "value": "B86012"},
        "display": "Idle Medical Centre"}


@pytest.mark.parametrize(("kind", "system"), [
    ("GMC", "https://fhir.hl7.org.uk/Id/gmc-number"),
    ("NMC", "https://fhir.hl7.org.uk/Id/nmc-number")])
def test_a_clinician_is_named_by_their_register_number(kind, system):
    assert DEFAULT.reference("CLINICIAN", etree.fromstring(user(kind))) == {
        "identifier": {"system": system, "value": "4411223"}, "display": "Dr James Harrison"}


def test_a_clinician_on_no_known_register_has_a_display_only():
    assert DEFAULT.reference("CLINICIAN", etree.fromstring(user("Other"))) == {
        "display": "Dr James Harrison"}


def test_with_the_practices_resources_known_each_is_a_literal_reference_too():
    """The record service hands in the Organization and Practitioner made from the same
    metadata (ODS code or user name → reference): identifier and display stay beside it."""
    site = etree.fromstring(SITE)
    assert DEFAULT.reference("PRACTICE", site, organizations={"B86012": "Organization/o1"}) == {
        "reference": "Organization/o1",
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                       "value": "B86012"},
        "display": "Idle Medical Centre"}
    clinician = etree.fromstring(user("GMC").replace("</User>",
                                                     "<UserName>jharrison</UserName></User>"))
    assert DEFAULT.reference("CLINICIAN", clinician,
                             practitioners={"jharrison": "Practitioner/p1"})["reference"] \
        == "Practitioner/p1"
