"""Rendered searchset pages, kept per worker: the same question about the same cached
record is answered with the same bytes, cut, shaped and serialised once.

A page is keyed by the identity of the record's decoded Observations (a new
version is a new list), the query, the base URL and the format, and holds a
weak reference to that list: a page is served only while the very version it
was cut from is alive, and never keeps a superseded version in memory.
Bounded by count and by bytes: the oldest pages go first.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

MAX_PAGES = 32
MAX_BYTES = 16 << 20


class RenderedPages:
    def __init__(self, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES) -> None:
        self.max_pages = max_pages
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple, tuple[weakref.ref, bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, source: Any) -> tuple[bytes, str] | None:
        """The page's bytes and media type, if rendered from this very ``source``."""
        with self._lock:
            known = self._pages.get(key)
            if known is None or known[0]() is not source:
                return None
            self._pages.move_to_end(key)
            return known[1], known[2]

    def put(self, key: tuple, source: Any, data: bytes, media_type: str) -> None:
        """Keep a page (unless ``source`` cannot be referred to weakly, or it is too big)."""
        try:
            reference = weakref.ref(source)
        except TypeError:
            return
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._pages[key] = (reference, data, media_type)
            self._bytes += len(data)
            while len(self._pages) > self.max_pages or self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped[1])
