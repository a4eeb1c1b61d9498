"""The FHIR REST API at /fhir: routing, search parameters, Bundles, errors.

The views stay thin: parameters are checked against the registry, questions go
to the RecordService, answers leave as JSON made with orjson from the
already-validated dicts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import orjson
from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from .. import metrics, urls
from ..audit import trail
from ..audit.auditevent import query_from_params, to_audit_event
from ..auth import guard
from ..auth.tokens import InvalidToken
from ..stewardship.ledger import Throttled
from ..upstream.errors import UpstreamError
from . import pages, patients, registry, results
from .outcome import FhirError, operation_outcome, upstream_error
from .search import coding_matches, date_range, tokens, values_at
from .xml import to_xml

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
WRITE_METHODS = ["PUT", "POST", "DELETE", "PATCH"]


# --- responses ---------------------------------------------------------------------

#: Every way a client may name the two formats, in _format or Accept.
FORMATS = {"json": "json", "application/json": "json", FHIR_JSON: "json",
           "application/json+fhir": "json", "xml": "xml", "text/xml": "xml",
           "application/xml": "xml", FHIR_XML: "xml", "application/xml+fhir": "xml"}


_PLAIN_ACCEPT = {"": "json", "*/*": "json", FHIR_JSON: "json", "application/json": "json",
                 FHIR_XML: "xml", "application/xml": "xml"}


def response_format() -> str:
    """json or xml: ``_format`` first, then Accept; FhirError 406 for anything else."""
    asked = request.args.get("_format") if request.environ.get("QUERY_STRING") else None
    if asked is not None:
        # An unencoded "+" in a URL arrives as a space: application/fhir json.
        chosen = FORMATS.get(asked.split(";")[0].strip().replace(" ", "+"))
        if chosen is None:
            raise FhirError(406, "not-supported", f"_format={asked} is not served; "
                                                  "use json or xml")
        return chosen
    header = request.environ.get("HTTP_ACCEPT", "")
    if header in _PLAIN_ACCEPT:  # the usual headers, without parsing them each time
        return _PLAIN_ACCEPT[header]
    accept = request.accept_mimetypes
    if not accept or accept.best == "*/*":
        return "json"
    best = accept.best_match([FHIR_JSON, "application/json", FHIR_XML, "application/xml",
                              "text/xml"])
    if best is None:
        raise FhirError(406, "not-supported", f"cannot answer in {request.headers['Accept']}; "
                                              f"{FHIR_JSON} and {FHIR_XML} are served")
    return FORMATS[best]


def fhir_response(body: dict, status: int = 200, headers: dict | None = None,
                  content_format: str | None = None, plain: bytes | None = None) -> Response:
    """``body`` as JSON or XML; ``plain``, when given, is ``orjson.dumps(body)`` already."""
    return bytes_response(*_rendered(body, content_format or response_format(), plain),
                          status, headers)


def bytes_response(data: bytes, media_type: str, status: int = 200,
                   headers: dict | None = None) -> Response:
    return Response(data, status=status, headers={
        "Content-Type": f"{media_type}; charset=utf-8", "Cache-Control": "no-store",
        **CORS_HEADERS, **(headers or {})})


def _rendered(body: dict, content_format: str, plain: bytes | None = None) -> tuple[bytes, str]:
    if content_format == "xml":
        return to_xml(body, _pretty()), FHIR_XML
    if _pretty():
        return orjson.dumps(body, option=orjson.OPT_INDENT_2), FHIR_JSON
    return (plain if plain is not None else orjson.dumps(body)), FHIR_JSON


def _pretty() -> bool:
    return bool(request.environ.get("QUERY_STRING")) and request.args.get("_pretty") == "true"


@bp.errorhandler(FhirError)
def fhir_error(error: FhirError) -> Response:
    if not getattr(g, "audit_error", ""):
        trail.note_error(error.code)
    try:
        content_format = "json" if error.status == 406 else response_format()
    except FhirError:
        content_format = "json"
    return fhir_response(operation_outcome(error.code, error.diagnostics), error.status,
                         error.headers, content_format)


@bp.errorhandler(UpstreamError)
@bp.errorhandler(Throttled)
def upstream_failure(error) -> Response:
    if isinstance(error, Throttled):
        metrics.throttled()
    return fhir_error(upstream_error(error))


def base_url() -> str:
    return urls.fhir_base()


# --- who may ask -------------------------------------------------------------------

#: Answered without a token: what a client needs to find out how to get one.
OPEN_ENDPOINTS = {"fhir.metadata"}
_INTERACTIONS = {"fhir.read": "read", "fhir.search": "search",
                 "fhir.search_by_post": "search"}


#: Browsers' apps may call the API: bearer tokens, never cookies, so any origin may.
CORS_HEADERS = {"Access-Control-Allow-Origin": "*",
                "Access-Control-Expose-Headers": "ETag, Last-Modified, Retry-After, "
                                                 "WWW-Authenticate, X-Request-ID"}


@bp.before_request
def _authorized() -> Response | None:
    """Token first (401), then scope for the interaction (403); the view does the rest."""
    if request.method == "OPTIONS":  # a CORS preflight carries no token
        return Response(status=204, headers={
            **CORS_HEADERS, "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, "
                                            "Cache-Control, If-None-Match, Prefer",
            "Access-Control-Max-Age": "600"})
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    access = guard.authenticate()
    interaction = _INTERACTIONS.get(request.endpoint or "")
    definition = registry.RESOURCES.get((request.view_args or {}).get("resource_type", ""))
    if interaction is None or definition is None or request.method not in ("GET", "POST"):
        return None  # unknown types and writes are answered 404/405 by the views
    guard.authorize(access, definition.type, interaction, definition.explicit_scope_only)
    return None


@bp.after_request
def _cors(response: Response) -> Response:
    if "Access-Control-Allow-Origin" not in response.headers:  # fhir_response sets them
        response.headers.update(CORS_HEADERS)
    return response


@bp.errorhandler(InvalidToken)
def invalid_token(error: InvalidToken) -> Response:
    trail.note_error("invalid_token")
    challenge = f'Bearer realm="{base_url()}", error="invalid_token", ' \
                f'error_description="{_quoted(str(error))}"'
    return fhir_error(FhirError(401, "login", str(error), {"WWW-Authenticate": challenge}))


@bp.errorhandler(guard.Forbidden)
def forbidden(error: guard.Forbidden) -> Response:
    trail.note_error("insufficient_scope")
    challenge = f'Bearer realm="{base_url()}", error="insufficient_scope", ' \
                f'error_description="{_quoted(str(error))}"'
    return fhir_error(FhirError(403, "forbidden", str(error), {"WWW-Authenticate": challenge}))


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


# --- routes ------------------------------------------------------------------------

@bp.get("/metadata")
def metadata() -> Response:
    oauth = {"token": urls.token(), "introspect": urls.auth("introspect")}
    return fhir_response(registry.capability_statement(base_url(), oauth))


@bp.route("/<resource_type>/<resource_id>", methods=["GET", *WRITE_METHODS])
def read(resource_type: str, resource_id: str) -> Response:
    definition = _resource(resource_type)
    if request.method != "GET":
        raise _not_allowed()
    if not ID_PATTERN.fullmatch(resource_id):
        raise FhirError(400, "invalid", f"{resource_id!r} is not a valid FHIR id")
    resource = _READERS[definition.type](resource_id)
    if resource is None:
        raise FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known")
    controls = results.controls(definition, request.args.to_dict(flat=False))
    return _versioned_response(results.shaped(resource, controls))


def _versioned_response(resource: dict) -> Response:
    """A read: ETag from the content, Last-Modified from SystmOne, 304 when unchanged."""
    plain = orjson.dumps(resource)
    headers = dict(_validators(resource, plain))
    tag = headers["ETag"]
    if tag in _if_none_match():
        response = Response(status=304, headers=headers)
        response.headers["Cache-Control"] = "no-store"
        return response
    return fhir_response(resource, headers=headers, plain=plain)


def _validators(resource: dict, plain: bytes) -> tuple[tuple[str, str], ...]:
    """ETag and Last-Modified of a read, worked out once per content.

    Keyed by a hash of the (already shaped) resource's plain serialisation: far
    cheaper than the sorted serialisation and SHA-256 the ETag itself takes.
    """
    key = hash(plain)
    known = _VALIDATORS.get(key)
    if known is None:
        known = (("ETag", _etag(resource)), *_last_modified(resource))
        if len(_VALIDATORS) >= 4096:
            _VALIDATORS.clear()  # crude, but bounded; refilled by the next reads
        _VALIDATORS[key] = known
    return known


_VALIDATORS: dict[int, tuple[tuple[str, str], ...]] = {}


def _last_modified(resource: dict) -> tuple[tuple[str, str], ...]:
    updated = resource.get("meta", {}).get("lastUpdated")
    if not updated:
        return ()
    moment = dt.datetime.fromisoformat(updated.replace("Z", "+00:00"))
    return (("Last-Modified", http_date(moment)),)


def _etag(resource: dict) -> str:
    """A weak validator from the content, leaving out when it was fetched: an unchanged
    record read again keeps its ETag."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k != "lastUpdated"}
    content = orjson.dumps({**resource, "meta": meta}, option=orjson.OPT_SORT_KEYS)
    return 'W/"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def _if_none_match() -> set[str]:
    header = request.environ.get("HTTP_IF_NONE_MATCH", "")
    return {part.strip() for part in header.split(",") if part.strip()}


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
    code = {404: "not-found", 405: "not-supported"}.get(error.code or 500, "exception")
    return fhir_error(FhirError(error.code or 500, code, error.description or error.name))


# --- reads -------------------------------------------------------------------------

def _service():
    return current_app.extensions["facade.records"]


def _fresh_asked() -> bool:
    """``Cache-Control: no-cache`` (or the older ``Pragma``): fresh data, within the
    throttle; the cache is skipped, the slot ledger never."""
    environ = request.environ
    directives = f"{environ.get('HTTP_CACHE_CONTROL', '')},{environ.get('HTTP_PRAGMA', '')}"
    if directives == ",":  # neither header: the usual case
        return False
    return "no-cache" in {part.strip().lower() for part in directives.split(",")}


def _read_patient(resource_id: str) -> dict | None:
    trail.note_patients([resource_id])  # asked for: a refused attempt is traced to it too
    guard.confine(resource_id)
    identity = _service().codec.patient_identity(resource_id)
    return _service().patient(identity, _fresh_asked()) if identity is not None else None


def _read_observation(resource_id: str) -> dict | None:
    source = _service().codec.observation_source(resource_id)
    if source is None:
        return None
    trail.note_patients([_service().codec.patient_id(source[0])])
    confined = guard.confined_to()
    if confined is not None and _service().codec.patient_identity(confined) != source[0]:
        raise guard.Forbidden("the token's patient/ scopes allow only the patient in its "
                              "context")
    observations = _service().observations(source[0], _fresh_asked()) or []
    return next((o for o in observations if o["id"] == resource_id), None)


# --- searches ----------------------------------------------------------------------

def _search(definition: registry.ResourceDef, params: dict[str, list[str]]) -> Response:
    search_params = _checked(definition, params)
    controls = results.controls(definition, params)
    if definition.type == "AuditEvent":
        return _search_audit(search_params, controls)
    if definition.type == "Patient":
        return _searchset(definition, search_params, controls,
                          lambda: _search_patients(search_params))
    observations = _observations_searched(search_params)
    if observations is None or controls.include_patient:  # includes: other entries too
        return _searchset(definition, search_params, controls,
                          lambda: _kept_observations(observations, search_params))
    # The same question about the same cached record gets the same bytes: the page is
    # cut, shaped and serialised once per record version, not on every request.
    key = (id(observations), tuple(sorted((k, tuple(v)) for k, v in params.items())),
           base_url(), response_format(), _pretty())
    known = _PAGES.get(key, observations)
    if known is None:
        response = _searchset(definition, search_params, controls,
                              lambda: _kept_observations(observations, search_params))
        known = response.get_data(), response.mimetype
        _PAGES.put(key, observations, *known)
    return bytes_response(*known)


_PAGES = pages.RenderedPages()


def _searchset(definition: registry.ResourceDef, search_params: dict, controls,
               find) -> Response:
    found = find()
    if controls.summary_count:
        return fhir_response(results.bundle(base_url(), definition.type, [], len(found),
                                            search_params, controls, more=False))
    page = found[controls.offset:][:controls.count] if controls.count is not None \
        else found[controls.offset:]
    more = controls.count is not None and controls.offset + len(page) < len(found)
    included = _included(page) if controls.include_patient else []
    page = [results.shaped(resource, controls) for resource in page]
    return fhir_response(results.bundle(base_url(), definition.type, page, len(found),
                                        search_params, controls, more, included))


def _included(observations: list[dict]) -> list[dict]:
    references = {o["subject"]["reference"] for o in observations if "subject" in o}
    patients = []
    for reference in sorted(references):
        patient = _read_patient(reference.rsplit("/", 1)[-1])
        if patient is not None:
            patients.append(patient)
    return patients


def _checked(definition: registry.ResourceDef, params: dict[str, list[str]]) -> dict:
    """The resource's own search parameters; unknown ones ignored, or refused when strict.

    A modifier (``code:not``) is always refused: ignoring it would answer a
    different question than the one asked.
    """
    strict = "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")
    known = {}
    for name, values in params.items():
        if any(_unprintable(value) for value in values):
            raise FhirError(400, "invalid", f"{name}: control characters are not allowed")
        base, colon, modifier = name.partition(":")
        if colon and (definition.param(base) is not None or base in registry.CONTROL_PARAMS):
            raise FhirError(400, "not-supported",
                            f"{name}: the :{modifier} modifier is not supported")
        if definition.param(name) is not None:
            known[name] = values
        elif name not in registry.CONTROL_PARAMS and strict:
            supported = ", ".join(p.name for p in definition.search_params)
            raise FhirError(400, "not-supported",
                            f"unknown search parameter {name!r} for {definition.type}; "
                            f"supported: {supported}")
    return known


def _unprintable(value: str) -> bool:
    return any(ord(character) < 32 or ord(character) == 127 for character in value)


def _search_patients(params: dict[str, list[str]]) -> list[dict]:
    found = _patients_found(params)
    confined = guard.confined_to()
    if confined is not None:  # others are left out, as if they were not found
        found = [p for p in found if p["id"] == confined]
    trail.note_patients(p["id"] for p in found)
    return found


def _patients_found(params: dict[str, list[str]]) -> list[dict]:
    query = patients.plan(params, _service().codec)
    if query.matches_nothing:
        return []
    if query.identity is not None:
        confined = guard.confined_to()
        if confined is not None and _service().codec.patient_identity(confined) \
                != query.identity:
            return []  # another patient: not worth SystmOne's time to leave out afterwards
        patient = _service().patient(query.identity, _fresh_asked())
        return [patient] if patient is not None else []
    return [p for p in _service().search_patients(query.criteria, _fresh_asked())
            if query.keeps(p)]


def _observations_searched(params: dict[str, list[str]]) -> list[dict] | None:
    """The cached Observations of the patient searched (None: no such patient, or more than
    one named); bad values are refused before SystmOne is asked."""
    references = params.get("patient", []) + params.get("subject", [])
    if not references:
        raise FhirError(400, "invalid", "Observation searches need patient (or subject): "
                                        "?patient=Patient/[id]")
    _observation_filters(params)
    for reference in references:
        parts = reference.rstrip("/").split("/")
        if len(parts) > 1 and parts[-2] != "Patient":
            raise FhirError(400, "invalid", f"patient/subject must reference a Patient, "
                                            f"not {reference!r}")
    patient_ids = {reference.rsplit("/", 1)[-1] for reference in references}
    trail.note_patients(sorted(patient_ids))
    for patient_id in patient_ids:
        guard.confine(patient_id)
    if len(patient_ids) > 1:
        return None
    identity = _service().codec.patient_identity(patient_ids.pop())
    return _service().observations(identity, _fresh_asked()) if identity is not None else None


def _kept_observations(observations: list[dict] | None,
                       params: dict[str, list[str]]) -> list[dict]:
    """Those matching every filter, newest first."""
    if not observations:
        return []
    filters = _observation_filters(params)
    return sorted((o for o in observations if all(keep(o) for keep in filters)),
                  key=results.newest_first)


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


# --- the access audit ----------------------------------------------------------------

def _read_audit(resource_id: str) -> dict | None:
    entry = current_app.extensions["facade.audit"].get(resource_id)
    return to_audit_event(resource_id, entry, base_url()) if entry is not None else None


def _search_audit(params: dict[str, list[str]], controls) -> Response:
    """Newest first, paged by the sink itself: the audit can be far larger than a page.

    Without an upper date bound, the search is anchored at its own arrival
    (``date=lt...``, carried into the paging links): records written while a
    client pages — its own page requests among them — never shift the pages.
    """
    if not any(value.startswith(("lt", "le")) for value in params.get("date", [])):
        arrived = (g.get("audit_time") or dt.datetime.now(dt.UTC)).isoformat(
            timespec="microseconds").replace("+00:00", "Z")
        params = {**params, "date": [*params.get("date", []), f"lt{arrived}"]}
    try:
        query = query_from_params({**params, "_count": [str(min(controls.count or 50, 500))],
                                   "_offset": [str(controls.offset)]})
    except ValueError as error:
        raise FhirError(400, "invalid", str(error)) from None
    rows, total = current_app.extensions["facade.audit"].search(query)
    page = [results.shaped(to_audit_event(row_id, entry, base_url()), controls)
            for row_id, entry in rows]
    more = controls.offset + len(page) < total
    if controls.summary_count:
        page, more = [], False
    return fhir_response(results.bundle(base_url(), "AuditEvent", page, total, params,
                                        controls, more))


_READERS = {"Patient": _read_patient, "Observation": _read_observation,
            "AuditEvent": _read_audit}


def _resource(resource_type: str) -> registry.ResourceDef:
    definition = registry.RESOURCES.get(resource_type)
    if definition is None:
        raise FhirError(404, "not-supported", f"resource type {resource_type!r} is not served; "
                                              f"served: {', '.join(registry.RESOURCES)}")
    return definition


def _not_allowed() -> FhirError:
    return FhirError(405, "not-supported", f"{request.method} is not supported: this server "
                                           "is read-only", {"Allow": "GET"})
