import json
import os
import subprocess
import sys
import textwrap
import time

from facade.upstream.device import DeviceIdStore


def test_ids_persist_per_endpoint_with_private_permissions(tmp_path):
    store = DeviceIdStore(tmp_path / "ids.json")
    assert store.get("a:1") == ""
    store.set("a:1", "0123456789abcdef")
    store.set("b:2", "fedcba9876543210")
    again = DeviceIdStore(tmp_path / "ids.json")
    assert (again.get("a:1"), again.get("b:2")) == ("0123456789abcdef", "fedcba9876543210")
    assert os.stat(tmp_path / "ids.json").st_mode & 0o077 == 0


def test_a_change_by_another_process_is_seen(tmp_path):
    path = tmp_path / "ids.json"
    store = DeviceIdStore(path)
    store.set("a:1", "1111111111111111")
    assert store.get("a:1") == "1111111111111111"
    path.write_text(json.dumps({"a:1": "2222222222222222"}))
    os.utime(path, ns=(1, 1))  # a different mtime, as another writer would leave
    assert store.get("a:1") == "2222222222222222"


def test_first_contact_is_exclusive_across_processes(tmp_path):
    """While one process makes its first request, another waits and then uses its id."""
    path = tmp_path / "ids.json"
    store = DeviceIdStore(path)
    script = textwrap.dedent(f"""
        from facade.upstream.device import DeviceIdStore
        with DeviceIdStore({str(path)!r}).first_contact("e") as device_id:
            print(device_id or "none")
    """)
    with store.first_contact("e") as device_id:
        assert device_id == ""
        other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 text=True)
        time.sleep(1.0)  # without the lock, the other process would read "" meanwhile
        store.set("e", "abcdefabcdefabcd")  # re-entrant: no deadlock on our own lock
    assert other.communicate(timeout=20)[0].strip() == "abcdefabcdefabcd"
