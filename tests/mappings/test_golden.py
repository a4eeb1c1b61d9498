"""Golden files: every hand-written sample record, through every record mapping.

A sample is a GetPatientRecord ``Response`` written by hand
(``tests/mappings/samples/<name>.xml``); its golden files are what each record
type makes of it (``tests/golden/<Type>/<name>.json``), reviewed by hand. After a
deliberate change, ``UPDATE_GOLDEN=1 scripts/test tests/mappings/test_golden.py``
rewrites them — and fails, so an update run never passes: review the diff, then
run the tests again without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from lxml import etree

from facade import jsonbytes
from facade.mapping.registry import DEFAULT

SAMPLES = Path(__file__).resolve().parent / "samples"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
PATIENT = {"reference": "Patient/patient-1"}
#: The day the samples are read on: statuses from end dates depend on it.
TODAY = "2026-01-15"


#: GetOrganisationMetaData answers written by hand: the organisation types' samples. The
#: record samples are read with the users of ``practice.xml`` as the practice's (the
#: record service hands the record mappings the users it learned the same way).
ORGANISATION_SAMPLES = SAMPLES / "organisation"
PRACTICE = ORGANISATION_SAMPLES / "practice.xml"
LAST_UPDATED = "2026-01-15T09:30:00Z"


def practitioners() -> dict[str, str]:
    """User name → reference, as the record service makes it (with no id function the id
    is the key, as every golden id is)."""
    metadata = etree.parse(str(PRACTICE)).getroot()
    return {name: f"Practitioner/{name}" for name in
            (user.findtext("UserName").strip() for user in metadata.iterfind("User"))}


def mapped(sample: Path, resource_type: str) -> list[dict]:
    record = etree.parse(str(sample)).getroot()
    if sample.parent == ORGANISATION_SAMPLES:
        return DEFAULT.map_resources(resource_type.lower(), record,
                                     last_updated=LAST_UPDATED)
    return DEFAULT.map_resources(resource_type.lower(), record, patient=PATIENT,
                                 practitioners=practitioners(),
                                 __xpath__={"today": TODAY})


def rendered(resources: list[dict]) -> str:
    option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    return (jsonbytes.dumps(resources, option) + b"\n").decode()


CASES = [(sample, declaration.type) for sample in sorted(SAMPLES.glob("*.xml"))
         for declaration in DEFAULT.record_types()] + [
    (sample, declaration.type) for sample in sorted(ORGANISATION_SAMPLES.glob("*.xml"))
    for declaration in DEFAULT.organisation_types()]


@pytest.mark.parametrize(("sample", "resource_type"), CASES,
                         ids=[f"{t}-{s.stem}" for s, t in CASES])
def test_golden(sample: Path, resource_type: str):
    text = rendered(mapped(sample, resource_type))
    golden = GOLDEN / resource_type / f"{sample.stem}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        pytest.fail(f"{golden} rewritten: review the diff, then run without UPDATE_GOLDEN")
    assert golden.exists(), f"no golden file {golden}: write it with UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"{resource_type} of {sample.name} differs from {golden}"


def test_every_golden_file_has_its_sample():
    """A golden file left behind by a renamed sample would never be checked."""
    stems = {sample.stem for sample in SAMPLES.glob("*.xml")}
    types = {declaration.type for declaration in DEFAULT.record_types()}
    for golden in GOLDEN.glob("*/*.json"):
        if golden.parent.name in types and golden.parent.name != "Patient":
            assert golden.stem in stems, f"{golden} has no sample {golden.stem}.xml"
    stems = {sample.stem for sample in ORGANISATION_SAMPLES.glob("*.xml")}
    for declaration in DEFAULT.organisation_types():
        for golden in (GOLDEN / declaration.type).glob("*.json"):
            assert golden.stem in stems, f"{golden} has no sample organisation/{golden.stem}.xml"
