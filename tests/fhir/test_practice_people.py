"""The practice's people and places through the API: Practitioner, PractitionerRole,
Organization and Location from GetOrganisationMetaData, the references every clinical
resource makes to them, and ``_include`` of them — against the simulator's organisation
(the stand-in for SystmOne's answer), with UK Core's systems written here by hand."""

from __future__ import annotations

from facade.app import create_app
from tests.bundles import matches

from ..tokens import authorized_client
from .conftest import patient_with_numerics
from .test_stewardship import exactly

GMC = "https://fhir.hl7.org.uk/Id/gmc-number"
NMC = "https://fhir.hl7.org.uk/Id/nmc-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"


def get(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.json
    return response.json


def patient_id(client, summary) -> str:
    bundle = get(client, f"/fhir/Patient?identifier={summary.identity.value}")
    return bundle["entry"][0]["resource"]["id"]


def test_the_practices_users_are_practitioners_found_by_register_number_and_name(
        client, practice):
    gp = next(user for user in practice.organisation.users if user.national_id_type == "GMC")
    nurse = next(user for user in practice.organisation.users
                 if user.national_id_type == "NMC")
    everyone = matches(get(client, "/fhir/Practitioner?_count=100"))
    assert len(everyone) == len(practice.organisation.users)
    found = matches(get(client, f"/fhir/Practitioner?identifier={GMC}|{gp.national_id}"))
    assert [r["name"][0]["family"] for r in found] == [gp.surname]
    assert found[0]["identifier"] == [{"system": GMC, "value": gp.national_id}]
    assert found[0]["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Practitioner"]
    by_nmc = matches(get(client, f"/fhir/Practitioner?identifier={NMC}|{nurse.national_id}"))
    assert [r["name"][0]["given"][0] for r in by_nmc] == [nurse.first_name]
    # A GMC number is not an NMC number.
    assert get(client, f"/fhir/Practitioner?identifier={NMC}|{gp.national_id}")["total"] == 0
    assert {r["id"] for r in matches(get(client, f"/fhir/Practitioner?family={gp.surname}"))} \
        == {found[0]["id"]}
    assert found[0]["id"] in {r["id"] for r in matches(
        get(client, f"/fhir/Practitioner?name={gp.first_name[:3]}"))}
    # Read by id; the id says nothing of the SystmOne login name.
    assert get(client, f"/fhir/Practitioner/{found[0]['id']}")["id"] == found[0]["id"]
    assert gp.user_name not in found[0]["id"]
    get(client, "/fhir/Practitioner/not-one-of-ours", status=404)


def test_the_practice_is_one_organization_and_each_site_a_location(client, practice):
    primary = next(site for site in practice.organisation.sites if site.primary)
    organizations = matches(get(client, "/fhir/Organization"))
    assert [o["identifier"] for o in organizations] == [[{"system": ODS,
                                                          "value": primary.id}]]
    assert organizations[0]["name"] == primary.name
    assert matches(get(client, f"/fhir/Organization?identifier={primary.id}")) == organizations
    assert get(client, "/fhir/Organization?name=zzqx")["total"] == 0
    locations = matches(get(client, "/fhir/Location"))
    assert sorted(location["identifier"][0]["value"] for location in locations) == sorted(
        site.id for site in practice.organisation.sites)
    assert all(location["identifier"][0]["system"] == ODS_SITE for location in locations)
    assert all(location["managingOrganization"] == {
        "reference": f"Organization/{organizations[0]['id']}"} for location in locations)
    branch = next(site for site in practice.organisation.sites if not site.primary)
    assert [r["name"] for r in matches(get(
        client, f"/fhir/Location?identifier={ODS_SITE}|{branch.id}"))] == [branch.name]
    with_practice = get(client, "/fhir/Location?_include=Location:organization")
    assert [e["resource"]["resourceType"] for e in with_practice["entry"]
            if e["search"]["mode"] == "include"] == ["Organization"]


def test_roles_name_the_person_the_practice_and_the_smartcard_role(client, practice):
    gp = next(user for user in practice.organisation.users if user.national_id_type == "GMC")
    person = matches(get(client, f"/fhir/Practitioner?identifier={gp.national_id}"))[0]
    roles = get(client, f"/fhir/PractitionerRole?practitioner=Practitioner/{person['id']}"
                        "&_include=PractitionerRole:practitioner"
                        "&_include=PractitionerRole:organization")
    role = matches(roles)[0]
    assert role["code"][0]["coding"][0]["code"] == gp.role_code
    assert role["code"][0]["text"] == gp.role
    included = {e["resource"]["resourceType"]: e["resource"] for e in roles["entry"]
                if e["search"]["mode"] == "include"}
    assert included["Practitioner"]["id"] == person["id"]
    assert included["Organization"]["identifier"][0]["system"] == ODS
    by_role = matches(get(client, f"/fhir/PractitionerRole?role={gp.role_code}&_count=100"))
    assert len(by_role) == sum(1 for u in practice.organisation.users
                               if u.role_code == gp.role_code)


def test_clinical_resources_reference_the_practitioner_of_their_event_and_include_them(
        client, practice):
    summary = patient_with_numerics(practice)
    pid = patient_id(client, summary)
    bundle = get(client, f"/fhir/Observation?patient={pid}&_count=500"
                         "&_include=Observation:performer")
    observations = matches(bundle)
    people = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]
              if e["search"]["mode"] == "include"}
    record = practice.record(summary)
    users = {event.get("EventUID"): practice.organisation.user(event.get("UserName"))
             for event in record.iter("Event")}
    assert observations and people
    for observation in observations:
        performer = observation["performer"][0]
        item = next(i["value"] for i in observation["identifier"]
                    if i["system"] == "urn:systmone:id:event-item")
        user = users[item.split("-", 1)[0]]
        assert performer["display"].startswith(user.surname.upper())  # DoneBy kept
        person = people[performer["reference"].removeprefix("Practitioner/")]
        assert person["name"][0]["family"] == user.surname
    # The usual GP and the practice on the Patient are the same resources.
    patient = get(client, f"/fhir/Patient/{pid}")
    kinds = {r["reference"].split("/")[0] for r in patient["generalPractitioner"]}
    assert kinds == {"Practitioner", "Organization"}
    for reference in patient["generalPractitioner"]:
        get(client, f"/fhir/{reference['reference']}")
    assert patient["managingOrganization"]["reference"] == matches(
        get(client, "/fhir/Organization"))[0]["resourceType"] + "/" + matches(
        get(client, "/fhir/Organization"))[0]["id"]
    with_gp = get(client, f"/fhir/Patient?identifier={summary.identity.value}"
                          "&_include=Patient:general-practitioner")
    assert {e["resource"]["resourceType"] for e in with_gp["entry"]
            if e["search"]["mode"] == "include"} == {"Practitioner", "Organization"}


def test_the_people_cost_no_systmone_call_of_their_own(start_simulator, tmp_path):
    """Learned with the organisation (one GetOrganisationMetaData per window, which the
    first request needs anyway): reads and searches of them ask SystmOne nothing more."""
    live = start_simulator()
    host, port = live.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "read_timeout": 5.0})
    try:
        client = authorized_client(app)
        people = matches(get(client, "/fhir/Practitioner"))
        for url in ("/fhir/Organization", "/fhir/Location", "/fhir/PractitionerRole",
                    "/fhir/Practitioner?family=x", f"/fhir/Practitioner/{people[0]['id']}"):
            get(client, url)
        exactly(live, 1, function="GetOrganisationMetaData")
        assert not live.store.messages(function="GetPatientRecord")
    finally:
        app.extensions["facade.records"].close()
