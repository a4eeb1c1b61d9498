"""The DeviceID SystmOne issued to this installation, kept in the state dir.

SystmOne asks its user to approve every request that arrives with an empty
DeviceID, so the id from the first reply must be stored and sent ever after.
Ids are kept per SystmOne endpoint (each gateway PC's client issues its own)
in one small JSON file, replaced atomically under a lock so that several
worker processes never lose each other's ids. The very first request to an
endpoint is made while holding that lock (``first_contact``), so that workers
starting together cause one approval dialog, not one each.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..files import private_dir


class DeviceIdError(RuntimeError):
    """The DeviceID file exists but cannot be read; fix or remove it."""


class DeviceIdStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cached: tuple[int, dict[str, str]] | None = None  # (mtime_ns, ids)
        self._holder = threading.local()  # set while this thread holds the file lock

    @contextmanager
    def first_contact(self, endpoint: str) -> Iterator[str]:
        """Yield the id to send; with none yet, hold the lock until one is stored.

        Another process may have stored an id while we waited; that one is used.
        """
        device_id = self.get(endpoint)
        if device_id:
            yield device_id
            return
        with self._locked():
            yield self.get(endpoint)

    def get(self, endpoint: str) -> str:
        """The id for ``endpoint`` ('' if none yet); re-read only when the file changed."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return ""
        if self._cached is None or self._cached[0] != mtime:
            self._cached = (mtime, self._read())
        return self._cached[1].get(endpoint, "")

    def set(self, endpoint: str, device_id: str) -> None:
        with self._locked():
            ids = self._read()
            if ids.get(endpoint) == device_id:
                return
            ids[endpoint] = device_id
            temporary = self.path.with_suffix(".tmp")
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump(ids, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The cross-process lock; re-entrant within one thread (flock is not)."""
        if getattr(self._holder, "held", False):
            yield
            return
        private_dir(self.path.parent)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._holder.held = True
            try:
                yield
            finally:
                self._holder.held = False

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise DeviceIdError(f"cannot read device ids from {self.path}: {error}") from None
        return {str(key): str(value) for key, value in data.items()}


class MemoryDeviceIdStore:
    """A DeviceID store that forgets on exit; for tests and one-off tools."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    @contextmanager
    def first_contact(self, endpoint: str) -> Iterator[str]:
        yield self.get(endpoint)

    def get(self, endpoint: str) -> str:
        return self._ids.get(endpoint, "")

    def set(self, endpoint: str, device_id: str) -> None:
        self._ids[endpoint] = device_id
