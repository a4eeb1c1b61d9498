"""The FHIR REST API at /fhir: routing, search parameters, Bundles, errors.

The views stay thin: parameters are checked against the registry, questions go
to the RecordService, answers leave as JSON made with orjson from the
already-validated dicts.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..upstream.errors import UpstreamError
from ..upstream.pacing import Throttled
from . import patients, registry
from .outcome import FhirError, operation_outcome, upstream_error
from .search import coding_matches, date_range, tokens, values_at

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

FHIR_JSON = "application/fhir+json"
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
WRITE_METHODS = ["PUT", "POST", "DELETE", "PATCH"]


# --- responses ---------------------------------------------------------------------

def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    pretty = request.args.get("_pretty") == "true"
    data = orjson.dumps(body, option=orjson.OPT_INDENT_2 if pretty else 0)
    response = Response(data, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


@bp.errorhandler(FhirError)
def fhir_error(error: FhirError) -> Response:
    return fhir_response(operation_outcome(error.code, error.diagnostics), error.status,
                         error.headers)


@bp.errorhandler(UpstreamError)
@bp.errorhandler(Throttled)
def upstream_failure(error) -> Response:
    return fhir_error(upstream_error(error))


def base_url() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix


# --- routes ------------------------------------------------------------------------

@bp.get("/metadata")
def metadata() -> Response:
    return fhir_response(registry.capability_statement(base_url()))


@bp.route("/<resource_type>/<resource_id>", methods=["GET", *WRITE_METHODS])
def read(resource_type: str, resource_id: str) -> Response:
    definition = _resource(resource_type)
    if request.method != "GET":
        raise _not_allowed()
    if not ID_PATTERN.fullmatch(resource_id):
        raise FhirError(400, "invalid", f"{resource_id!r} is not a valid FHIR id")
    resource = (_read_patient if definition.type == "Patient" else _read_observation)(resource_id)
    if resource is None:
        raise FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known")
    return fhir_response(resource)


@bp.route("/<resource_type>", methods=["GET", *WRITE_METHODS])
def search(resource_type: str) -> Response:
    definition = _resource(resource_type)
    if request.method != "GET":
        raise _not_allowed()
    return _search(definition, request.args.to_dict(flat=False))


@bp.post("/<resource_type>/_search")
def search_by_post(resource_type: str) -> Response:
    definition = _resource(resource_type)
    if request.mimetype != "application/x-www-form-urlencoded":
        raise FhirError(415, "not-supported",
                        "POST _search takes an application/x-www-form-urlencoded body")
    params = request.args.to_dict(flat=False)
    for name, values in request.form.to_dict(flat=False).items():
        params.setdefault(name, []).extend(values)
    return _search(definition, params)


@bp.route("/<path:anything>", methods=["GET", *WRITE_METHODS])
def unknown(anything: str) -> Response:
    raise FhirError(404, "not-found", f"/{bp.url_prefix.strip('/')}/{anything} is not served")


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    if not request.path.startswith(bp.url_prefix):
        return error
    return fhir_response(operation_outcome("exception", error.description or error.name),
                         error.code or 500)


# --- reads -------------------------------------------------------------------------

def _service():
    return current_app.extensions["facade.records"]


def _read_patient(resource_id: str) -> dict | None:
    identity = _service().codec.patient_identity(resource_id)
    return _service().patient(identity) if identity is not None else None


def _read_observation(resource_id: str) -> dict | None:
    source = _service().codec.observation_source(resource_id)
    if source is None:
        return None
    observations = _service().observations(source[0]) or []
    return next((o for o in observations if o["id"] == resource_id), None)


# --- searches ----------------------------------------------------------------------

def _search(definition: registry.ResourceDef, params: dict[str, list[str]]) -> Response:
    search_params = _checked(definition, params)
    if definition.type == "Patient":
        found = _search_patients(search_params)
    else:
        found = _search_observations(search_params)
    total = len(found)
    count = _count(params)
    page = found[:count] if count is not None else found
    return fhir_response(_bundle(definition.type, page, total, search_params, count))


def _checked(definition: registry.ResourceDef, params: dict[str, list[str]]) -> dict:
    """The resource's own search parameters; unknown ones ignored, or refused when strict."""
    strict = "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")
    known = {}
    for name, values in params.items():
        if definition.param(name) is not None:
            known[name] = values
        elif name not in registry.CONTROL_PARAMS and strict:
            supported = ", ".join(p.name for p in definition.search_params)
            raise FhirError(400, "not-supported",
                            f"unknown search parameter {name!r} for {definition.type}; "
                            f"supported: {supported}")
    return known


def _count(params: dict[str, list[str]]) -> int | None:
    values = params.get("_count")
    if not values:
        return None
    if not values[-1].isdigit():
        raise FhirError(400, "invalid", f"_count must be a whole number, not {values[-1]!r}")
    return int(values[-1])


def _search_patients(params: dict[str, list[str]]) -> list[dict]:
    query = patients.plan(params, _service().codec)
    if query.matches_nothing:
        return []
    if query.identity is not None:
        patient = _service().patient(query.identity)
        return [patient] if patient is not None else []
    return [p for p in _service().search_patients(query.criteria) if query.keeps(p)]


def _search_observations(params: dict[str, list[str]]) -> list[dict]:
    references = params.get("patient", []) + params.get("subject", [])
    if not references:
        raise FhirError(400, "invalid", "Observation searches need patient (or subject): "
                                        "?patient=Patient/[id]")
    filters = _observation_filters(params)  # bad values are refused before SystmOne is asked
    patient_ids = {reference.rsplit("/", 1)[-1] for reference in references}
    if len(patient_ids) > 1:
        return []
    identity = _service().codec.patient_identity(patient_ids.pop())
    observations = _service().observations(identity) if identity is not None else None
    if not observations:
        return []
    return [o for o in observations if all(keep(o) for keep in filters)]


def _observation_filters(params: dict[str, list[str]]) -> list:
    filters = []
    for value in params.get("code", []):
        wanted = tokens("code", value)
        filters.append(lambda o, w=wanted: coding_matches(values_at(o, "code.coding"), w))
    for value in params.get("category", []):
        wanted = tokens("category", value)
        filters.append(lambda o, w=wanted: coding_matches(values_at(o, "category.coding"), w))
    for value in params.get("status", []):
        statuses = {token.code for token in tokens("status", value)}
        filters.append(lambda o, s=statuses: o.get("status") in s)
    for value in params.get("date", []):
        when = date_range("date", value)
        filters.append(lambda o, r=when: bool(o.get("effectiveDateTime"))
                       and r.matches(o["effectiveDateTime"]))
    return filters


def _bundle(resource_type: str, resources: list[dict], total: int,
            params: dict[str, list[str]], count: int | None) -> dict:
    base = base_url()
    pairs = [(name, value) for name, values in params.items() for value in values]
    query = urlencode(pairs + ([("_count", count)] if count is not None else []))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": f"{base}/{resource_type}?{query}".rstrip("?")}],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }


def _resource(resource_type: str) -> registry.ResourceDef:
    definition = registry.RESOURCES.get(resource_type)
    if definition is None:
        raise FhirError(404, "not-supported", f"resource type {resource_type!r} is not served; "
                                              f"served: {', '.join(registry.RESOURCES)}")
    return definition


def _not_allowed() -> FhirError:
    return FhirError(405, "not-supported", f"{request.method} is not supported: this server "
                                           "is read-only", {"Allow": "GET"})
