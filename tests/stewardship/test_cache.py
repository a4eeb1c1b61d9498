"""The shared resource cache: serialised entries, local reuse by stamp, no PHI in keys."""

from __future__ import annotations

import time

from facade.stewardship.cache import ResourceCache, lookup

RETAIN = {"clinical": 60.0, "demographics": 60.0}


def test_an_entry_round_trips_through_the_store_and_another_worker_reads_it(store):
    writer, reader = ResourceCache(store, RETAIN), ResourceCache(store, RETAIN)
    writer.put("clinical", "d1", [{"resourceType": "Observation", "id": "o1"}], 100.0)
    entry = reader.get("clinical", "d1")
    assert entry.data == [{"resourceType": "Observation", "id": "o1"}]
    assert (entry.fetched_at, entry.topped_up_at) == (100.0, 100.0)
    assert reader.get("clinical", "d1") is entry  # same stamp: the decoded copy is reused


def test_a_new_version_replaces_the_local_copy(store):
    first, second = ResourceCache(store, RETAIN), ResourceCache(store, RETAIN, local_trust=0)
    first.put("clinical", "d1", ["old"], 100.0)
    assert second.get("clinical", "d1").data == ["old"]
    first.put("clinical", "d1", ["old", "new"], 100.0, topped_up_at=160.0)
    entry = second.get("clinical", "d1")
    assert entry.data == ["old", "new"] and entry.topped_up_at == 160.0


def test_a_local_copy_is_trusted_briefly_without_reading_the_store(store, monkeypatch):
    first, second = ResourceCache(store, RETAIN), ResourceCache(store, RETAIN, local_trust=0.2)
    first.put("clinical", "d1", ["old"], 100.0)
    assert second.get("clinical", "d1").data == ["old"]
    first.put("clinical", "d1", ["old", "new"], 100.0, topped_up_at=160.0)
    reads = []
    monkeypatch.setattr(store, "get", lambda key: reads.append(key))  # must not be asked
    assert second.get("clinical", "d1").data == ["old"]  # within the window: its own copy
    assert reads == []
    monkeypatch.undo()
    time.sleep(0.25)
    assert second.get("clinical", "d1").data == ["old", "new"]  # then the stamp is read again


def test_lookup_says_whether_an_entry_is_within_its_window(store):
    cache = ResourceCache(store, RETAIN)
    assert lookup(cache, "demographics", "d2", 300, 1000.0) == (None, False)
    cache.put("demographics", "d2", {"id": "p"}, 800.0)
    assert lookup(cache, "demographics", "d2", 300, 1000.0)[1] is True
    assert lookup(cache, "demographics", "d2", 300, 1200.0)[1] is False


def test_forget(store):
    cache = ResourceCache(store, RETAIN)
    cache.put("clinical", "d3", [], 1.0)
    cache.forget("clinical", "d3")
    assert cache.get("clinical", "d3") is None
