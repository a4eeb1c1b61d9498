"""The Patient mapping: golden files per sample, and rules over every generated patient.

Golden files live in tests/golden/Patient/<sample>.json. After a deliberate
mapping change, regenerate them with ``UPDATE_GOLDEN=1 scripts/test tests/mappings``
and review the diff like any other change.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import orjson
import pytest
from lxml import etree

from facade.mapping.registry import map_resource
from simulator.practice.generator import GeneratedPractice
from simulator.practice.index import result_element, summarise
from tests.mappings.rules import leaves
from tests.simulator.test_folder import GENUINE_STYLE
from tests.ukcore import expectations as ux
from tests.ukcore.rules import sctid_problem

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "Patient"
AS_OF = dt.date(2026, 11, 1)
PRACTICE = GeneratedPractice(200, seed=7, as_of=AS_OF)
REFERENCES = {"practice": {"reference": "Organization/practice"},
              "usual_gp": {"reference": "Practitioner/gp"}}


def generated(index: int) -> etree._Element:
    return PRACTICE.demographics(index)


def first(predicate) -> etree._Element:
    return next(PRACTICE.demographics(i) for i in range(len(PRACTICE))
                if predicate(PRACTICE.demographics(i)))


def genuine_style() -> etree._Element:
    return etree.fromstring(GENUINE_STYLE.format(nhs="9990000018").encode()).find("Response")


def client_id() -> etree._Element:
    """A record known by a SystmOne client id (e.g. a prison record: no NHS number), with
    an alternate telephone (no use: SystmOne does not say whose)."""
    record = etree.fromstring(etree.tostring(generated(5)))
    identity = record.find("Identity")
    for child in list(identity):
        identity.remove(child)
    etree.SubElement(identity, "ClientID").text = "4410021"
    record.find("Demographics/AlternateTelephone").text = "01632 960123"
    return record


SAMPLES = {
    "client-id": client_id,
    "generated-record": lambda: generated(3),
    "generated-with-ethnicity-and-known-as": lambda: first(
        lambda r: r.findtext("Demographics/KnownAs") and r.find("Demographics/Ethnicity/Code")
        is not None),
    "pseudo-number": lambda: first(lambda r: r.find("Identity/PseudoNumber") is not None),
    "search-result": lambda: result_element(summarise(generated(3), 3, "sample")),
    "genuine-style-record": genuine_style,
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_golden(sample):
    resource = map_resource("patient", SAMPLES[sample](), id="patient-1", **REFERENCES)
    path = GOLDEN / f"{sample}.json"
    rendered = orjson.dumps(resource, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if os.environ.get("UPDATE_GOLDEN"):  # an update run never shows green: review, rerun
        path.write_bytes(rendered)
        pytest.fail(f"{path} rewritten: review the diff, then run without UPDATE_GOLDEN")
    assert rendered.decode() == path.read_text(), f"{sample} differs from {path}"


def test_every_generated_patient_maps_validates_and_has_nothing_empty():
    for index in range(len(PRACTICE)):
        record = PRACTICE.demographics(index)
        resource = map_resource("patient", record, id=f"p{index}")
        for path, value in leaves(resource, "Patient"):
            assert value not in ("", None), f"patient {index}: empty {path}"
        assert resource["birthDate"] == record.findtext("Demographics/DateOfBirth")
        assert resource["name"][0]["family"] == record.findtext("Demographics/Surname")
        expected_identifiers = 1
        assert len(resource["identifier"]) == expected_identifiers
        phones = [record.findtext(f"Demographics/{tag}") for tag in (
            "HomeTelephone", "MobileTelephone", "WorkTelephone", "AlternateTelephone",
            "EmailAddress")]
        assert len(resource.get("telecom", [])) == sum(1 for p in phones if p)


def test_search_results_are_marked_subsetted_and_records_are_not():
    record = generated(5)
    full = map_resource("patient", record, id="p")
    summary = map_resource("patient", result_element(summarise(record, 5, "s")), id="p")
    assert "tag" not in full["meta"]
    assert summary["meta"]["tag"][0]["code"] == "SUBSETTED"
    assert summary["identifier"] == full["identifier"]
    assert summary["birthDate"] == full["birthDate"] and summary["gender"] == full["gender"]


@pytest.mark.parametrize(("sex", "gender"), [("M", "male"), ("F", "female"), ("I", "other"),
                                             ("U", "unknown"), ("", "unknown")])
def test_sex_to_gender(sex, gender):
    record = genuine_style()
    record.find("Demographics/Sex").text = sex
    assert map_resource("patient", record, id="p")["gender"] == gender


def test_an_invalid_nhs_number_in_the_source_is_a_clear_mapping_error():
    record = genuine_style()
    record.find("Identity/NHSNumber").text = "1234567890"
    with pytest.raises(ValueError, match=r"Patient.identifier.value from "
                                         r"\S*/Response/Identity/NHSNumber: '1234567890'"):
        map_resource("patient", record, id="p")


# The NHS Data Dictionary's 2001-census categories, UK Core's England code system: every code
# SystmOne may write for one (tests/ukcore/expectations.py ETHNIC_CODES, by hand).
@pytest.mark.parametrize(("scheme", "code"), sorted(ux.ETHNIC_CODES))
def test_each_census_ethnicity_code_gives_its_uk_core_category(scheme, code):
    if scheme == "Snomed":
        assert sctid_problem(code) is None  # the expectation itself is a real concept id
    record = genuine_style()
    etree.SubElement(record.find("Demographics/Ethnicity"), "Code",
                     Scheme=scheme, Code=code, Term="as recorded")
    category = ux.ETHNIC_CODES[(scheme, code)]
    assert map_resource("patient", record, id="p")["extension"] == [{
        "url": ux.ETHNIC_CATEGORY_EXTENSION,
        "valueCodeableConcept": {"coding": [{
            "system": ux.ETHNIC_CATEGORY_ENGLAND_SYSTEM, "code": category,
            "display": ux.ETHNIC_CATEGORY_ENGLAND[category]}]}}]


def test_an_ethnicity_code_no_census_category_names_leaves_the_extension_out():
    record = genuine_style()
    etree.SubElement(record.find("Demographics/Ethnicity"), "Code",
                     Scheme="CTV3", Code="XaZZZ", Term="not a census category")
    assert "extension" not in map_resource("patient", record, id="p")


def test_an_identity_spelling_nhsnumber_as_tpps_examples_do_still_gives_the_nhs_number():
    """TPP's request examples write <NhsNumber> (TPP/spec-v33.4.txt, e.g. line 1294)."""
    record = genuine_style()
    record.find("Identity/NHSNumber").tag = "NhsNumber"
    identifiers = map_resource("patient", record, id="p")["identifier"]
    assert [(i["system"], i["value"]) for i in identifiers] == [(ux.NHS_NUMBER, "9990000018")]
