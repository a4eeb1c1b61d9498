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
