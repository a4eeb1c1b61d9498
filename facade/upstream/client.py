"""A client for SystmOne's Client Integration interface.

Every call goes through ``SystmOneClient.call``: the one place that builds the
envelope, talks to the transport, checks the reply and keeps the DeviceID.
Later layers (throttle scheduling, single-flight, access audit) wrap this one
call site rather than opening connections of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from .. import __version__
from ..protocol import functions as fn
from ..protocol.envelope import OutputScheme, Request, Response, new_request_uid
from ..protocol.framing import DEFAULT_MAX_DOCUMENT
from ..protocol.identity import Identity
from ..protocol.xmlsafe import MalformedDocument, parse_document, text_of
from .device import DeviceIdStore, MemoryDeviceIdStore
from .errors import (
    PermanentError,
    TemporaryError,
    UpstreamError,
    UpstreamProtocolError,
)
from .transport import MissedSlot, Transport

#: The API key the simulator accepts and the facade sends unless told otherwise.
#: TPP issues a real key per product; this one only ever opens the simulator.
DEMO_API_KEY = "fac4de0000000001"
DEFAULT_DEVICE_VERSION = f"SystmOne FHIR facade {__version__}"
#: SNOMED CT and dm+d are what FHIR wants; SystmOne's own default is CTV3/Multilex.
DEFAULT_OUTPUT_SCHEME = OutputScheme(codes="Snomed", drugs="Dmd")


@dataclass(frozen=True)
class Exchange:
    """One request/response pair, as observers (audit, metrics) see it."""

    function: str
    request_uid: str
    response_uid: str
    seconds: float
    outcome: str  # "ok", "error", or the UpstreamError class name


class SystmOneClient:
    def __init__(
        self,
        transport: Transport,
        *,
        api_key: str,
        endpoint: str = "default",
        device_ids: DeviceIdStore | MemoryDeviceIdStore | None = None,
        device_version: str = DEFAULT_DEVICE_VERSION,
        output_scheme: OutputScheme | None = DEFAULT_OUTPUT_SCHEME,
        max_document: int = DEFAULT_MAX_DOCUMENT,
    ) -> None:
        self.transport = transport
        self.api_key = api_key
        self.endpoint = endpoint
        self.device_ids = device_ids if device_ids is not None else MemoryDeviceIdStore()
        self.device_version = device_version
        self.output_scheme = output_scheme
        self.max_document = max_document
        self.observers: list[Callable[[Exchange], None]] = []

    # -- the one call site ---------------------------------------------------

    def call(self, function: str, parameters: etree._Element | None = None) -> Response:
        """Send one request and return its successful response.

        Raises PermanentError/TemporaryError for SystmOne's error replies and the
        other UpstreamError kinds for transport and protocol failures.
        """
        started = time.monotonic()
        request_uid, response_uid, outcome = new_request_uid(), "", "ok"
        try:
            # Threads exchange concurrently, each on a connection of its own (the
            # transport's); a reply that fails its checks closes them all.
            with self.device_ids.first_contact(self.endpoint) as device_id:
                request = Request(
                    api_key=self.api_key,
                    device_id=device_id,
                    device_version=self.device_version,
                    request_uid=request_uid,
                    function=function,
                    output_scheme=self.output_scheme,
                    parameters=parameters if parameters is not None
                    else fn.parameters_element(),
                )
                response = self._read_reply(self.transport.exchange(request.to_bytes()), request)
                response_uid = response.response_uid
                self._remember_device(response)
            _raise_for_error(response)
            return response
        except MissedSlot:
            outcome = ""  # nothing was sent: nothing to report
            raise
        except UpstreamError as error:
            outcome = "error" if isinstance(error, PermanentError | TemporaryError) \
                else type(error).__name__
            response_uid = getattr(error, "response_uid", response_uid)
            raise
        finally:
            if outcome:
                exchange = Exchange(function, request_uid, response_uid,
                                    time.monotonic() - started, outcome)
                for observer in self.observers:
                    observer(exchange)

    def close(self) -> None:
        self.transport.close()

    # -- functions -------------------------------------------------------------

    def get_functions(self) -> dict[str, tuple[str, ...]]:
        body = self.call(fn.GET_FUNCTIONS).body
        return {text_of(supported, "Function") or "":
                tuple((version.text or "").strip() for version in supported.findall("Version"))
                for supported in body.findall("SupportedFunction")}

    def get_organisation_metadata(self, logged_on_user_only: bool = False) -> etree._Element:
        parameters = fn.organisation_parameters(logged_on_user_only)
        return self.call(fn.GET_ORGANISATION_METADATA, parameters).body

    def patient_search(self, criteria: fn.PatientSearchCriteria) -> list[etree._Element]:
        """The ``Result`` elements of a PatientSearch (empty when nothing matches)."""
        if len(criteria.given()) < 2:
            # Checked here too, so an invalid search never spends a request slot.
            raise ValueError("At least two search parameters must be specified")
        return self.call(fn.PATIENT_SEARCH, criteria.to_parameters()).body.findall("Result")

    def get_patient_record(self, identity: Identity | None,
                           record_filter: fn.RecordFilter | None = None,
                           leave_record_open: bool = False) -> etree._Element:
        """The ``Response`` element: Identity, Demographics?, Clinical?, NonClinical?,
        RecordState."""
        request = fn.RecordRequest(identity, record_filter, leave_record_open)
        return self.call(fn.GET_PATIENT_RECORD, request.to_parameters()).body

    def get_document(self, identity: Identity, document_uid: str, write_to: str) -> list[str]:
        """GetDocument: SystmOne writes the document into ``write_to`` (a folder on its own
        PC) and names the file(s) it wrote, as paths on that PC; reading them is the
        caller's business (facade/documents.py)."""
        request = fn.DocumentRequest(identity, document_uid, write_to)
        files = fn.document_files(self.call(fn.GET_DOCUMENT, request.to_parameters()).body)
        if not files:
            raise UpstreamProtocolError("GetDocument reply names no DocumentFile")
        return files

    def is_patient_retrieved(self) -> bool:
        body = self.call(fn.IS_PATIENT_RETRIEVED).body
        return (text_of(body, "IsPatientRetrieved") or "").lower() == "true"

    # -- reply checks ----------------------------------------------------------

    def _read_reply(self, raw: bytes, request: Request) -> Response:
        try:
            response = Response.from_element(parse_document(raw, self.max_document))
        except (MalformedDocument, ValueError) as error:
            self.transport.close()
            raise UpstreamProtocolError(f"unreadable reply to {request.function}: {error}") \
                from None
        if response.request_uid != request.request_uid and not (
                response.error and not response.request_uid):
            self.transport.close()
            raise UpstreamProtocolError(
                f"reply to {request.function} carries RequestUID {response.request_uid!r}, "
                f"expected {request.request_uid!r}")
        if response.function and response.function != request.function:
            raise UpstreamProtocolError(
                f"reply to {request.function} is for function {response.function!r}")
        return response

    def _remember_device(self, response: Response) -> None:
        if response.device_id and response.device_id != self.device_ids.get(self.endpoint):
            self.device_ids.set(self.endpoint, response.device_id)


def _raise_for_error(response: Response) -> None:
    error = response.error
    if error is None:
        return
    kind = PermanentError if error.permanent else TemporaryError
    raise kind(error.message, function=response.function, request_uid=response.request_uid,
               response_uid=response.response_uid)
