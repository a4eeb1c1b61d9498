"""The per-thread SQLite connections: writers take turns on the lock file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from facade.sqlitedb import ThreadConnections


def test_a_writer_waits_for_the_one_holding_the_turn(tmp_path: Path) -> None:
    db = ThreadConnections(tmp_path / "x.sqlite3", lambda connection: None)
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with db.writing():
            holding.set()
            time.sleep(0.2)
            order.append("first done")

    def second() -> None:
        holding.wait(5)
        with db.writing():
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    db.close()
    assert order == ["first done", "second in"]
    assert (tmp_path / "x.sqlite3.lock").stat().st_mode & 0o777 == 0o600
