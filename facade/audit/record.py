"""One audited FHIR request, as the request path hands it to a sink."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccessRecord:
    #: When the request arrived, UTC, ISO 8601 with microseconds and "Z".
    time: str
    #: The caller's client_id, or "" when no valid token named one (a 401).
    client_id: str
    #: The scopes the token granted, space-separated as in the token ("" without a token).
    scopes: str
    #: "read", "search-type", "capabilities", "token", "introspect", ... (FHIR restful
    #: interaction codes where one applies).
    interaction: str
    #: The FHIR resource type asked for ("" when none, e.g. a token request).
    resource_type: str
    #: The opaque FHIR ids of the patients the request touched (asked for or returned).
    patient_ids: tuple[str, ...]
    #: The HTTP status of the answer.
    status: int
    #: The RequestUIDs of the SystmOne messages this request sent (none when served cached).
    request_uids: tuple[str, ...]
    #: Milliseconds from arrival to the answer.
    latency_ms: float
    #: Search parameter names used (never their values: they may be NNumbers or names).
    parameters: tuple[str, ...] = ()
    #: The error code of an OperationOutcome or OAuth error, when the answer was one.
    error: str = ""
    #: A unique id for the request (also sent back as X-Request-ID).
    request_id: str = ""
