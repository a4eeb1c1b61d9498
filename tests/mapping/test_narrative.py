"""Narrative from FHIR's own element names: no table per type."""

from facade.mapping.narrative import add_narrative, summary_of


def test_a_person_is_named_with_birth_gender_and_nhs_number():
    patient = {"resourceType": "Patient", "name": [{"use": "official", "family": "Abbot",
                                                    "given": ["Alice"]}],
               "birthDate": "1951-01-01", "gender": "female",
               "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                               "value": "9990000018"}]}
    assert summary_of(patient) == "Alice Abbot, born 1951-01-01, female, NHS number 9990000018"


def test_a_concept_with_its_finding_and_time():
    condition = {"resourceType": "Condition", "code": {"text": "Asthma"},
                 "clinicalStatus": {"coding": [{"code": "active", "display": "Active"}]},
                 "onsetDateTime": "2019-02-01"}
    assert summary_of(condition) == "<b>Asthma</b>: Active (2019-02-01)"
    bp = {"resourceType": "Observation", "code": {"text": "Blood pressure"},
          "component": [{"valueQuantity": {"value": 142, "unit": "mmHg"}},
                        {"valueQuantity": {"value": 88, "unit": "mmHg"}}],
          "effectiveDateTime": "2025-07-01T09:30:00+01:00"}
    assert summary_of(bp) == "<b>Blood pressure</b>: 142/88 mmHg (2025-07-01 09:30)"
    plain = {"resourceType": "Observation", "code": {"coding": [{"code": "X"}]}}
    assert summary_of(plain) == "<b>X</b>"


def test_text_is_escaped_xhtml():
    resource = {"resourceType": "Observation", "code": {"text": "<script>&"},
                "valueCodeableConcept": {"text": "a < b"}}
    add_narrative(resource)
    assert resource["text"] == {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p><b>&lt;script&gt;&amp;</b>: '
               "a &lt; b</p></div>"}
