"""One SystmOne call sent in a slot booked for it in the shared ledger.

What ``facade upstream`` and ``facade assure`` do for each request they send outside
the facade's pool (which books its own): reserve the endpoint's next request (or
full-record) slot, wait for it, and send only while the slot's margin lasts. A request
that would leave later (the process woke late) is not sent: the transport raises
MissedSlot before its first byte, the slot is given back and another booked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..stewardship.ledger import Slot, SlotLedger, Throttled
from .client import SystmOneClient
from .transport import MissedSlot, send_deadline, sent_at

T = TypeVar("T")
#: Slots given up for waking too late before the call gives up.
MAX_REBOOKINGS = 3


def booked_call(client: SystmOneClient, ledger: SlotLedger, max_wait: float,
                action: Callable[[SystmOneClient], T], full_record: bool = False,
                announce: Callable[[float], None] | None = None) -> T:
    """``action`` (one request) sent in its booked slot; Throttled beyond ``max_wait``
    seconds in all. ``announce`` is told each wait (seconds) before it starts."""
    waited_from = ledger.clock()
    for _ in range(MAX_REBOOKINGS):
        slot = ledger.reserve_in_time(client.endpoint, full_record,
                                      max_wait - (ledger.clock() - waited_from))
        if announce is not None:
            announce(slot.start - ledger.clock())
        ledger.wait_for(slot)
        deadline = send_deadline.set(slot.send_by)
        sent = sent_at.set(None)  # set by the transport once a request leaves
        try:
            return action(client)
        except MissedSlot:
            _release_unsent(ledger, slot)
        finally:
            send_deadline.reset(deadline)
            sent_at.reset(sent)
    raise Throttled(ledger.rule.request_us / 1e6)


def _release_unsent(ledger: SlotLedger, slot: Slot) -> None:
    """Give the missed slot back, so the next booking may start at once. Should an
    earlier request of the same action have left, the slot was used and is kept."""
    if sent_at.get() is None:
        ledger.release(slot)
