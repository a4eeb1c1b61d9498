"""The bulkhead's arithmetic and admission (facade/stewardship/bulkhead.py)."""

from __future__ import annotations

import pytest

from facade.stewardship.bulkhead import RETRY_AFTER, Bulkhead, Saturated
from facade.stewardship.ledger import Throttled


@pytest.mark.parametrize("threads, capacity", [(1, 1), (2, 1), (3, 2), (4, 3), (8, 6),
                                               (16, 12)])
def test_a_quarter_of_the_threads_at_least_one_is_kept_for_cached_answers(threads, capacity):
    assert Bulkhead.for_threads(threads).capacity == capacity


def test_it_admits_up_to_its_capacity_then_refuses_at_once():
    bulkhead = Bulkhead(2)
    with bulkhead.admit(), bulkhead.admit(), pytest.raises(Saturated) as refused, \
            bulkhead.admit():
        pass
    assert isinstance(refused.value, Throttled)  # answered like any spent budget: 429
    assert refused.value.retry_after == RETRY_AFTER
    assert "all 2 of this worker's threads" in str(refused.value)
    with bulkhead.admit(), bulkhead.admit():  # both given back
        pass


def test_a_failing_request_gives_its_place_back():
    bulkhead = Bulkhead(1)
    with pytest.raises(RuntimeError), bulkhead.admit():
        raise RuntimeError("SystmOne went away")
    with bulkhead.admit():
        pass


def test_a_bulkhead_admits_someone():
    with pytest.raises(ValueError):
        Bulkhead(0)
