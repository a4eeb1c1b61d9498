"""Every 4xx/5xx answer is an OperationOutcome; this module makes them.

``FhirError`` carries status, FHIR issue type and diagnostics, and where a national
code says more (GP Connect's Spine error codes, e.g. INVALID_NHS_NUMBER) the issue's
``details``; the upstream error tree is mapped onto it in one place (``upstream_error``).
"""

from __future__ import annotations

import math

from ..protocol.xmlsafe import xml_safe
from ..stewardship.ledger import Throttled
from ..upstream.errors import (
    PermanentError,
    TemporaryError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

#: GP Connect's error codes (the Spine error or warning codes its providers answer with).
SPINE_ERROR_CODES = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"


class FhirError(Exception):
    def __init__(self, status: int, code: str, diagnostics: str,
                 headers: dict[str, str] | None = None, details: dict | None = None) -> None:
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics = status, code, diagnostics
        self.headers = headers or {}
        self.details = details  # a CodeableConcept: the issue's details, when a code says more

    def outcome(self) -> dict:
        return operation_outcome(self.code, self.diagnostics, details=self.details)


def spine_error(code: str, display: str) -> dict:
    """An issue's details as GP Connect gives them: a Spine error code."""
    return {"coding": [{"system": SPINE_ERROR_CODES, "code": code, "display": display}]}


def operation_outcome(code: str, diagnostics: str, severity: str = "error",
                      details: dict | None = None) -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [issue(code, diagnostics, severity, details)]}


def issue(code: str, diagnostics: str, severity: str = "error",
          details: dict | None = None) -> dict:
    """One issue. Diagnostics often echo the caller's input: what XML cannot hold is
    replaced, so the outcome can be answered in XML too."""
    found = {"severity": severity, "code": code}
    if details is not None:
        found["details"] = details
    return {**found, "diagnostics": xml_safe(diagnostics)}


def search_outcome(warnings: list[dict], said: dict | None) -> dict | None:
    """The searchset's outcome entry: ``warnings`` about the search itself (what was
    ignored) and the issues the source ``said`` (what the record held but was not served),
    in one OperationOutcome; None when there is nothing to say."""
    issues = [*warnings, *(said or {}).get("issue", [])]
    return {"resourceType": "OperationOutcome", "issue": issues} if issues else None


def upstream_error(error: UpstreamError | Throttled) -> FhirError:
    if isinstance(error, Throttled):
        return FhirError(429, "throttled", str(error), {"Retry-After": _seconds(error)})
    if isinstance(error, UpstreamUnavailable):
        return FhirError(503, "transient", error.message, {"Retry-After": _seconds(error)})
    if isinstance(error, TemporaryError):
        return FhirError(503, "transient", f"SystmOne is busy: {error.message}",
                         {"Retry-After": "30"})
    if isinstance(error, UpstreamTimeout):
        return FhirError(504, "timeout", "SystmOne did not answer in time",
                         {"Retry-After": _seconds(error)})
    if isinstance(error, UpstreamConnectionError):
        return FhirError(503, "transient", "SystmOne cannot be reached",
                         {"Retry-After": _seconds(error)})
    if isinstance(error, PermanentError):
        return FhirError(502, "exception", f"SystmOne refused the request: {error.message}")
    if isinstance(error, UpstreamProtocolError):
        return FhirError(502, "exception", "SystmOne sent an unreadable reply")
    return FhirError(502, "exception", "SystmOne request failed")


def _seconds(error: Throttled | UpstreamError) -> str:
    """Retry-After in whole seconds, rounded up: a client that waits that long finds room
    (30 when nobody said: SystmOne's longest interval)."""
    seconds = error.retry_after
    return str(max(1, math.ceil(seconds))) if seconds is not None else "30"
