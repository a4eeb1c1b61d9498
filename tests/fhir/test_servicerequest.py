"""ServiceRequest through the API: referrals and recalls of a generated patient, searched by
what FHIR R4 defines, sorted, paged, read and with their Patient included. The expected counts
are read from the patient's record XML here, not from the mapping."""

from __future__ import annotations

from tests.bundles import matches

from .test_api import every_page, ids, instant, search

REFERRAL = "http://snomed.info/sct|3457005"


def referrer(practice):
    """A patient with referrals and recalls, and the record SystmOne holds for them."""
    for summary in practice.index.summaries:
        record = practice.record(summary)
        if summary.identity.kind == "NHSNumber" and \
                record.find("Clinical/Event/Referral") is not None and \
                len(record.findall("Clinical/Event/Recall")) > 1:
            return summary, record
    raise AssertionError("no patient with referrals and recalls in the practice")


def test_referrals_and_recalls_are_searched_sorted_read_and_include_their_patient(
        client, practice):
    summary, record = referrer(practice)
    referrals = {r.findtext("ReferralUID") for r in record.iterfind("Clinical/Event/Referral")}
    recalls = record.findall("Clinical/Event/Recall")
    pending = [r for r in recalls if r.findtext("Status") == "Pending"]
    pid = search(client, f"/fhir/Patient?identifier={summary.identity.value}"
                 )["entry"][0]["resource"]["id"]

    everything = every_page(client, f"/fhir/ServiceRequest?patient=Patient/{pid}")
    assert len(ids(everything)) == len(referrals) + len(recalls)
    moments = [instant(r["authoredOn"]) for r in matches(everything)]
    assert moments == sorted(moments, reverse=True)  # newest first

    orders = every_page(client, f"/fhir/ServiceRequest?patient={pid}&intent=order")
    assert len(ids(orders)) == len(referrals)
    by_category = every_page(client, f"/fhir/ServiceRequest?patient={pid}&category={REFERRAL}")
    assert ids(by_category) == ids(orders)
    plans = every_page(client, f"/fhir/ServiceRequest?patient={pid}&intent=plan")
    assert len(ids(plans)) == len(recalls)
    active_plans = every_page(client,
                              f"/fhir/ServiceRequest?patient={pid}&intent=plan&status=active")
    assert len(ids(active_plans)) == len(pending)

    first = min(moments)
    since = every_page(client, f"/fhir/ServiceRequest?patient={pid}"
                               f"&authored=gt{first.date().isoformat()}")
    assert len(ids(since)) < len(ids(everything))

    with_patient = search(client, f"/fhir/ServiceRequest?patient={pid}&intent=order"
                                  "&_include=ServiceRequest:patient")
    included = [e["resource"] for e in with_patient["entry"]
                if e["search"]["mode"] == "include"]
    assert [(r["resourceType"], r["id"]) for r in included] == [("Patient", pid)]

    # Who recorded each referral: the Practitioner of the Event's user, included once.
    with_people = search(client, f"/fhir/ServiceRequest?patient={pid}&intent=order"
                                 "&_include=ServiceRequest:requester")
    people = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
              for e in with_people["entry"] if e["search"]["mode"] == "include"}
    assert people == {r["requester"]["reference"] for r in matches(with_people)}
    assert all(p.startswith("Practitioner/") for p in people)

    for resource in matches(everything)[:3]:
        assert search(client, f"/fhir/ServiceRequest/{resource['id']}") == resource


def test_the_capability_statement_declares_service_request(client):
    statement = search(client, "/fhir/metadata")
    [declared] = [r for r in statement["rest"][0]["resource"] if r["type"] == "ServiceRequest"]
    assert declared["profile"] == \
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"
    names = {p["name"] for p in declared["searchParam"]}
    assert {"patient", "status", "intent", "code", "authored", "category"} <= names
    assert "ServiceRequest:patient" in declared["searchInclude"]
