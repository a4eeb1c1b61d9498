"""The Client Integration functions the simulator implements.

Each handler takes the request's context and returns the ``Response`` element,
or raises ``FunctionFailure`` for an error reply. ``FUNCTIONS`` is the single
list: GetFunctions reports exactly what is in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.envelope import FUNCTION_VERSION, OutputScheme, Request
from facade.protocol.identity import Identity, IdentityError

from .messages import error_text
from .practice import Practice
from .practice.index import PatientSummary, result_element
from .practice.organisation import ADDRESS_FIELDS, Organisation, Site, User
from .practice.render import render_record


class FunctionFailure(Exception):
    """An error reply: message text and whether it is permanent."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.message, self.permanent = error_text(key, **values)
        super().__init__(self.message)


class Throttled(Exception):
    """A GetPatientRecord arrived inside the 30-second window."""


@dataclass
class ClientState:
    """What the simulated SystmOne user has on screen."""

    open_record: Identity | None = None


@dataclass
class Context:
    practice: Practice
    request: Request
    scheme: OutputScheme
    state: ClientState
    today: dt.date
    #: Called for every non-exempt GetPatientRecord; False means throttled.
    admit_record_request: Callable[[], bool] = field(default=lambda: True)


Handler = Callable[[Context], etree._Element]


def _body(*children: etree._Element) -> etree._Element:
    body = etree.Element("Response")
    body.extend(children)
    return body


def _leaf(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


# --- GetFunctions ----------------------------------------------------------------

def get_functions(context: Context) -> etree._Element:
    body = _body()
    for name in FUNCTIONS:
        supported = _leaf(body, "SupportedFunction")
        _leaf(supported, "Function", name)
        _leaf(supported, "Version", FUNCTION_VERSION)
    return body


# --- GetOrganisationMetaData ---------------------------------------------------------

def get_organisation_metadata(context: Context) -> etree._Element:
    organisation: Organisation = context.practice.organisation
    parameters = context.request.parameters
    only_me = parameters is not None and parameters.find("LoggedOnUserOnly") is not None
    sites = [organisation.current_site] if only_me else list(organisation.sites)
    users = [organisation.current_user] if only_me else list(organisation.users)
    body = _body(*map(_site_element, sites), *map(_user_element, users))
    for slot_type in organisation.slot_types:
        _leaf(body, "SlotType", slot_type)
    for clinic_type in organisation.clinic_types:
        _leaf(body, "ClinicType", clinic_type)
    return body


def _site_element(site: Site) -> etree._Element:
    element = etree.Element("Site")
    _leaf(element, "Name", site.name)
    _leaf(element, "ID", site.id)
    _leaf(element, "Telephone", site.telephone)
    if site.fax:
        _leaf(element, "Fax", site.fax)
    if site.email:
        _leaf(element, "Email", site.email)
    address = _leaf(element, "Address")
    for tag in ADDRESS_FIELDS:
        _leaf(address, tag, site.address.get(tag, ""))
    if site.primary:
        _leaf(element, "PrimarySite")
    if site.current:
        _leaf(element, "CurrentSite")
    return element


def _user_element(user: User) -> etree._Element:
    element = etree.Element("User")
    for tag, value in (("Title", user.title), ("FirstName", user.first_name),
                       ("MiddleNames", user.middle_names), ("Surname", user.surname),
                       ("UserName", user.user_name), ("Gender", user.gender),
                       ("Role", user.role), ("RoleCode", user.role_code),
                       ("NationalID", user.national_id),
                       ("NationalIDType", user.national_id_type)):
        _leaf(element, tag, value)
    for container, tag, values in (("AccessRights", "Access", user.access_rights),
                                   ("UserGroups", "Group", user.groups),
                                   ("Teams", "Team", user.teams)):
        parent = _leaf(element, container)
        for value in values:
            _leaf(parent, tag, value)
    if user.current:
        _leaf(element, "CurrentUser")
    return element


# --- PatientSearch -------------------------------------------------------------------

def patient_search(context: Context) -> etree._Element:
    try:
        criteria = fn.PatientSearchCriteria.from_parameters(context.request.parameters)
    except ValueError as error:
        raise FunctionFailure("invalid_request", function=fn.PATIENT_SEARCH,
                              detail=str(error)) from None
    if len(criteria.given()) < 2:
        raise FunctionFailure("too_few_criteria")
    return _body(*map(result_element, context.practice.search(criteria)))


# --- GetPatientRecord ---------------------------------------------------------------

def get_patient_record(context: Context) -> etree._Element:
    try:
        request = fn.RecordRequest.from_parameters(context.request.parameters)
    except (ValueError, IdentityError) as error:
        raise FunctionFailure("invalid_request", function=fn.GET_PATIENT_RECORD,
                              detail=str(error)) from None
    if not request.exempt_from_record_throttle(context.today) \
            and not context.admit_record_request():
        raise Throttled()
    patient = _patient(context, request.identity)
    if request.leave_record_open:
        context.state.open_record = patient.identity
    state = "Open" if context.state.open_record == patient.identity else "Closed"
    return render_record(context.practice.record(patient), request.filter, context.scheme,
                         context.practice.translates_codes, state)


def _patient(context: Context, identity: Identity | None) -> PatientSummary:
    if identity is None:
        identity = context.state.open_record
        if identity is None:
            raise FunctionFailure("no_open_record")
    patient = context.practice.find(identity)
    if patient is None:
        raise FunctionFailure("patient_not_found")
    return patient


# --- GetDocument ----------------------------------------------------------------------

def get_document(context: Context) -> etree._Element:
    """Write the document's file(s) into WriteTo (a folder on this machine, which must
    exist, as on the SystmOne PC) and name each written path (TPP spec v33.4)."""
    try:
        request = fn.DocumentRequest.from_parameters(context.request.parameters)
    except (ValueError, IdentityError) as error:
        raise FunctionFailure("invalid_request", function=fn.GET_DOCUMENT,
                              detail=str(error)) from None
    patient = _patient(context, request.identity)
    try:
        files = context.practice.document(patient, request.document_uid)
    except OSError:
        files = None
    if not files:
        raise FunctionFailure("document_not_found", uid=request.document_uid)
    folder = Path(request.write_to)
    if not folder.is_dir():
        raise FunctionFailure("write_to_unusable", folder=request.write_to)
    body = _body()
    try:
        for file in files:
            target = folder / file.name
            target.write_bytes(file.data)
            _leaf(body, "DocumentFile", str(target))
    except OSError:
        raise FunctionFailure("write_to_unusable", folder=request.write_to) from None
    if request.leave_record_open:
        context.state.open_record = patient.identity
    _leaf(body, "RecordState", "Open" if context.state.open_record == patient.identity
          else "Closed")
    return body


# --- IsPatientRetrieved -------------------------------------------------------------

def is_patient_retrieved(context: Context) -> etree._Element:
    body = _body()
    _leaf(body, "IsPatientRetrieved", "true" if context.state.open_record else "false")
    return body


FUNCTIONS: dict[str, Handler] = {
    fn.GET_FUNCTIONS: get_functions,
    fn.GET_ORGANISATION_METADATA: get_organisation_metadata,
    fn.PATIENT_SEARCH: patient_search,
    fn.GET_PATIENT_RECORD: get_patient_record,
    fn.IS_PATIENT_RETRIEVED: is_patient_retrieved,
    fn.GET_DOCUMENT: get_document,
}
