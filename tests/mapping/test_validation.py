import pytest

from facade.mapping.validation import ResourceInvalid, validate

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female",
           "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}]}


def test_a_valid_patient_passes():
    validate(PATIENT)


@pytest.mark.parametrize(("change", "where"), [
    ({"gender": "xyz"}, "Patient.gender"),  # a required binding fhir.resources ignores
    ({"telecom": [{"system": "pager2", "value": "1"}]}, "Patient.telecom.system"),
    ({"identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "123"}]},
     "Patient.identifier"),
    ({"birthDate": "2020-13-45"}, "Patient.birthDate"),
    ({"unknownElement": 1}, "Patient.unknownElement"),
])
def test_invalid_patients_are_refused_naming_the_element(change, where):
    with pytest.raises(ResourceInvalid) as raised:
        validate({**PATIENT, **change})
    assert raised.value.path == where


def test_observation_status_and_ucum_units_are_checked():
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": "weight"}, "valueQuantity": {
                       "value": 80, "system": "http://unitsofmeasure.org", "code": "kg"}}
    validate(observation)
    with pytest.raises(ResourceInvalid, match=r"Observation\.status"):
        validate({**observation, "status": "bogus"})
    with pytest.raises(ResourceInvalid, match="unit code"):
        validate({**observation, "valueQuantity": {"value": 80,
                                                   "system": "http://unitsofmeasure.org"}})


OBSERVATION = {"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
               "effectiveDateTime": "2025-07-01T09:30:00+01:00",
               "valueQuantity": {"value": 80.5, "unit": "kg",
                                 "system": "http://unitsofmeasure.org", "code": "kg"}}


@pytest.mark.parametrize(("change", "where"), [
    ({"effectiveDateTime": "2025-02-30T09:30:00+01:00"}, "effectiveDateTime"),  # no such day
    ({"effectiveDateTime": "2025-07-01T09:30:00"}, "effectiveDateTime"),  # a time needs a zone
    ({"effectiveDateTime": "2025-07-01T25:30:00Z"}, "effectiveDateTime"),
    ({"id": "has space"}, "id"),
    ({"status": " final"}, "status"),
    ({"valueQuantity": {"value": float("inf"), "unit": "kg",
                        "system": "http://unitsofmeasure.org", "code": "kg"}}, "valueQuantity"),
])
def test_a_known_shape_with_a_bad_value_is_still_refused(change, where):
    validate(OBSERVATION)  # the shape is now known
    validate({**OBSERVATION, "id": "o2", "effectiveDateTime": "2024-01-01T00:00:00Z"})
    with pytest.raises(ResourceInvalid) as raised:
        validate({**OBSERVATION, **change})
    assert where in raised.value.path


def test_partial_dates_and_dates_are_accepted_in_a_known_shape():
    validate(OBSERVATION)
    validate({**OBSERVATION, "effectiveDateTime": "2025-07-01"})
    validate({**OBSERVATION, "effectiveDateTime": "2025-07"})


# --- validation from a generated mapping's evidence ------------------------------------

def _observations(*values: tuple[str, str]):
    """Two items of one shape through a small mapping, with their evidence."""
    from lxml import etree

    from facade.mapping.engine import CompiledMapping
    from facade.mapping.transforms import TRANSFORMS
    from facade.mapping.vocabulary import Each, Path

    items = "".join(f"<I><S>{status}</S><D>{when}</D></I>" for status, when in values)
    template = [Each("I", {"resourceType": "Observation", "status": Path("S"),
                           "code": {"text": "x"}, "effectiveDateTime": Path("D")})]
    compiled = CompiledMapping("Observation", template, TRANSFORMS, {})
    _, evidence = compiled.apply_with_evidence(etree.fromstring(f"<R>{items}</R>"))
    return compiled, evidence


def test_resources_of_one_shape_share_a_trace_and_list_their_values():
    compiled, evidence = _observations(("final", "2020-01-01"), ("amended", "2021-02-02"))
    (_, first, values), (_, second, _) = evidence
    assert first == second
    assert values == ["final", "2020-01-01"]
    assert [compiled.value_sites[t] for t in first if t in compiled.value_sites] == [
        "Observation.status", "Observation.effectiveDateTime"]


@pytest.mark.parametrize(("status", "when", "where"), [
    ("bogus", "2021-02-02", "Observation.status"),  # a required binding
    ("final", "2021-02-30", "Observation.effectiveDateTime"),  # not a calendar date
])
def test_a_known_trace_with_a_bad_value_is_refused(status, when, where):
    from facade.mapping.validation import validate_mapped

    compiled, evidence = _observations(("final", "2020-01-01"), (status, when))
    (good, trace, values), (bad, bad_trace, bad_values) = evidence
    validate_mapped(good, trace, values, compiled.known_traces, compiled.value_sites)
    assert bad_trace in {key[1] for key in compiled.known_traces}
    with pytest.raises(ResourceInvalid) as raised:
        validate_mapped(bad, bad_trace, bad_values, compiled.known_traces,
                        compiled.value_sites)
    assert raised.value.path == where


def test_resources_without_a_trace_are_still_validated(tmp_path):
    from lxml import etree

    from facade.mapping.registry import MappingRegistry

    # An overlay whose resourceType comes from the source: the engine records no evidence.
    (tmp_path / "observation.py").write_text(
        "from facade.mapping.vocabulary import Each, Path\n"
        "RESOURCE = 'Observation'\n"
        "TEMPLATE = [Each('I', {'resourceType': Path('T'), 'status': Path('S'),"
        " 'code': {'text': 'x'}})]\n")
    registry = MappingRegistry(tmp_path)
    with pytest.raises(ResourceInvalid, match="status"):
        registry.map_resources("observation", etree.fromstring(
            b"<R><I><T>Observation</T><S>bogus</S></I></R>"))


# Required bindings of the record types (FHIR R4 value sets, written out by hand).
BOUND = [
    ({"resourceType": "Condition", "subject": {"reference": "Patient/p"},
      "clinicalStatus": {"coding": [{"code": "gone"}]}}, "Condition.clinicalStatus"),
    ({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"},
      "category": ["drug"]}, "AllergyIntolerance.category"),
    ({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"},
      "verificationStatus": {"coding": [{"code": "likely"}]}},
     "AllergyIntolerance.verificationStatus"),
    ({"resourceType": "MedicationRequest", "status": "active", "intent": "repeat",
      "subject": {"reference": "Patient/p"}, "medicationReference": {"reference": "M/m"}},
     "MedicationRequest.intent"),
    ({"resourceType": "MedicationStatement", "status": "taking",
      "subject": {"reference": "Patient/p"}, "medicationReference": {"reference": "M/m"}},
     "MedicationStatement.status"),
    ({"resourceType": "Immunization", "status": "given", "patient": {"reference": "Patient/p"},
      "vaccineCode": {"text": "x"}, "occurrenceString": "x"}, "Immunization.status"),
]


@pytest.mark.parametrize(("resource", "path"), BOUND, ids=[p for _, p in BOUND])
def test_required_bindings_of_the_record_types_are_checked(resource, path):
    with pytest.raises(ResourceInvalid, match=path.replace(".", r"\.")):
        validate(resource)
