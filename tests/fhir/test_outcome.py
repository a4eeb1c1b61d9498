"""Every SystmOne failure's HTTP answer says when to come back (facade/fhir/outcome.py)."""

from __future__ import annotations

import pytest

from facade.fhir.outcome import upstream_error
from facade.stewardship.ledger import Throttled
from facade.upstream.errors import (
    PermanentError,
    TemporaryError,
    UpstreamConnectionError,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def taken_out(error, seconds):
    error.retry_after = seconds
    return error


@pytest.mark.parametrize("error, status, retry_after", [
    (Throttled(12.2), 429, "13"),
    (UpstreamUnavailable("all out", 0.2), 503, "1"),
    (TemporaryError("busy", function="F", request_uid="u"), 503, "30"),
    (taken_out(UpstreamTimeout("no reply"), 4.0), 504, "4"),
    (UpstreamTimeout("no reply"), 504, "30"),  # nobody said: SystmOne's longest interval
    (taken_out(UpstreamConnectionError("refused"), 2.5), 503, "3"),
    (UpstreamConnectionError("refused"), 503, "30"),
])
def test_every_retryable_failure_carries_retry_after(error, status, retry_after):
    answer = upstream_error(error)
    assert (answer.status, answer.headers.get("Retry-After")) == (status, retry_after)


def test_a_permanent_refusal_has_no_retry_after():
    answer = upstream_error(PermanentError("no", function="F", request_uid="u"))
    assert answer.status == 502 and "Retry-After" not in answer.headers
