"""What can go wrong talking to a SystmOne client.

::

    UpstreamError
     ├── UpstreamConnectionError   cannot connect, or the connection broke
     ├── UpstreamTimeout           no reply in time (a throttled message gets none)
     ├── UpstreamProtocolError     a reply that is not a valid answer to our request
     ├── UpstreamUnavailable       no endpoint can take the request now (all taken out)
     └── UpstreamErrorReply        SystmOne answered with ErrorMessage
          ├── PermanentError       PermanentError=true: do not retry
          └── TemporaryError       PermanentError=false: retry later

Callers above the client (the FHIR API) map these to HTTP answers in one place.
"""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of every error raised by the SystmOne client. ``retry_after``: seconds until
    the endpoint is tried again, where that is known (the pool sets it when a timeout or
    a broken connection takes the endpoint out)."""

    retry_after: float | None = None


class UpstreamConnectionError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass


class UpstreamUnavailable(UpstreamError):
    """Every SystmOne endpoint is taken out after failing; ``retry_after`` says when the
    first is tried again. Also what joiners of a failed shared call see."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


class UpstreamErrorReply(UpstreamError):
    """An error envelope. ``request_uid`` / ``response_uid`` identify it in TPP's audit."""

    permanent: bool = True

    def __init__(self, message: str, *, function: str, request_uid: str,
                 response_uid: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.function = function
        self.request_uid = request_uid
        self.response_uid = response_uid

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "temporary"
        return f"{self.function} failed ({kind}): {self.message}"


class PermanentError(UpstreamErrorReply):
    permanent = True


class TemporaryError(UpstreamErrorReply):
    permanent = False
