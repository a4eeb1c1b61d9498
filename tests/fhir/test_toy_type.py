"""A toy resource type, added as MAPPINGS.md says (one module: template and declaration),
walked through every layer: the CapabilityStatement, scopes, the planner's Filter, search
parsing by the declared paths, sort, paging, _include, read by id, confinement, the audit
and the fidelity report. No view, service or codec knows it: if one did, this would fail.
"""

from __future__ import annotations

import textwrap

import pytest

from facade.app import create_app

from ..bundles import matches, outcomes
from ..tokens import authorized_client

TOY = '''
from facade.mapping.declaration import Declaration, SearchParam, patient_param
from facade.mapping.vocabulary import Each, Id, Include, Path, Var
from mappings import fragments

RESOURCE = "Basic"
TEMPLATE = [Each("Clinical/Event/Reminder", {
    "resourceType": "Basic",
    "id": Id(fragments.ITEM_KEY),
    "meta": {"lastUpdated": Var("last_updated")},
    "identifier": [Include(fragments.ITEM_IDENTIFIER)],
    "code": {"text": Path("FreeText")},
    "subject": Var("patient"),
    "created": Path("ancestor::Event[1]/@DateTime", via="date"),
})]
DECLARATION = Declaration(
    type="Basic", profile="http://hl7.org/fhir/StructureDefinition/Basic",
    sections=frozenset({"Reminders"}),
    search_params=(patient_param(),
                   SearchParam("created", "date", ("created",), "When the reminder was set.")),
    patient_params=("patient",), sort=("created",), includes=("patient",))
'''


@pytest.fixture
def toy(api, tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "basic.py").write_text(textwrap.dedent(TOY))
    return api(mappings_overlay=overlay)


def patient_with_reminders(practice):
    return next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                and practice.record(p).find("Clinical/Event/Reminder") is not None)


def patient_id(client, practice, summary) -> str:
    found = client.get(f"/fhir/Patient?identifier={summary.identity.value}").json
    return found["entry"][0]["resource"]["id"]


def test_a_declared_type_is_served_by_every_layer(toy, practice):
    statement = toy.get("/fhir/metadata").json["rest"][0]["resource"]
    basic = next(r for r in statement if r["type"] == "Basic")
    assert [p["name"] for p in basic["searchParam"]] == ["patient", "created"]
    assert basic["searchInclude"] == ["Basic:patient"]

    summary = patient_with_reminders(practice)
    patient = patient_id(toy, practice, summary)
    bundle = toy.get(f"/fhir/Basic?patient=Patient/{patient}&_include=Basic:patient").json
    basics = matches(bundle)
    reminders = practice.record(summary).findall("Clinical/Event/Reminder")
    assert len(basics) == len(reminders) == bundle["total"] > 0
    created = [b["created"] for b in basics]
    assert created == sorted(created, reverse=True)  # the declared sort: newest first
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [p["id"] for p in included] == [patient]
    # The declared paths give the search its meaning.
    before = toy.get(f"/fhir/Basic?patient={patient}&created=lt{created[-1]}").json
    assert before["total"] == 0
    # Read by id, through the same record.
    assert toy.get(f"/fhir/Basic/{basics[0]['id']}").json == basics[0]
    # Served items are no longer reported as not served.
    for outcome in outcomes(bundle):
        assert "Reminder" not in outcome["issue"][0]["diagnostics"]


def test_the_planner_asks_for_the_declared_section(toy, practice):
    records = toy.application.extensions["facade.records"]
    assert "Reminders" in records.sections


def test_scopes_and_confinement_apply_to_a_declared_type(toy, practice):
    app = toy.application
    summary = patient_with_reminders(practice)
    patient = patient_id(toy, practice, summary)
    narrow = authorized_client(app, "system/Observation.rs")
    assert narrow.get(f"/fhir/Basic?patient={patient}").status_code == 403
    other = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                 and p is not summary)
    other_id = patient_id(toy, practice, other)
    confined = authorized_client(app, "patient/*.rs", client_id="confined", patient=other_id)
    refused = confined.get(f"/fhir/Basic?patient={patient}")
    assert refused.status_code == 403
    basic = matches(toy.get(f"/fhir/Basic?patient={patient}").json)[0]
    assert confined.get(f"/fhir/Basic/{basic['id']}").status_code == 403


def test_without_the_module_the_type_is_not_served(client):
    response = client.get("/fhir/Basic?patient=x")
    assert response.status_code == 404


def test_a_record_without_the_kind_has_no_basics(toy, practice):
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                   and practice.record(p).find("Clinical/Event/Reminder") is None)
    patient = patient_id(toy, practice, summary)
    assert toy.get(f"/fhir/Basic?patient={patient}").json["total"] == 0


def test_an_app_without_the_overlay_keeps_the_built_in_types(tmp_path, simulator):
    host, port = simulator.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "plain"})
    try:
        assert "Basic" not in app.extensions["facade.resources"]
        assert "Observation" in app.extensions["facade.resources"]
    finally:
        app.extensions["facade.records"].close()
