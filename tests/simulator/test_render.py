"""Translating codes between CTV3 and SNOMED CT, as SystmOne does on request."""

from __future__ import annotations

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.envelope import OutputScheme
from simulator.practice.render import render_record, translate

RECORD = """<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity>
<Clinical><Event DateTime="2024-05-01T10:00:00" EventUID="0000000100000000">
<ClinicalCode><Code Scheme="CTV3" Code="22A.." Term="O/E - weight"/><Value>72.40</Value>
<Units>kg</Units></ClinicalCode>
<ClinicalCode><Code Scheme="Snomed" Code="1011481000000105" Term="eGFR"/><Value>90</Value>
<Comparator>6</Comparator></ClinicalCode>
<ClinicalCode><Code Scheme="Snomed" Code="364075005" Term="Heart rate"/><Value>72</Value>
</ClinicalCode>
<ClinicalCode><Code Scheme="Snomed" Code="409137002" Term="No known drug allergy"/>
</ClinicalCode>
<ClinicalCode><Code Scheme="CTV3" Code="XaZZZ" Term="A code nobody maps"/></ClinicalCode>
<ClinicalCode><Code Scheme="Snomed" Code="999999999999999" Term="Not in the table"/>
</ClinicalCode>
</Event></Clinical></Response>"""


def codes(body: etree._Element) -> list[tuple[str, str, str]]:
    return [(code.get("Scheme"), code.get("Code"), code.get("Term"))
            for code in body.iter("Code")]


def translated(codes_scheme: str | None) -> etree._Element:
    body = etree.fromstring(RECORD)
    translate(body, OutputScheme(codes_scheme, None))
    return body


def test_snomed_output_translates_ctv3_with_a_pair_and_keeps_the_rest():
    assert codes(translated("Snomed")) == [
        ("Snomed", "27113001", "Body weight"),
        ("Snomed", "1011481000000105", "eGFR"),  # already SNOMED CT: untouched, term as recorded
        ("Snomed", "364075005", "Heart rate"),
        ("Snomed", "409137002", "No known drug allergy"),
        ("CTV3", "XaZZZ", "A code nobody maps"),  # no pair: returned as recorded
        ("Snomed", "999999999999999", "Not in the table"),
    ]


@pytest.mark.parametrize("scheme", ["CTV3", None])  # CTV3 is SystmOne's default
def test_ctv3_output_translates_snomed_with_a_pair_back_and_keeps_the_rest(scheme):
    assert codes(translated(scheme)) == [
        ("CTV3", "22A..", "O/E - weight"),
        ("CTV3", "XacUK", "Estimated glomerular filtration rate using creatinine Chronic "
         "Kidney Disease Epidemiology Collaboration equation per 1.73 square metres"),
        ("Snomed", "364075005", "Heart rate"),  # held in SNOMED CT only
        ("Snomed", "409137002", "No known drug allergy"),
        ("CTV3", "XaZZZ", "A code nobody maps"),
        ("Snomed", "999999999999999", "Not in the table"),
    ]


def test_values_and_other_children_are_untouched():
    body = translated("CTV3")
    weight, egfr = body.findall(".//ClinicalCode")[:2]
    assert weight.findtext("Value") == "72.40" and weight.findtext("Units") == "kg"
    assert egfr.findtext("Comparator") == "6"


def test_codes_in_an_unknown_scheme_or_without_attributes_do_not_break_translation():
    body = etree.fromstring(
        "<Response><Identity/><Clinical><Event DateTime='2024-05-01T10:00:00'>"
        "<ClinicalCode><Code Scheme='Read2' Code='H33..'/></ClinicalCode>"
        "<ClinicalCode><Code/></ClinicalCode></Event></Clinical></Response>")
    for scheme in ("CTV3", "Snomed"):
        translate(body, OutputScheme(scheme, None))
    assert [code.attrib for code in body.iter("Code")] == [
        {"Scheme": "Read2", "Code": "H33.."}, {}]


def test_a_ctv3_filter_finds_snomed_native_items_with_a_pair():
    record = etree.fromstring(RECORD)
    body = render_record(record, fn.RecordFilter(clinical_codes=("XacUK",)),
                         OutputScheme("CTV3", None), True, "Closed")
    assert codes(body)[0][:2] == ("CTV3", "XacUK") and len(codes(body)) == 1
