"""The harness's own SystmOne calls, booked in the facade's slot ledger like every other.

The scripted interface test talks to SystmOne directly (it sends what the facade
never would: a one-criterion search, an unknown patient), but it shares the
endpoint's budget with any facade serving from the same state dir, so each call
books its slot in the same ledger first, as ``facade upstream`` does
(upstream/cli.py's BookedUpstream), silently: the run's progress line says when
the next slot is free. A request that would leave after its slot's margin is not
sent; the slot is released and another booked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..stewardship.ledger import SlotLedger, Throttled
from ..upstream.client import SystmOneClient
from ..upstream.transport import MissedSlot, send_deadline, sent_at

T = TypeVar("T")
#: Slots given up for waking too late before the call gives up.
MAX_REBOOKINGS = 3


class Pacer:
    def __init__(self, client: SystmOneClient, ledger: SlotLedger, max_wait: float) -> None:
        self.client = client
        self.ledger = ledger
        self.max_wait = max_wait

    def call(self, action: Callable[[SystmOneClient], T], full_record: bool = False) -> T:
        """``action`` (one request) sent in its booked slot; Throttled beyond max_wait."""
        for _ in range(MAX_REBOOKINGS):
            slot = self.ledger.reserve(self.client.endpoint, full_record, self.max_wait)
            self.ledger.wait_for(slot)
            deadline = send_deadline.set(slot.start + self.ledger.send_margin / 2)
            sent = sent_at.set(None)  # set by the transport once the request leaves
            try:
                return action(self.client)
            except MissedSlot:
                if sent_at.get() is None:  # nothing left: the slot is free again
                    self.ledger.release(slot)
            finally:
                send_deadline.reset(deadline)
                sent_at.reset(sent)
        raise Throttled(self.ledger.rule.request_us / 1e6)

    def next_free(self) -> tuple[float, float]:
        """Seconds until the endpoint's next request slot and next record slot."""
        now = self.ledger.clock()
        endpoint = self.client.endpoint
        return (max(0.0, self.ledger.next_free(endpoint) - now),
                max(0.0, self.ledger.next_free(endpoint, True) - now))
