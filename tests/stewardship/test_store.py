"""The shared store's contract, run against both backends."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import pytest

from facade.stewardship import open_store
from facade.stewardship.redis_store import RedisStore
from facade.stewardship.slots import SlotRule
from facade.stewardship.sqlite_store import SQLiteStore
from facade.stewardship.store import EMBEDDED_FILE

from .workers import open_and_write, race_to_add, run_together

ODD_KEYS = ["plain", "name=O'Brien", "x' OR '1'='1", 'quote"d', "spaces and\nnewline",
            "{hash}tag", "ünïcødé/path/like", "", "%s%d?"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_any_string_is_a_key_and_any_bytes_a_value(store, key):
    value = b"\x00binary\xff" + key.encode()
    assert store.get(key) is None
    store.set(key, value)
    assert store.get(key) == value
    assert store.get(key + "x") is None  # no prefix matching, no injection


def test_empty_and_large_values_round_trip(store):
    store.set("empty", b"")
    assert store.get("empty") == b""
    large = os.urandom(2 * 1024 * 1024)
    store.set("large", large)
    assert store.get("large") == large


def test_set_replaces_the_value_and_its_ttl(store):
    store.set("k", b"one", ttl=0.2)
    store.set("k", b"two")  # no TTL now: kept
    time.sleep(0.3)
    assert store.get("k") == b"two"
    store.set("k", b"three", ttl=0.2)
    assert store.get("k") == b"three"
    time.sleep(0.3)
    assert store.get("k") is None


def test_a_value_lives_for_its_ttl(store):
    store.set("short", b"v", ttl=0.3)
    store.set("long", b"v", ttl=30)
    time.sleep(0.1)
    assert store.get("short") == b"v"
    time.sleep(0.3)
    assert store.get("short") is None
    assert store.get("long") == b"v"


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_a_ttl_must_be_positive(store, ttl):
    with pytest.raises(ValueError, match="TTL"):
        store.set("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="TTL"):
        store.add("k", b"v", ttl=ttl)


def test_add_stores_only_when_absent_or_expired(store):
    assert store.add("lease", b"first", ttl=0.2) is True
    assert store.add("lease", b"second", ttl=0.2) is False
    assert store.get("lease") == b"first"
    time.sleep(0.3)
    assert store.add("lease", b"third", ttl=None) is True
    assert store.get("lease") == b"third"
    assert store.add("lease", b"fourth", ttl=1) is False  # no TTL: held until deleted
    store.delete("lease")
    assert store.add("lease", b"fifth", ttl=1) is True


def test_delete_says_whether_there_was_a_value(store):
    store.set("k", b"v")
    assert store.delete("k") is True
    assert store.delete("k") is False
    assert store.get("k") is None
    store.set("gone", b"v", ttl=0.1)
    time.sleep(0.2)
    assert store.delete("gone") is False  # expired counts as absent


def test_delete_with_expected_removes_only_that_value(store):
    store.set("lease", b"holder-a")
    assert store.delete("lease", expected=b"holder-b") is False
    assert store.get("lease") == b"holder-a"
    assert store.delete("lease", expected=b"holder-a") is True
    assert store.get("lease") is None
    assert store.delete("lease", expected=b"holder-a") is False


def test_exactly_one_thread_wins_an_add_race(store):
    barrier = threading.Barrier(16)
    wins: list[int] = []

    def contend(number: int) -> None:
        barrier.wait()
        if store.add("contested", str(number).encode(), ttl=30):
            wins.append(number)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert store.get("contested") == str(wins[0]).encode()


def test_exactly_one_process_wins_each_add_race(spec, store):
    keys = [f"jti-{n}" for n in range(200)]
    won = run_together(race_to_add, [spec] * 4, [keys] * 4)
    winners = [key for keys_won in won for key in keys_won]
    assert sorted(winners) == sorted(keys)  # every key won once, by one process only
    assert all(store.get(key) == b"mine" for key in keys)


# -- backend specifics ----------------------------------------------------------


def test_open_store_is_embedded_in_the_state_dir_by_default(tmp_path):
    with open_store(tmp_path, None) as embedded:
        assert isinstance(embedded, SQLiteStore)
        assert embedded.path == tmp_path / EMBEDDED_FILE


def test_open_store_uses_redis_when_given_a_url(tmp_path, redis_url):
    with open_store(tmp_path, redis_url) as shared:
        assert isinstance(shared, RedisStore)
        assert not (tmp_path / EMBEDDED_FILE).exists()


def test_the_embedded_file_is_private(tmp_path):
    with open_store(tmp_path, None) as store:
        store.set("k", b"patient data")
        for path in store.path.parent.iterdir():  # the database, its -wal and -shm
            assert path.stat().st_mode & 0o077 == 0, path
        assert store.path.parent.stat().st_mode & 0o077 == 0


def test_the_embedded_store_sweeps_expired_values(tmp_path):
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        store.set("old", b"v", ttl=0.05)
        store.set("kept", b"v")
        time.sleep(0.1)
        assert store.sweep() == 1
        assert store.get("kept") == b"v"


def test_processes_may_create_the_embedded_store_together(tmp_path):
    keys = [f"process-{n}" for n in range(4)]
    read = run_together(open_and_write, [tmp_path] * 4, keys)
    assert read == [key.encode() for key in keys]


def test_the_embedded_store_reconnects_in_a_forked_child(tmp_path):
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        store.set("before", b"fork")
        with warnings.catch_warnings():  # Python 3.12+ frowns on fork(); gunicorn does it
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: must not use the parent's connection
            try:
                store.set("child", store.get("before") + b"ed")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert store.get("child") == b"forked"


def test_the_embedded_ledger_belongs_to_this_boot(tmp_path):
    """Slot starts are on the monotonic clock, which starts again at a reboot: bookings are
    stamped with the kernel's boot id, and those of another boot are dropped on opening."""
    kernel = Path("/proc/sys/kernel/random/boot_id")
    if not kernel.exists():
        pytest.skip("no kernel boot id here (not Linux)")
    path = tmp_path / "s.sqlite3"
    rule = SlotRule.from_seconds(1.0, 30.0)
    with SQLiteStore(path) as store:
        assert store.book_slot("pc1:40700", rule, True, 0).granted
    with sqlite3.connect(path) as db:
        stamped = {row[0] for table in ("slot_requests", "slot_records")
                   for row in db.execute(f"SELECT boot FROM {table}")}
        assert stamped == {kernel.read_text().strip()}
        # An earlier boot's bookings, an hour ahead on that boot's clock.
        db.execute("UPDATE slot_requests SET boot = 'an-earlier-boot', start_us = start_us + ?",
                   (3_600_000_000,))
        db.execute("UPDATE slot_records SET boot = 'an-earlier-boot', next_us = next_us + ?",
                   (3_600_000_000,))
    db.close()
    with SQLiteStore(path) as store:
        assert store.book_slot("pc1:40700", rule, True, 0).granted  # no wait for them
