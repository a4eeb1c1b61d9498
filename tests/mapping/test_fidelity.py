from collections import Counter

from lxml import etree

from facade.mapping.fidelity import fidelity
from facade.mapping.registry import map_resources

RECORD = etree.fromstring(
    b"<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity><Clinical>"
    b"<Event DateTime='2025-07-01T09:30:00' EventUID='e1'>"
    b"<ClinicalCode><Code Scheme='CTV3' Code='2469.' Term='Systolic'/><Value>142</Value>"
    b"<Units>mmHg</Units></ClinicalCode>"
    b"<ClinicalCode><Code Scheme='CTV3' Code='246A.' Term='Diastolic'/><Value>88</Value>"
    b"<Units>mmHg</Units></ClinicalCode>"
    b"<LinkedProblemUID>p1</LinkedProblemUID>"
    b"<ClinicalCode><Code Scheme='CTV3' Code='22A..' Term='Weight'/><Value>80</Value>"
    b"<Units>kg</Units></ClinicalCode>"
    b"<ClinicalCode><Code Scheme='CTV3' Code='H33..' Term='Asthma'/></ClinicalCode>"
    b"<Medication><Drug Scheme='Multilex' ProductID='1' Name='Salbutamol'/></Medication>"
    b"<Wibble>a kind nobody has seen</Wibble>"
    b"</Event></Clinical></Response>")


def test_every_item_is_counted_as_mapped_or_not_by_kind():
    resources = map_resources("observation", RECORD, patient={"reference": "Patient/p"})
    report = fidelity(RECORD, resources)
    assert report.mapped == Counter(numeric=3)  # two in the BP Observation, the weight
    assert report.unmapped == Counter(coded=1, Medication=1, Wibble=1)


def test_the_log_line_holds_counts_only():
    report = fidelity(RECORD, map_resources("observation", RECORD,
                                            patient={"reference": "Patient/p"}))
    line = report.log_line()
    assert line == "mapped numeric=3; unmapped Medication=1 Wibble=1 coded=1"
    for secret in ("9990000018", "Asthma", "Salbutamol", "e1"):
        assert secret not in line


def test_nothing_mapped_is_reported_too():
    assert fidelity(RECORD, []).mapped == Counter()
    assert fidelity(RECORD, []).unmapped["numeric"] == 3
