"""Tasks, appointments, related people and care plans through the API, from a live simulator:
searched by patient and their parameters, read by id, and never without a patient."""

from __future__ import annotations

from tests.bundles import matches

from .test_api import search

KINDS = {"Task": "NonClinical/Task", "Appointment": "NonClinical/Appointment",
         "RelatedPerson": "Clinical/Event/Relationship", "CarePlan": "Clinical/Event/CarePlan"}


def patient_holding(client, practice, path: str) -> str:
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                   and practice.record(p).find(path) is not None)
    return search(client, f"/fhir/Patient?identifier={summary.identity.value}"
                  )["entry"][0]["resource"]["id"]


def test_each_is_searched_by_patient_and_read_by_id(client, practice):
    for resource_type, path in KINDS.items():
        pid = patient_holding(client, practice, path)
        found = matches(search(client, f"/fhir/{resource_type}?patient={pid}"))
        assert found, resource_type
        for resource in found:
            assert resource["resourceType"] == resource_type
        first = found[0]
        assert search(client, f"/fhir/{resource_type}/{first['id']}")["id"] == first["id"]
        # No patient named: a record type is never searched across the practice.
        assert client.get(f"/fhir/{resource_type}").status_code == 400


def test_appointments_by_date_and_status(client, practice):
    pid = patient_holding(client, practice, KINDS["Appointment"])
    booked = matches(search(client, f"/fhir/Appointment?patient={pid}&status=booked"))
    assert booked and all(a["status"] == "booked" for a in booked)
    start = booked[0]["start"][:10]
    on_day = matches(search(client, f"/fhir/Appointment?patient={pid}&date={start}"))
    assert booked[0]["id"] in [a["id"] for a in on_day]
    assert not matches(search(client, f"/fhir/Appointment?patient={pid}&date=lt1900-01-01"))


def test_related_people_by_relationship(client, practice):
    pid = patient_holding(client, practice, KINDS["RelatedPerson"])
    people = matches(search(client, f"/fhir/RelatedPerson?patient={pid}"))
    coding = people[0]["relationship"][0]["coding"][0]
    found = matches(search(client, f"/fhir/RelatedPerson?patient={pid}"
                                   f"&relationship={coding['system']}|{coding['code']}"))
    assert people[0]["id"] in [p["id"] for p in found]
