"""Rendered answers, kept per worker: the same question about the same cached data is
answered with the same bytes, cut, shaped and serialised once.

A searchset page is keyed by the query, the base URL and the format, and holds a
weak reference to the list it was cut from (the record's decoded resources of
the type: a new version is a new list): it is served only while that very
version is alive, and never keeps a superseded version in memory.

A read is keyed by what makes its bytes: the resource's type, id, version
(``meta.versionId`` is a hash of its content) and ``meta.lastUpdated``, the query
and the format; it holds no reference (``source`` None), since the key alone names
the content. Bounded by count and by bytes (of the answers and of their keys, which
hold the query): the oldest answers go first.
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
        #: key -> (source, bytes, media type, bytes counted: the answer's and its key's)
        self._pages: OrderedDict[tuple, tuple[weakref.ref | None, bytes, str, int]] = \
            OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, source: Any = None) -> tuple[bytes, str] | None:
        """The answer's bytes and media type, if rendered from this very ``source`` (or,
        ``source`` None, if the key alone names its content)."""
        with self._lock:
            known = self._pages.get(key)
            if known is None or not _same(known[0], source):
                return None
            self._pages.move_to_end(key)
            return known[1], known[2]

    def put(self, key: tuple, source: Any, data: bytes, media_type: str) -> None:
        """Keep an answer (unless ``source`` cannot be referred to weakly, or it is too
        big); ``source`` None: the key alone names the content."""
        try:
            reference = None if source is None else weakref.ref(source)
        except TypeError:
            return
        cost = len(data) + len(repr(key))
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= old[3]
            self._pages[key] = (reference, data, media_type, cost)
            self._bytes += cost
            while len(self._pages) > self.max_pages or self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= dropped[3]


def _same(reference: weakref.ref | None, source: Any) -> bool:
    """Whether a kept answer was rendered from ``source``: the very object, or — both
    None — content its key names alone."""
    if reference is None or source is None:
        return reference is None and source is None
    return reference() is source
