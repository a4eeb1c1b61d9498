"""Mapping cost: a ~1 MB full record from XML bytes to a validated searchset Bundle's bytes.

Side by side in one run, on the same bytes: lxml parsing alone (the floor),
and the whole path the API takes — parse, map every Observation, add the
narrative, validate each once, build the Bundle, serialise it with orjson
(and, for reference, as FHIR XML). Target: the whole path within 10x parsing.

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

from facade.fhir.xml import to_xml
from facade.mapping.registry import MappingRegistry
from simulator.practice.generator import GeneratedPractice

TARGET_RATIO = 10.0
RECORD_BYTES = 1024 * 1024


def big_record() -> bytes:
    scale = 30.0
    while True:
        record = GeneratedPractice(2, seed=12, as_of=dt.date(2026, 11, 1),
                                   history_scale=scale).record(1)
        data = etree.tostring(record)
        if len(data) >= RECORD_BYTES * 0.9:
            return data
        scale *= 1.3


def to_bundle(resources: list[dict]) -> dict:
    base = "http://127.0.0.1:8080/fhir"
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": f"{base}/Observation?patient=x"}],
            "entry": [{"fullUrl": f"{base}/Observation/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def median_seconds(work, runs: int) -> float:
    work()  # warm-up: compiled mappings, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = big_record()
    registry = MappingRegistry()
    patient = {"reference": "Patient/x"}
    resources = registry.map_resources("observation", etree.fromstring(data), patient=patient)

    def parse():
        etree.fromstring(data)

    def whole_path_json():
        found = registry.map_resources("observation", etree.fromstring(data), patient=patient)
        return orjson.dumps(to_bundle(found))

    def whole_path_xml():
        found = registry.map_resources("observation", etree.fromstring(data), patient=patient)
        return to_xml(to_bundle(found))

    parse_s = median_seconds(parse, args.runs)
    json_s = median_seconds(whole_path_json, args.runs)
    xml_s = median_seconds(whole_path_xml, args.runs)
    rows = [["lxml parse only", parse_s * 1000, 1.0],
            ["XML -> validated Bundle (JSON)", json_s * 1000, json_s / parse_s],
            ["XML -> validated Bundle (FHIR XML)", xml_s * 1000, xml_s / parse_s]]
    print(f"record {len(data)} bytes, {len(resources)} Observations")
    print_table(["path", "median ms", "x parse"], rows)
    ratio = json_s / parse_s
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"target: JSON Bundle within {TARGET_RATIO:g}x parsing -> {verdict} ({ratio:.1f}x)")
    write_result("mapping", {
        "record_bytes": len(data), "observations": len(resources),
        "target_ratio": TARGET_RATIO, "verdict": verdict,
        "rows": [dict(zip(["path", "median_ms", "ratio"], row, strict=True)) for row in rows]})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
