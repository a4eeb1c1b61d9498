"""facade/versions.py: a resource's version is its content; lastUpdated is when the facade
first saw that version. Hand-written resources; expected values from these alone."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal

from facade.versions import first_seen, stamp_all, stamped, version_id, versioned

FIRST, LATER = "2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"


def observation(value: str = "1.00", **meta) -> dict:
    return {"resourceType": "Observation", "id": "o1",
            "meta": {"profile": ["https://example.org/profile"], **meta},
            "status": "final", "valueQuantity": {"value": Decimal(value), "unit": "mmol/L"}}


def test_the_version_is_a_hash_of_the_content_without_its_version_and_time():
    plain = observation()
    expected = json.dumps(
        {"id": "o1", "meta": {"profile": ["https://example.org/profile"]},
         "resourceType": "Observation", "status": "final",
         "valueQuantity": {"unit": "mmol/L", "value": 1.00}},
        sort_keys=True, separators=(",", ":")).replace('"value":1.0', '"value":1.00')
    assert version_id(plain) == hashlib.sha256(expected.encode()).hexdigest()[:32]
    assert version_id(observation(versionId="x", lastUpdated=LATER)) == version_id(plain)
    reordered = dict(reversed(list(observation().items())))
    assert version_id(reordered) == version_id(plain)


def test_any_change_of_content_is_another_version():
    plain = version_id(observation())
    assert version_id(observation("1.0")) != plain  # a decimal's precision is content
    assert version_id(observation(tag=[{"code": "SUBSETTED"}])) != plain
    assert version_id({**observation(), "status": "amended"}) != plain


def test_stamped_keeps_the_previous_time_only_for_the_same_version():
    first = stamped(observation(lastUpdated=FIRST), FIRST)
    assert first["meta"] == {"versionId": version_id(observation()), "lastUpdated": FIRST,
                             "profile": ["https://example.org/profile"]}
    again = stamped(observation(lastUpdated=LATER), LATER, first)
    assert again["meta"] == first["meta"]
    changed = stamped(observation("2.00", lastUpdated=LATER), LATER, first)
    assert changed["meta"]["lastUpdated"] == LATER
    assert changed["meta"]["versionId"] == version_id(observation("2.00"))
    assert stamped(observation(), LATER, None)["meta"]["lastUpdated"] == LATER


def test_stamp_all_matches_earlier_copies_by_type_and_id():
    earlier = [stamped(observation(), FIRST),
               stamped({**observation(), "id": "o2", "status": "preliminary"}, FIRST)]
    fresh = [observation(), {**observation(), "id": "o2"},
             {**observation(), "id": "o3"},
             {**observation(), "resourceType": "Condition"}]  # o1 of another type
    stamp_all(fresh, LATER, earlier)
    assert [r["meta"]["lastUpdated"] for r in fresh] == [FIRST, LATER, LATER, LATER]
    assert fresh[0]["meta"]["versionId"] == earlier[0]["meta"]["versionId"]
    assert fresh[1]["meta"]["versionId"] != earlier[1]["meta"]["versionId"]


def test_first_seen_keeps_just_enough_to_stamp_against():
    earlier = [stamped(observation(), FIRST)]
    kept = first_seen(earlier)
    assert kept == [{"resourceType": "Observation", "id": "o1",
                     "meta": {"versionId": earlier[0]["meta"]["versionId"],
                              "lastUpdated": FIRST}}]
    fresh = [observation()]
    stamp_all(fresh, LATER, kept)
    assert fresh[0]["meta"] == earlier[0]["meta"]


def test_versioned_says_the_version_and_no_time():
    binary = {"resourceType": "Binary", "id": "b1", "contentType": "application/pdf",
              "data": "JVBERi0="}
    before = copy.deepcopy(binary)
    assert versioned(binary)["meta"] == {"versionId": version_id(before)}
