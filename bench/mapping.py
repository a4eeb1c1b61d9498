"""Mapping cost: a ~1 MB full record from XML bytes to every resource type, validated, as bytes.

Side by side in one run, on the same bytes: lxml parsing alone (the floor),
and the whole path a full fetch takes in the record service — parse, map every
record type (Observation, Condition, AllergyIntolerance, Medication,
MedicationRequest, MedicationStatement, Immunization; opaque ids from the id
codec), add the narrative, validate each resource once, sort, count the
fidelity report, and serialise a searchset Bundle per type with orjson (and,
for reference, as FHIR XML). Target: the whole path within 10x parsing, for a
full record of about 1 MB (the richest generated history: consultations with
vital signs, problems, results, repeat medication, letters). A dense record,
where every coded item is a numeric Observation, is measured beside it.

Two floors are measured in the same run, so that a reader can judge the target:
making the very same resources from their JSON with orjson (object creation at C
speed), and the plainest Python walk that rebuilds their dicts and lists. No
Python mapper can be cheaper than the second.

    .venv/bin/python bench/mapping.py [--runs 5]

Prints a table and writes bench/results/mapping.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

import orjson
from common import print_table, write_result
from lxml import etree

from facade import jsonbytes
from facade.fhir.xml import to_xml
from facade.ids import IdCodec
from facade.mapping.fidelity import fidelity
from facade.mapping.registry import MappingRegistry
from facade.protocol.identity import Identity
from facade.records import mapped_record
from simulator.practice.generator import GeneratedPractice

TARGET_RATIO = 10.0
RECORD_BYTES = 1024 * 1024
PRACTICE_SIZE = 60
AS_OF = dt.date(2026, 11, 1)


def full_record() -> bytes:
    """A full record of about 1 MB: the richest history in a generated practice (chronic
    conditions, repeat medication, results, letters), scaled up until it weighs ~1 MB."""
    practice = GeneratedPractice(PRACTICE_SIZE, seed=12, as_of=AS_OF)
    richest = max(range(len(practice)), key=lambda index: _items(practice.record(index)))
    return _scaled(lambda scale: GeneratedPractice(PRACTICE_SIZE, seed=12, as_of=AS_OF,
                                                   history_scale=scale).record(richest))


def dense_record() -> bytes:
    """For reference, a worst case: a child's record of growth measurements scaled to
    ~1 MB, where every coded item is a numeric Observation."""
    return _scaled(lambda scale: GeneratedPractice(2, seed=12, as_of=AS_OF,
                                                   history_scale=scale).record(1))


def _scaled(record_at) -> bytes:
    scale = 1.0
    while True:
        data = etree.tostring(record_at(scale))
        if len(data) >= RECORD_BYTES * 0.9:
            return data
        scale *= 1.1


def _items(record: etree._Element) -> int:
    return sum(len(event) for event in record.iterfind("Clinical/Event"))


def to_bundle(resource_type: str, resources: list[dict]) -> dict:
    base = "http://127.0.0.1:8080/fhir"
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": f"{base}/{resource_type}?patient=x"}],
            "entry": [{"fullUrl": f"{base}/{resource_type}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


CODEC = IdCodec(bytes(64))  # a fixed key: ids cost the same whatever the key
PATIENT = Identity.nhs_number("9990000018")


def every_type(registry: MappingRegistry, data: bytes) -> dict:
    """What a full fetch does with the bytes: every type mapped, validated, sorted, and
    the fidelity report counted."""
    root = etree.fromstring(data)
    mapped = mapped_record(registry, CODEC, PATIENT, root, 1_700_000_000.0)
    fidelity(root, (r for found in mapped["resources"].values() for r in found))
    return mapped["resources"]


def median_seconds(work, runs: int) -> float:
    work()  # warm-up: compiled mappings, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(name: str, data: bytes, registry: MappingRegistry, runs: int) -> dict:
    """Parsing alone, and the whole path to JSON and to FHIR XML, on one record's bytes."""
    root = etree.fromstring(data)
    by_type = every_type(registry, data)

    def whole_path(serialise):
        return [serialise(to_bundle(name, found))
                for name, found in every_type(registry, data).items()]

    output = orjson.dumps([r for found in by_type.values() for r in found],
                          default=str)  # Decimals as text: only the size matters here
    parse_s = median_seconds(lambda: etree.fromstring(data), runs)
    json_s = median_seconds(lambda: whole_path(jsonbytes.dumps), runs)
    xml_s = median_seconds(lambda: whole_path(to_xml), runs)
    floor_s = median_seconds(lambda: orjson.loads(output), runs)
    copy_s = median_seconds(lambda: rebuilt(by_type), runs)
    rows = [("lxml parse only", parse_s),
            ("XML -> every type, validated, Bundles (JSON)", json_s),
            ("XML -> every type, validated, Bundles (FHIR XML)", xml_s),
            ("floor: the same resources made from their JSON (orjson, C)", floor_s),
            ("floor: the same resources rebuilt by a Python walk", copy_s)]
    return {"record": name, "record_bytes": len(data), "items": _items(root),
            "resources": {name: len(found) for name, found in by_type.items()},
            "output_json_bytes": len(output),
            "rows": [{"path": path, "median_ms": seconds * 1000, "ratio": seconds / parse_s}
                     for path, seconds in rows]}


def rebuilt(value):
    """The plainest Python that makes the mapped resources' dicts and lists again, from
    values already at hand: no XML, ids, checks or narrative. What any mapper written in
    Python pays at least, whatever it reads."""
    if isinstance(value, dict):
        return {key: rebuilt(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rebuilt(item) for item in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    registry = MappingRegistry()
    results = [measure("full record (the target)", full_record(), registry, args.runs),
               measure("dense record (reference)", dense_record(), registry, args.runs)]
    for result in results:
        made = ", ".join(f"{count} {name}" for name, count in result["resources"].items())
        print(f"\n{result['record']}: {result['record_bytes']} bytes, {result['items']} items"
              f" -> {made}")
        print_table(["path", "median ms", "x parse"],
                    [[row["path"], row["median_ms"], row["ratio"]] for row in result["rows"]])
    ratio = results[0]["rows"][1]["ratio"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"\ntarget: full record to every type's JSON Bundle within {TARGET_RATIO:g}x "
          "parsing -> "
          f"{verdict} ({ratio:.1f}x)")
    write_result("mapping", {"target_ratio": TARGET_RATIO, "verdict": verdict,
                             "records": results})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
