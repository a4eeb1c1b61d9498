"""The harness's own SystmOne calls, booked in the facade's slot ledger like every other.

The scripted interface test talks to SystmOne directly (it sends what the facade
never would: a one-criterion search, an unknown patient), but it shares the
endpoint's budget with any facade serving from the same state dir, so each call
books its slot in the same ledger first, as ``facade upstream`` does
(upstream/booking.py), silently: the run's progress line says when
the next slot is free. A request that would leave after its slot's margin is not
sent; the slot is released and another booked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..stewardship.ledger import SlotLedger
from ..upstream.booking import booked_call
from ..upstream.client import SystmOneClient

T = TypeVar("T")


class Pacer:
    def __init__(self, client: SystmOneClient, ledger: SlotLedger, max_wait: float) -> None:
        self.client = client
        self.ledger = ledger
        self.max_wait = max_wait

    def call(self, action: Callable[[SystmOneClient], T], full_record: bool = False) -> T:
        """``action`` (one request) sent in its booked slot; Throttled beyond max_wait."""
        return booked_call(self.client, self.ledger, self.max_wait, action, full_record)

    def next_free(self) -> tuple[float, float]:
        """Seconds until the endpoint's next request slot and next record slot."""
        now = self.ledger.clock()
        endpoint = self.client.endpoint
        return (max(0.0, self.ledger.next_free(endpoint) - now),
                max(0.0, self.ledger.next_free(endpoint, True) - now))
