"""Upstream stewardship: the state shared by all workers and instances.

``store`` is the shared-state interface (embedded SQLite or Redis) and
``ledger`` the throttle slot ledger built on it.
"""

from .ledger import Slot, SlotLedger, Throttled
from .store import Store, open_store

__all__ = ["Slot", "SlotLedger", "Store", "Throttled", "open_store"]
