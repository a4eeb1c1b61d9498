"""The Condition mapping: SystmOne problems as UK Core Conditions.

Expectations are written from UK Core (UKCore-Condition, Extension-UKCore-ConditionEpisode)
and GP Connect's problem header rules (one resource per problem; clinicalStatus active or
inactive; category problem-list-item; no verificationStatus), never read from mappings/.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import map_resources
from simulator.practice.generator import GeneratedPractice

SAMPLES = Path(__file__).resolve().parent / "samples"
PATIENT = {"reference": "Patient/patient-1"}
TODAY = "2026-01-15"
EVENT_ITEM = "urn:systmone:id:event-item"
SNOMED, CTV3 = "http://snomed.info/sct", "http://read.info/ctv3"
PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Condition"
EPISODE = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ConditionEpisode"


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml")).getroot()


def conditions(record: etree._Element, today: str = TODAY, **variables) -> dict[str, dict]:
    found = map_resources("condition", record, patient=PATIENT, __xpath__={"today": today},
                          **variables)
    return {c["id"]: c for c in found}


def record(*events: str) -> etree._Element:
    return etree.fromstring("<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity>"
                            f"<Clinical>{''.join(events)}</Clinical></Response>")


def event(uid: str, when: str, items: str) -> str:
    return (f'<Event DateTime="{when}" DoneBy="SMITH, Jo (General Medical Practitioner) " '
            f'EventUID="{uid}">{items}</Event>')


def header(code: str, uid: str, extra: str = "") -> str:
    return (f'<ClinicalCode><Code Scheme="CTV3" Code="{code}" Term="Asthma"/>'
            f"<ProblemUID>{uid}</ProblemUID>{extra}</ClinicalCode>")


def items(resource: dict) -> list[str]:
    return [i["value"] for i in resource["identifier"] if i["system"] == EVENT_ITEM]


def status(resource: dict) -> str:
    [coding] = resource["clinicalStatus"]["coding"]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/condition-clinical"
    return coding["code"]


def test_a_problem_in_three_events_is_one_condition_naming_every_recording():
    found = conditions(record(
        event("e1", "2019-02-01T09:00:00", header("H33..", "p1", "<Episodicity>New</Episodicity>"
                                                  "<ProblemSeverity>Major</ProblemSeverity>")),
        event("e2", "2020-05-06T10:00:00", header("H33..", "p1")),
        event("e3", "2021-07-08T11:00:00", header("H33..", "p1", "<Episodicity>Ongoing"
                                                  "</Episodicity><FreeText>Stable</FreeText>"))))
    [asthma] = found.values()
    assert items(asthma) == ["e1-ClinicalCode-0", "e2-ClinicalCode-0", "e3-ClinicalCode-0"]
    assert asthma["onsetDateTime"] == "2019-02-01"  # the first recording
    assert asthma["note"] == [{"text": "Stable"}]
    assert asthma["severity"] == {"text": "Major"}  # the latest recording that says
    assert asthma["extension"] == [{"url": EPISODE, "valueCodeableConcept": {"text": "Ongoing"}}]
    assert status(asthma) == "active" and "abatementDateTime" not in asthma


def test_the_id_is_the_problem_uid_through_the_callers_id_function():
    found = conditions(record(event("e1", "2019-02-01T09:00:00", header("H33..", "p1")),
                              event("e2", "2020-05-06T10:00:00", header("H33..", "p1"))),
                       ids=lambda resource_type, key: f"{resource_type}-{key}")
    assert list(found) == ["Condition-p1"]


def test_the_plain_code_a_header_repeats_in_its_event_is_part_of_the_condition():
    found = conditions(sample("problems-repeated-header"))
    gord = found["ed58000000000000"]
    # Demo shape: a plain X3003 then its problem header in the first Event; a header and a
    # plain repeat again later; the header alone when it ends.
    assert items(gord) == [
        "f7b1080000000000-ClinicalCode-0", "f7b1080000000000-ClinicalCode-1",
        "3c891fb900000000-ClinicalCode-0", "3c891fb900000000-ClinicalCode-1",
        "c0d4110000000000-ClinicalCode-0"]
    assert gord["note"] == [{"text": "Symptoms controlled on PPI"}, {"text": "Reviewed"}]
    # XM02V in the hypertension header's Event is a different code: not the Condition's.
    assert items(found["fa12000000000000"]) == ["a1c2090000000000-ClinicalCode-0"]


def test_every_problem_item_and_repeated_plain_code_is_served_once():
    source = sample("problems-repeated-header")
    served = (map_resources("condition", source, patient=PATIENT, __xpath__={"today": TODAY})
              + map_resources("observation", source, patient=PATIENT))
    report = fidelity(source, served)
    assert report.unserved["problem"] == 0 and report.unserved["coded"] == 0
    named = Counter(value for r in served for value in items(r))
    assert max(named.values()) == 1


def test_an_ended_problem_is_inactive_with_its_end_date_as_abatement():
    found = conditions(sample("problems-repeated-header"))
    pregnancy = found["fb34000000000000"]
    assert status(pregnancy) == "inactive"
    assert pregnancy["abatementDateTime"] == "2016-09-30"
    gord = found["ed58000000000000"]  # ended in its latest recording
    assert status(gord) == "inactive" and gord["abatementDateTime"] == "2024-03-05"


def test_an_end_date_still_to_come_leaves_the_problem_active_without_abatement():
    # FHIR con-4: an abated Condition is inactive, resolved or in remission.
    urti = conditions(sample("problems-repeated-header"))["fd78000000000000"]
    assert status(urti) == "active" and "abatementDateTime" not in urti
    assert urti["note"] == [{"text": "Problem end date: 2026-01-22"}]
    later = conditions(sample("problems-repeated-header"), today="2026-01-22")
    assert status(later["fd78000000000000"]) == "inactive"


def test_uk_core_problem_list_item_with_codes_in_both_schemes():
    found = conditions(sample("problems-repeated-header"))
    gord = found["ed58000000000000"]
    assert gord["meta"]["profile"] == [PROFILE]
    assert gord["category"] == [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
        "code": "problem-list-item", "display": "Problem List Item"}]}]
    assert gord["code"]["coding"] == [
        {"system": SNOMED, "code": "235595009", "display": "Gastroesophageal reflux disease"},
        {"system": CTV3, "code": "X3003", "display": "Gastro-oesophageal reflux disease"}]
    diabetes = found["fc56000000000000"]  # recorded in SNOMED CT: gains its CTV3 code
    assert [(c["system"], c["code"]) for c in diabetes["code"]["coding"]] == [
        (SNOMED, "44054006"), (CTV3, "X40J5")]
    assert gord["subject"] == PATIENT
    # DoneBy ends with a space in genuine extracts.
    assert gord["recorder"] == {"display": "CURCIN, Vasa (General Medical Practitioner)"}


def test_severity_is_systmone_text_never_a_mild_moderate_severe_code():
    for condition in conditions(sample("problems-repeated-header")).values():
        assert set(condition["severity"]) == {"text"}
        assert "verificationStatus" not in condition  # GP Connect: MUST NOT be populated
    severities = {c["severity"]["text"] for c in conditions(
        sample("problems-repeated-header")).values()}
    assert severities == {"Major", "Minor", "Major Episode", "Minor Event"}


def test_episodicity_is_coded_only_where_uk_core_has_the_same_word():
    gord = conditions(sample("problems-repeated-header"))["ed58000000000000"]
    assert gord["extension"] == [{"url": EPISODE, "valueCodeableConcept": {
        "coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-ConditionEpisodicity",
                    "code": "end", "display": "End"}],
        "text": "End"}}]


@pytest.mark.parametrize(("word", "code"), [("First", "first"), ("Review", "review"),
                                          ("End", "end")])
def test_each_of_uk_cores_episodicity_words_is_coded(word, code):
    """UK Core's ConditionEpisodicity code system: first / review / end, displayed First /
    Review / End (ValueSet-UKCore-ConditionEpisodicity, bound by Extension-UKCore-
    ConditionEpisode)."""
    record = sample("problems-repeated-header")
    for episodicity in record.iterfind(".//Episodicity"):
        episodicity.text = word
    gord = conditions(record)["ed58000000000000"]
    assert gord["extension"][0]["valueCodeableConcept"]["coding"] == [{
        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-ConditionEpisodicity",
        "code": code, "display": word}]


def test_every_problem_of_a_generated_practice_is_one_condition():
    practice = GeneratedPractice(30, seed=5, as_of=dt.date(2026, 11, 1))
    for index in range(len(practice)):
        source = etree.fromstring(etree.tostring(practice.record(index)))
        found = conditions(source, today="2026-11-01")
        uids = {uid.text for uid in source.iterfind("Clinical/Event/ClinicalCode/ProblemUID")}
        assert set(found) == uids, f"patient {index}"
        named = Counter(value for c in found.values() for value in items(c))
        assert max(named.values(), default=1) == 1, f"patient {index}: an item named twice"
        for condition in found.values():
            if "abatementDateTime" in condition:
                assert status(condition) == "inactive"
