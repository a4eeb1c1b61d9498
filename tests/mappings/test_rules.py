"""Rules over every output: each record of a generated practice and of the hand-written
Demo-style folder, through every record type as the record service maps it.

The rules (tests/ukcore) and their tables were written by hand from UK Core, LOINC and
UCUM, never from mappings/: a wrong code, category, unit or binding fails here. Two
validators independent of fhir.resources (Medplum and FHIR.js, tests/validators) must
agree that each resource is valid R4.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from facade.ids import IdCodec
from facade.mapping.fidelity import FidelityReport, fidelity
from facade.mapping.registry import DEFAULT
from facade.protocol.envelope import OutputScheme
from facade.protocol.identity import Identity
from facade.records import mapped_record
from simulator.practice.folder import FolderPractice
from simulator.practice.generator import GeneratedPractice
from simulator.practice.render import translate
from tests.ukcore.rules import all_problems
from tests.validators.external import fhir_validators  # noqa: F401 (a fixture)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"
SAMPLES = Path(__file__).resolve().parent / "samples"
CODEC = IdCodec(bytes(range(64)))
FETCHED = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC).timestamp()


def generated(count: int = 40, seed: int = 7) -> list[etree._Element]:
    practice = GeneratedPractice(count, seed=seed, as_of=dt.date(2026, 11, 1))
    return [practice.record(index) for index in range(len(practice))]


def demo_folder() -> list[etree._Element]:
    if not FIXTURES.is_dir():
        pytest.skip(f"no hand-written Demo-style practice at {FIXTURES}")
    practice = FolderPractice(FIXTURES)
    return [practice.record(index) for index in range(len(practice))]


def everything(record: etree._Element) -> list[dict]:
    """The Patient and every record type's resources, with real opaque ids."""
    identity = Identity.from_element(record.find("Identity"))
    patient = DEFAULT.map_resource("patient", record, id=CODEC.patient_id(identity),
                                   last_updated="2026-11-01T09:00:00Z")
    mapped = mapped_record(DEFAULT, CODEC, identity, record, FETCHED)
    return [patient, *(r for found in mapped["resources"].values() for r in found)]


def in_scheme(record: etree._Element, codes: str) -> etree._Element:
    copy = etree.fromstring(etree.tostring(record))
    translate(copy, OutputScheme(codes, "Dmd" if codes == "Snomed" else None))
    return copy


@pytest.mark.parametrize("codes", ["CTV3", "Snomed"])
def test_every_resource_of_a_generated_practice_keeps_the_rules(codes):
    made = Counter()
    for index, record in enumerate(generated()):
        resources = everything(in_scheme(record, codes))
        made.update(r["resourceType"] for r in resources)
        problems = all_problems(resources)
        assert not problems, f"record {index} ({codes}): " + "\n".join(problems[:20])
    for resource_type in ("Observation", "Condition", "AllergyIntolerance", "MedicationRequest",
                          "MedicationStatement", "Medication", "Immunization"):
        assert made[resource_type] > 0, f"no {resource_type} in a 40-patient practice"


def test_every_resource_of_the_demo_style_folder_keeps_the_rules():
    for record in demo_folder():
        problems = all_problems(everything(record))
        assert not problems, "\n".join(problems[:20])


def test_every_resource_says_when_it_left_systmone():
    """meta.lastUpdated on every resource: the fetch's instant (09:00 UTC, written here)."""
    for record in [*generated()[:5], *demo_folder()]:
        for resource in everything(record):
            assert resource.get("meta", {}).get("lastUpdated") == "2026-11-01T09:00:00Z", \
                f"{resource['resourceType']}/{resource['id']}: meta {resource.get('meta')}"


def test_ids_are_stable_across_fetches_and_unique_per_type():
    record = generated(8)[3]
    first, again = everything(record), everything(etree.fromstring(etree.tostring(record)))
    assert [r["id"] for r in first] == [r["id"] for r in again]
    keys = [(r["resourceType"], r["id"]) for r in first]
    assert len(keys) == len(set(keys))


def coverage(records: list[etree._Element]) -> FidelityReport:
    report = FidelityReport()
    for record in records:
        report.add(fidelity(record, everything(record)[1:]))
    return report


#: The kinds the issue asks to serve: coded entries, problems, medication, allergies,
#: immunisations.
CLINICAL_CORE = ("coded", "numeric", "problem", "Medication", "RepeatMedication",
                 "DrugSensitivity", "Vaccination")


def test_at_least_95_percent_of_the_clinical_core_is_served():
    for name, records in (("generated", generated()), ("demo folder", demo_folder())):
        report = coverage(records)
        total = sum(report.items[kind] for kind in CLINICAL_CORE)
        served = sum(report.items[kind] - report.unserved[kind] for kind in CLINICAL_CORE)
        assert total and served / total >= 0.95, f"{name}: {report.rows()}"


def test_two_independent_validators_agree_every_resource_is_valid(fhir_validators):  # noqa: F811
    resources = [r for record in generated(12, seed=5) + demo_folder()
                 for r in everything(record)]
    sample = _one_of_each_shape(resources)
    results = fhir_validators(sample)
    invalid = [(r["resourceType"], r["id"], result) for r, result in zip(sample, results,
                                                                        strict=True)
               if not result["valid"]]
    assert not invalid, invalid[:5]


def _one_of_each_shape(resources: list[dict]) -> list[dict]:
    """Every resource of a rare shape, a bounded number of the common ones (each node
    process validates them all: keep the run short)."""
    seen: Counter = Counter()
    kept = []
    for resource in resources:
        shape = (resource["resourceType"], tuple(sorted(resource)),
                 tuple(resource.get("meta", {}).get("profile", ())))
        seen[shape] += 1
        if seen[shape] <= 25:
            kept.append(resource)
    return kept


# --- Investigations (DiagnosticReport) --------------------------------------------------------

@pytest.mark.parametrize("codes", ["CTV3", "Snomed"])
def test_every_report_result_is_an_observation_of_the_same_record(codes):
    """Each DiagnosticReport.result names an Observation made from the same record (so
    _include=DiagnosticReport:result finds it), never a vital sign, and no reading is the
    result of two reports."""
    records = [*(in_scheme(r, codes) for r in generated()), *demo_folder()]
    referenced = 0
    for index, record in enumerate(records):
        resources = everything(record)
        observations = {f"Observation/{r['id']}": r for r in resources
                        if r["resourceType"] == "Observation"}
        claimed: Counter = Counter()
        for report in (r for r in resources if r["resourceType"] == "DiagnosticReport"):
            for result in report.get("result", ()):
                target = observations.get(result["reference"])
                assert target is not None, f"record {index}: {result} of {report['id']}"
                categories = {c.get("code") for concept in target.get("category", ())
                              for c in concept.get("coding", ())}
                assert "vital-signs" not in categories, f"record {index}: {target['code']}"
                claimed[result["reference"]] += 1
        assert all(count == 1 for count in claimed.values()), f"record {index}: {claimed}"
        referenced += sum(claimed.values())
    assert referenced > 100, "reports of a 40-patient practice reference hardly any result"


# --- The order a search serves ---------------------------------------------------------------

#: Each type's clinically relevant date, newest first: the element FHIR R4's date search
#: parameter for it reads (searchparameter-registry.html): clinical-date (AllergyIntolerance
#: .recordedDate, CarePlan.period, DiagnosticReport.effective, Encounter.period, Flag.period,
#: Immunization.occurrence, Observation.effective), Condition onset-date,
#: MedicationRequest authoredon, MedicationStatement effective, ServiceRequest authored,
#: Task authored-on, Appointment date (start), DocumentReference date; RelatedPerson has
#: none in R4: its period. The first present counts (a report without effective: issued).
CLINICAL_DATE = {
    "AllergyIntolerance": ("recordedDate",), "CarePlan": ("period.start",),
    "DiagnosticReport": ("effectiveDateTime", "issued"), "Encounter": ("period.start",),
    "Flag": ("period.start",), "Immunization": ("occurrenceDateTime",),
    "Observation": ("effectiveDateTime",), "Condition": ("onsetDateTime",),
    "MedicationRequest": ("authoredOn",), "MedicationStatement": ("effectivePeriod.start",),
    "ServiceRequest": ("authoredOn",), "Task": ("authoredOn",), "Appointment": ("start",),
    "DocumentReference": ("date",), "RelatedPerson": ("period.start",),
    "Medication": (),  # a drug: no date of its own
}
LONDON = ZoneInfo("Europe/London")


def clinical_date(resource: dict) -> dt.datetime | None:
    for path in CLINICAL_DATE[resource["resourceType"]]:
        value: object = resource
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str):
            moment = dt.datetime.fromisoformat(value)  # a date: its start, in London
            return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)
    return None


def hand_written() -> list[etree._Element]:
    """The hand-written samples, and relationships recorded years apart (no sample has two
    dates of them): every type with two dates or more in one record."""
    samples = [etree.parse(str(path)).getroot() for path in sorted(SAMPLES.glob("*.xml"))]
    relationships = etree.fromstring(
        "<Response><Identity><NHSNumber>9990000042</NHSNumber></Identity><Clinical>" + "".join(
            f'<Event DateTime="{when}" DoneBy="HOLT, Dana " EventUID="{uid}"><Relationship>'
            f"<FirstName>{name}</FirstName><Surname>Lee</Surname><Type>{kind}</Type>"
            "</Relationship></Event>"
            for when, uid, name, kind in (("2012-01-05T10:00:00", "7d00000000000000", "Ann",
                                           "Mother"),
                                          ("2024-03-01T10:00:00", "7d00000100000000", "Bo",
                                           "Carer"),
                                          ("2019-08-09T10:00:00", "7d00000200000000", "Cy",
                                           "Friend")))
        + "</Clinical></Response>")
    return [*(r for r in samples if r.find("Identity") is not None), relationships]


def test_each_types_resources_are_served_newest_first_by_its_clinical_date():
    """As the record service holds them (what a search pages through): undated last."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    seen: Counter = Counter()
    for index, record in enumerate([*generated(10), *demo_folder(), *hand_written()]):
        identity = Identity.from_element(record.find("Identity"))
        served = mapped_record(DEFAULT, CODEC, identity, record, FETCHED)["resources"]
        for resource_type, resources in served.items():
            dates = [clinical_date(r) or oldest for r in resources]
            assert dates == sorted(dates, reverse=True), f"record {index}: {resource_type}"
            seen[resource_type] += len(set(dates)) > 1
    assert set(seen) == set(CLINICAL_DATE)
    dated = {t: seen[t] for t, paths in CLINICAL_DATE.items() if paths}
    assert all(dated.values()), f"types never seen in two dates: {dated}"
