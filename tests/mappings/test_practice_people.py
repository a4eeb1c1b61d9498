"""Practitioner, PractitionerRole, Organization and Location from GetOrganisationMetaData
(TPP spec v33.4: Site and User), and the recorder every clinical resource names. Expected
systems and values are written here by hand from UK Core and the spec."""

from __future__ import annotations

import pytest
from lxml import etree

from facade.mapping.registry import DEFAULT

GMC = "https://fhir.hl7.org.uk/Id/gmc-number"


def user(user_name="dlittler2405", kind="GMC", number="2672881", gender="M") -> str:
    return (f"<User><Title>Dr</Title><FirstName>Drew</FirstName><MiddleNames/>"
            f"<Surname>Littler</Surname><UserName>{user_name}</UserName>"
            f"<Gender>{gender}</Gender><Role>General Medical Practitioner</Role>"
            f"<RoleCode>S0010:G0020:R0260</RoleCode><NationalID>{number}</NationalID>"
            f"<NationalIDType>{kind}</NationalIDType><CurrentUser/></User>")


def site(code: str, name: str, *marks: str) -> str:
    return (f"<Site><Name>{name}</Name><ID>{code}</ID><Telephone>01132050080</Telephone>"
            f"<Address><HouseName>The Health Centre</HouseName><HouseNumber/>"
            f"<Road>Troy Road</Road><Locality>Horsforth</Locality><Town>Leeds</Town>"
            f"<County>West Yorkshire</County><Postcode>LS18 5TN</Postcode></Address>"
            + "".join(f"<{mark}/>" for mark in marks) + "</Site>")


def mapped(resource_type: str, *elements: str) -> list[dict]:
    response = etree.fromstring(f"<Response>{''.join(elements)}</Response>")
    return DEFAULT.map_resources(resource_type.lower(), response,
                                 last_updated="2026-01-15T09:30:00Z")


@pytest.mark.parametrize(("kind", "system"), [
    ("GMC", GMC),
    ("NMC", "https://fhir.hl7.org.uk/Id/nmc-number"),
    ("RPSGB", "https://fhir.hl7.org.uk/Id/gphc-number"),
    ("HPC", "https://fhir.hl7.org.uk/Id/hcpc-number")])
def test_a_user_is_a_practitioner_named_by_their_register_number(kind, system):
    [practitioner] = mapped("Practitioner", user(kind=kind))
    assert practitioner["identifier"] == [{"system": system, "value": "2672881"}]
    assert practitioner["name"] == [{"use": "official", "family": "Littler",
                                     "given": ["Drew"], "prefix": ["Dr"]}]
    assert practitioner["gender"] == "male"
    assert practitioner["id"] == "dlittler2405"  # the key: the service makes it opaque


def test_a_register_nobody_publishes_a_namespace_for_is_left_out():
    [practitioner] = mapped("Practitioner", user(kind="Other"), )
    assert "identifier" not in practitioner
    [unregistered] = mapped("Practitioner", user(kind="", number="", gender=""))
    assert "identifier" not in unregistered and "gender" not in unregistered


def test_the_practice_is_the_primary_site_even_where_the_client_sits_elsewhere():
    sites = (site("Y03012", "Branch", "CurrentSite"), site("B11111", "The Real Surgery",
                                                            "PrimarySite"))
    [organization] = mapped("Organization", *sites)
    assert organization["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B11111"}]
    assert organization["name"] == "The Real Surgery"
    assert organization["address"][0]["use"] == "work"
    assert organization["telecom"] == [{"system": "phone", "value": "01132050080",
                                        "use": "work"}]
    locations = mapped("Location", *sites)
    assert [(loc["identifier"][0]["system"], loc["identifier"][0]["value"])
            for loc in locations] == [("https://fhir.nhs.uk/Id/ods-site-code", "Y03012"),
                                      ("https://fhir.nhs.uk/Id/ods-site-code", "B11111")]
    assert {loc["managingOrganization"]["reference"] for loc in locations} == {
        "Organization/B11111"}


def test_the_spec_example_with_only_a_current_site_names_that_site():
    [organization] = mapped("Organization", site("B11111", "The Real Surgery", "CurrentSite"))
    assert organization["identifier"][0]["value"] == "B11111"


def test_a_role_is_the_smartcard_job_role_at_the_practice():
    [role] = mapped("PractitionerRole", site("B11111", "The Real Surgery", "CurrentSite"),
                    user())
    assert role["practitioner"] == {"reference": "Practitioner/dlittler2405"}
    assert role["organization"] == {"reference": "Organization/B11111"}
    assert role["code"] == [{"coding": [{
        "system": "https://fhir.nhs.uk/CodeSystem/England-SDS-JobRoleCode",
        "code": "S0010:G0020:R0260", "display": "General Medical Practitioner"}],
        "text": "General Medical Practitioner"}]


RECORD = ('<Response><Clinical><Event DateTime="2014-03-26T09:06:50" UserName="{user}" '
          'DoneBy="LITTLER, Drew (General Medical Practitioner) " EventUID="b95ee04200000000">'
          '<ClinicalCode><Code Scheme="CTV3" Code="XaJkn" Term="Seen in clinic"/>'
          '</ClinicalCode></Event></Clinical></Response>')


def observation(user_name: str, practitioners: dict | None) -> dict:
    record = etree.fromstring(RECORD.format(user=user_name))
    variables = {"practitioners": practitioners} if practitioners is not None else {}
    [found] = DEFAULT.map_resources("observation", record,
                                    patient={"reference": "Patient/p"}, **variables)
    return found


def test_the_recorder_is_the_practitioner_of_the_events_user_with_doneby_kept():
    known = {"dlittler2405": "Practitioner/abc"}
    assert observation("dlittler2405", known)["performer"] == [
        {"reference": "Practitioner/abc",
         "display": "LITTLER, Drew (General Medical Practitioner)"}]


@pytest.mark.parametrize("practitioners", [{"someone": "Practitioner/x"}, {}, None])
def test_a_user_the_practice_does_not_list_keeps_a_display_only(practitioners):
    assert observation("lsharples1004", practitioners)["performer"] == [
        {"display": "LITTLER, Drew (General Medical Practitioner)"}]
