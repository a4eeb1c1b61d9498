"""The CapabilityStatement says exactly what is served: each type's search parameters
with FHIR R4's definition where R4 defines them, includes, the $everything operation,
and no interaction or capability the server lacks.

Expected canonicals are FHIR R4's (hl7.org/fhir/R4/searchparameter-registry.html),
written out here; tests/mappings/test_declarations.py checks every declared one against
R4's own bundle.
"""

from __future__ import annotations

import pytest

from facade.fhir.registry import RESOURCES, capability_statement
from facade.fhir.results import PageSize, common_search_params

R4 = "http://hl7.org/fhir/SearchParameter/"
#: What only a server that writes could claim (rest.resource, FHIR R4).
WRITE_CAPABILITIES = ("updateCreate", "conditionalCreate", "conditionalUpdate",
                      "conditionalDelete", "referencePolicy")


@pytest.fixture(scope="module")
def served() -> dict[str, dict]:
    statement = capability_statement("https://facade.example/fhir",
                                     {"token": "https://facade.example/token"})
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


def definitions(resource: dict) -> dict[str, str | None]:
    return {p["name"]: p.get("definition") for p in resource.get("searchParam", [])}


@pytest.mark.parametrize(("resource_type", "name", "canonical"), [
    ("Observation", "patient", R4 + "clinical-patient"),
    ("Observation", "subject", R4 + "Observation-subject"),
    ("Observation", "category", R4 + "Observation-category"),
    ("Observation", "code", R4 + "clinical-code"),
    ("Observation", "date", R4 + "clinical-date"),
    ("Condition", "onset-date", R4 + "Condition-onset-date"),
    ("Patient", "_id", R4 + "Resource-id"),
    ("Patient", "family", R4 + "individual-family"),
    ("Patient", "identifier", R4 + "Patient-identifier"),
    ("MedicationRequest", "status", R4 + "medications-status"),
    ("Appointment", "patient", R4 + "Appointment-patient"),
    ("Task", "patient", R4 + "Task-patient"),
    ("AuditEvent", "date", R4 + "AuditEvent-date"),
    # the facade's own parameters, or a meaning of its own: no definition
    ("Condition", "recorder", None),
    ("Medication", "patient", None),
    ("MedicationRequest", "code", None),
])
def test_a_search_param_names_fhirs_definition(served, resource_type, name, canonical):
    assert definitions(served[resource_type])[name] == canonical


def test_every_declared_parameter_is_listed_once_in_order(served):
    for name, declaration in RESOURCES.items():
        listed = [p["name"] for p in served[name].get("searchParam", [])]
        assert listed == [p.name for p in declaration.search_params if declaration.searchable]


def test_no_history_and_no_write_capability_is_claimed(served):
    for resource in served.values():
        assert resource["readHistory"] is False
        assert {i["code"] for i in resource["interaction"]} <= {"read", "search-type"}
        assert not set(WRITE_CAPABILITIES) & set(resource), resource["type"]


def test_the_patient_answers_everything_and_revincludes(served):
    patient = served["Patient"]
    assert patient["operation"] == [{
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "documentation": patient["operation"][0]["documentation"]}]
    assert {"Observation:patient", "Condition:patient", "Encounter:subject"} <= \
        set(patient["searchRevInclude"])
    assert {"Patient:general-practitioner", "Patient:organization"} == \
        set(patient["searchInclude"])
    assert "operation" not in served["Observation"]
    assert "searchRevInclude" not in served["Observation"]
    assert {"Observation:patient", "Observation:performer"} <= \
        set(served["Observation"]["searchInclude"])


def test_a_read_only_type_lists_no_search(served):
    binary = served["Binary"]
    assert binary["interaction"] == [{"code": "read"}]
    assert "searchParam" not in binary and "searchInclude" not in binary


@pytest.mark.parametrize(("resource_type", "said"), [
    ("Observation", "Searches are ordered newest first by effectiveDateTime, then by id. "
                    "_sort takes date, _lastUpdated: each ascending, or descending with -, "
                    "comma-separated for several."),
    ("DiagnosticReport", "Searches are ordered newest first by effectiveDateTime or issued, "
                         "then by id. _sort takes date, issued, _lastUpdated: each ascending, "
                         "or descending with -, comma-separated for several."),
    ("Patient", "_sort takes _lastUpdated: each ascending, or descending with -, "
                "comma-separated for several."),
    ("AuditEvent", "Searches are ordered newest first, as the audit store pages them; _sort "
                   "is not taken (ignored and said; refused under Prefer: handling=strict), "
                   "nor is any modifier or comma-separated alternative (each refused, "
                   "naming it)."),
])
def test_each_type_says_its_order_and_what_sort_takes(served, resource_type, said):
    assert served[resource_type]["documentation"] == said


def test_the_result_parameters_every_search_takes_are_listed_once():
    listed = [(p["name"], p["type"]) for p in common_search_params(PageSize(20, 200))]
    assert listed == [("_count", "number"), ("_offset", "number"), ("_lastUpdated", "date"),
                      ("_summary", "token"), ("_elements", "special"), ("_sort", "special"),
                      ("_total", "token")]
    assert "20 when _count is not given, at most 200" in common_search_params(
        PageSize(20, 200))[0]["documentation"]
