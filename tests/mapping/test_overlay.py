"""A site overlay folder adds or overrides mappings and concept maps without forking."""

import textwrap

import pytest
from lxml import etree

from facade.mapping.registry import MappingRegistry

RECORD = etree.fromstring(
    b"<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity><Demographics>"
    b"<FirstName>Ada</FirstName><Surname>Lovelace</Surname><Sex>F</Sex>"
    b"<DateOfBirth>1951-01-01</DateOfBirth>"
    b"<Ethnicity><Code Scheme='CTV3' Code='XaSiteCode' Term='Local code'/></Ethnicity>"
    b"</Demographics></Response>")


def write(folder, name, text):
    (folder / name).write_text(textwrap.dedent(text))


def test_without_overlay_the_unknown_ethnicity_is_left_out(tmp_path):
    patient = MappingRegistry().map_resource("patient", RECORD, id="p")
    assert "extension" not in patient


def test_overlay_concept_map_entries_are_added(tmp_path):
    write(tmp_path, "conceptmaps.py", """
        CONCEPT_MAPS = {"ethnic_category": {"XaSiteCode": {
            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland",
            "code": "S", "display": "Other Ethnic Groups - Any other ethnic group"}}}
    """)
    registry = MappingRegistry(tmp_path)
    patient = registry.map_resource("patient", RECORD, id="p")
    assert patient["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "S"
    assert registry.concept_maps["gender"]["F"] == "female"  # built-in entries stay


def test_overlay_module_replaces_a_mapping(tmp_path):
    write(tmp_path, "patient.py", """
        from mappings import patient as built_in
        RESOURCE = built_in.RESOURCE
        TEMPLATE = {**built_in.TEMPLATE, "active": False}
    """)
    patient = MappingRegistry(tmp_path).map_resource("patient", RECORD, id="p")
    assert patient["active"] is False and patient["name"][0]["family"] == "Lovelace"


def test_a_broken_overlay_is_a_clear_error(tmp_path):
    write(tmp_path, "observation.py", "RESOURCE = \n")
    with pytest.raises(ValueError, match=r"observation\.py cannot be loaded"):
        MappingRegistry(tmp_path).mapping("observation")
    with pytest.raises(ValueError, match="is not a directory"):
        MappingRegistry(tmp_path / "missing")
