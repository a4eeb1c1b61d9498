"""The FHIR REST API at /fhir: routing, search parameters, Bundles, errors.

The views stay thin and know no resource type: a query is parsed once against
the type's declaration, the FhirService (service.py) reads or searches through
the type's source with confinement and audit noting applied in one place, and
answers leave as JSON (facade.jsonbytes, orjson) or XML from the
already-validated dicts.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import functools
import re
import threading

import orjson
from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_date

from .. import jsonbytes, metrics, urls, versions
from ..audit import trail
from ..auth import guard
from ..auth.tokens import InvalidToken
from ..mapping.declaration import Declaration
from ..serving.answers import FacadeResponse, FixedHeaders, answer_headers
from ..stewardship.ledger import Throttled
from ..upstream.errors import UpstreamError
from . import chains, pages, registry, results
from .everything import parse_everything
from .outcome import FhirError, issue, search_outcome, upstream_error
from .search import SearchRequest, parse_search
from .service import FhirService
from .xml import to_xml

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
WRITE_METHODS = ["PUT", "POST", "DELETE", "PATCH"]
#: Answered after the scope check; HEAD is GET without the body (RFC 9110 9.3.2).
READ_METHODS = ("GET", "HEAD", "POST")


# --- responses ---------------------------------------------------------------------

#: Every way a client may name the two formats, in _format or Accept.
FORMATS = {"json": "json", "application/json": "json", FHIR_JSON: "json",
           "application/json+fhir": "json", "xml": "xml", "text/xml": "xml",
           "application/xml": "xml", FHIR_XML: "xml", "application/xml+fhir": "xml"}


_PLAIN_ACCEPT = {"": "json", "*/*": "json", FHIR_JSON: "json", "application/json": "json",
                 FHIR_XML: "xml", "application/xml": "xml"}


def response_format() -> str:
    """json or xml: ``_format`` first, then Accept; FhirError 406 for anything else."""
    asked = _asked("_format")
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
    """``body`` as JSON or XML; ``plain``, when given, is ``jsonbytes.dumps(body)`` already."""
    return bytes_response(*_rendered(body, content_format or response_format(), plain),
                          status, headers)


def bytes_response(data: bytes, media_type: str, status: int = 200,
                   headers: dict | None = None, validators: dict | None = None) -> Response:
    """``data`` as ``media_type``, with the headers every FHIR answer carries (built once:
    serving/answers.FixedHeaders), ``headers``, checked as werkzeug checks any, and
    ``validators`` (``_validators``'s own ETag and Last-Modified), as they are."""
    fixed = FixedHeaders(_ANSWER_HEADERS[media_type], headers)
    if validators:
        fixed._list.extend(validators.items())  # ours, from the meta: nothing to check
    return FacadeResponse(data, status=status, headers=fixed)


def _rendered(body: dict, content_format: str, plain: bytes | None = None) -> tuple[bytes, str]:
    if content_format == "xml":
        return to_xml(body, _pretty()), FHIR_XML
    if _pretty():
        return jsonbytes.dumps(body, orjson.OPT_INDENT_2), FHIR_JSON
    return (plain if plain is not None else jsonbytes.dumps(body)), FHIR_JSON


def _pretty() -> bool:
    return _asked("_pretty") == "true"


def _asked(name: str) -> str | None:
    """A parameter's first value as the client gave it: from the query, or for POST
    _search from the query and the form body together (``g.search_params``), so a POST
    answers as the GET with the same parameters, in the same format."""
    merged = g.get("search_params")
    if merged is not None:
        return next(iter(merged.get(name, ())), None)
    if not request.environ.get("QUERY_STRING"):  # the usual read: nothing to parse
        return None
    return request.args.get(name)


@bp.errorhandler(FhirError)
def fhir_error(error: FhirError) -> Response:
    if not getattr(g, "audit_error", ""):
        trail.note_error(error.code)
    try:
        content_format = "json" if error.status == 406 else response_format()
    except FhirError:
        content_format = "json"
    return fhir_response(error.outcome(), error.status, error.headers, content_format)


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
#: What every FHIR answer of each media type carries, the security headers among them.
_ANSWER_HEADERS = {media_type: answer_headers({
    "Content-Type": f"{media_type}; charset=utf-8", "Cache-Control": "no-store",
    **CORS_HEADERS}) for media_type in (FHIR_JSON, FHIR_XML)}


@bp.before_request
def _authorized() -> Response | None:
    """Token first (401), then scope for the interaction (403); the view does the rest."""
    asked = request._get_current_object()  # one context lookup, not one per use
    if asked.method == "OPTIONS":  # a CORS preflight carries no token
        return Response(status=204, headers={
            **CORS_HEADERS, "Access-Control-Allow-Methods": "GET, HEAD, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, "
                                            "Cache-Control, If-None-Match, If-Modified-Since, "
                                            "Prefer",
            "Access-Control-Max-Age": "600"})
    endpoint = asked.endpoint
    if endpoint in OPEN_ENDPOINTS:
        return None
    access = guard.authenticate()
    interaction = _INTERACTIONS.get(endpoint or "")
    definition = _resources().get((asked.view_args or {}).get("resource_type", ""))
    if interaction is None or definition is None or asked.method not in READ_METHODS:
        return None  # unknown types and writes are answered 404/405 by the views
    guard.authorize(access, definition.type, interaction, definition.explicit_scope_only)
    return None


@bp.after_request
def _cors(response: Response) -> Response:
    headers = response.headers
    if "access-control-allow-origin" not in getattr(headers, "built", ()) \
            and "Access-Control-Allow-Origin" not in headers:  # bytes_response sets them
        headers.update(CORS_HEADERS)
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
    statement = registry.capability_statement(base_url(), oauth, _resources())
    statement["rest"][0]["searchParam"] = results.common_search_params(_page_size())
    statement["rest"][0]["documentation"] = results.SEARCH_HANDLING
    return fhir_response(statement)


@bp.route("/<resource_type>/<resource_id>", methods=["GET", *WRITE_METHODS])
def read(resource_type: str, resource_id: str) -> Response:
    definition = _resource(resource_type)
    asked = request._get_current_object()
    if asked.method not in ("GET", "HEAD"):
        raise _not_allowed()
    if not ID_PATTERN.fullmatch(resource_id):
        raise FhirError(400, "invalid", f"{resource_id!r} is not a valid FHIR id")
    if "read" not in definition.interactions:
        raise FhirError(405, "not-supported", f"{resource_type} is not read by id here")
    resource = _service().read(definition, resource_id, _fresh_asked())
    if resource is None:
        raise FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known")
    if definition.native_content and not _fhir_format_asked():
        return _native_response(resource)
    headers = _validators(resource)
    if _not_modified(headers, asked.environ):
        return _not_modified_response(headers)
    return bytes_response(*_rendered_read(definition, resource, asked.environ),
                          validators=headers)


def _rendered_read(definition: Declaration, resource: dict,
                   environ: dict) -> tuple[bytes, str]:
    """The read's bytes, shaped as the query asks: rendered once per version of the
    resource, query, format and base URL (pages.py; some resources name the server they
    were read from, an AuditEvent its observer), then served as they are."""
    meta = resource.get("meta", {})
    key = (definition.type, resource.get("id"), meta.get("versionId"), meta.get("lastUpdated"),
           environ.get("QUERY_STRING", ""), response_format(), base_url())
    known = _READS.get(key) if key[2] is not None else None
    if known is None:
        controls = results.controls(definition, request.args.to_dict(flat=False), _page_size())
        known = _rendered(results.shaped(resource, controls), key[5])
        if key[2] is not None:
            _READS.put(key, None, *known)
    return known


#: Rendered reads, per worker; a Patient is about 2 KB.
_READS = pages.RenderedPages(max_pages=4096, max_bytes=32 << 20)


#: The media types that ask a native-content read (Binary) for the FHIR resource instead.
_FHIR_TYPES = (FHIR_JSON, FHIR_XML, "application/json+fhir", "application/xml+fhir")


def _fhir_format_asked() -> bool:
    """``_format``, or an Accept naming a FHIR media type: FHIR's rule for Binary reads."""
    if request.environ.get("QUERY_STRING") and request.args.get("_format"):
        response_format()  # an unknown _format is refused as for any read (406)
        return True
    accept = request.accept_mimetypes
    return any(accept.quality(media) > 0 and media in accept.values()
               for media in _FHIR_TYPES)


def _native_response(resource: dict) -> Response:
    """The document's bytes as its own media type. Never cached (no-store), and never
    rendered as part of this origin: a document may be HTML or script, so the answer is
    a download, sandboxed, its type not sniffed. Its ETag is the Binary's version."""
    headers = _validators(resource)
    if _not_modified(headers, request.environ):
        return _not_modified_response(headers)
    return Response(base64.b64decode(resource.get("data", "")), status=200, headers={
        "Content-Type": resource.get("contentType") or "application/octet-stream",
        "Cache-Control": "no-store", "Content-Disposition": "attachment",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff", **CORS_HEADERS, **headers})


def _validators(resource: dict) -> dict[str, str]:
    """ETag W/"[meta.versionId]" and Last-Modified = meta.lastUpdated: stamped when the
    resource was mapped (versions.py), so a read only copies them."""
    meta = resource.get("meta", {})
    # A resource cached before versions were stamped has none: its content gives it.
    headers = {"ETag": _etag(meta.get("versionId") or versions.version_id(resource))}
    if meta.get("lastUpdated"):
        headers["Last-Modified"] = _last_modified(meta["lastUpdated"])
    return headers


def _etag(version: str) -> str:
    return f'W/"{version}"'


@functools.lru_cache(maxsize=4096)
def _last_modified(updated: str) -> str:
    """An HTTP date from a FHIR instant (whole seconds: HTTP dates hold no fraction)."""
    return http_date(dt.datetime.fromisoformat(updated.replace("Z", "+00:00")))


def _not_modified(headers: dict[str, str], environ: dict) -> bool:
    """RFC 9110 13.1: If-None-Match, when sent, decides alone (weak comparison: W/ is
    ignored on both sides; * matches any current resource); else If-Modified-Since, not
    before Last-Modified. An unreadable date is ignored, as RFC 9110 says."""
    tags = environ.get("HTTP_IF_NONE_MATCH")
    if tags is not None:
        return _opaque(headers["ETag"]) in {_opaque(tag) for tag in tags.split(",")} \
            or "*" in {tag.strip() for tag in tags.split(",")}
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since is None or "Last-Modified" not in headers:
        return False
    asked = parse_date(since)
    return asked is not None and parse_date(headers["Last-Modified"]) <= asked


def _opaque(tag: str) -> str:
    """An entity tag's opaque part: what weak comparison compares."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _not_modified_response(headers: dict[str, str]) -> Response:
    """304: no body; the validators, so the client's copy stays identified."""
    return Response(status=304, headers={**headers, "Cache-Control": "no-store",
                                         **CORS_HEADERS})


@bp.route("/<resource_type>", methods=["GET", *WRITE_METHODS])
def search(resource_type: str) -> Response:
    definition = _resource(resource_type)
    if request.method not in ("GET", "HEAD"):
        raise _not_allowed()
    params = g.search_params = request.args.to_dict(flat=False)  # _asked reads it too
    return _search(definition, params)


@bp.post("/<resource_type>/_search")
def search_by_post(resource_type: str) -> Response:
    definition = _resource(resource_type)
    if request.mimetype != "application/x-www-form-urlencoded":
        raise FhirError(415, "not-supported",
                        "POST _search takes an application/x-www-form-urlencoded body")
    params = request.args.to_dict(flat=False)
    for name, values in request.form.to_dict(flat=False).items():
        params.setdefault(name, []).extend(values)
    g.search_params = params  # _format and _pretty are read from both (response_format)
    return _search(definition, params)


@bp.route("/<resource_type>/<resource_id>/$everything", methods=["GET", *WRITE_METHODS])
def everything(resource_type: str, resource_id: str) -> Response:
    if not ID_PATTERN.fullmatch(resource_id):
        raise FhirError(400, "invalid", f"{resource_id!r} is not a valid FHIR id")
    return _everything(resource_type, resource_id)


@bp.route("/<resource_type>/$everything", methods=["GET", *WRITE_METHODS])
def everything_by_identifier(resource_type: str) -> Response:
    return _everything(resource_type, None)


@bp.route("/<path:anything>", methods=["GET", *WRITE_METHODS])
def unknown(anything: str) -> Response:
    raise FhirError(404, "not-found", f"/{bp.url_prefix.strip('/')}/{anything} is not served")


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    if not request.path.startswith(bp.url_prefix):
        return error
    code = {404: "not-found", 405: "not-supported"}.get(error.code or 500, "exception")
    return fhir_error(FhirError(error.code or 500, code, error.description or error.name))


# --- reads and searches: the service does the work -----------------------------------

def _service() -> FhirService:
    return current_app.extensions["facade.fhir"]


def _fresh_asked() -> bool:
    """``Cache-Control: no-cache`` (or the older ``Pragma``): fresh data, within the
    throttle; the cache is skipped, the slot ledger never."""
    environ = request.environ
    directives = f"{environ.get('HTTP_CACHE_CONTROL', '')},{environ.get('HTTP_PRAGMA', '')}"
    if directives == ",":  # neither header: the usual case
        return False
    return "no-cache" in {part.strip().lower() for part in directives.split(",")}


def _strict() -> bool:
    return "handling=strict" in request.environ.get("HTTP_PREFER", "").replace(" ", "")


def _search(definition: Declaration, params: dict[str, list[str]]) -> Response:
    if not definition.searchable:
        raise FhirError(405, "not-supported", f"{definition.type} is not searched here; "
                                              "it is read by id or reached by _include")
    strict = _strict()
    params, asked, controls = _parsed(definition, params, strict)
    found = _service().search(definition, asked, controls, _fresh_asked())
    if controls.sort and found.paged:
        controls = _unsorted(definition, controls, strict)
    if found.version is None or controls.includes or controls.revincludes:  # other entries
        return _searchset(definition, asked, controls, found)
    # The same question about the same cached record gets the same bytes: the page is
    # cut, shaped and serialised once per record version, not on every request.
    key = (definition.type, tuple(sorted((k, tuple(v)) for k, v in params.items())),
           controls.count, base_url(), response_format(), _pretty())
    known = _PAGES.get(key, found.version)
    if known is None:
        response = _searchset(definition, asked, controls, found)
        known = response.get_data(), response.mimetype
        _PAGES.put(key, found.version, *known)
    return bytes_response(*known)


_PAGES = pages.RenderedPages()


def _parsed(definition: Declaration, params: dict[str, list[str]],
            strict: bool) -> tuple[dict[str, list[str]], SearchRequest, results.Controls]:
    """The query with its chains resolved (patient.identifier=...), its search parameters
    and its result parameters parsed. All three depend on the query alone, and clients ask
    the same queries again and again: each is worked out once per worker (a bounded
    memo), except one with an ``ap`` value, whose range depends on the time asked."""
    key = (definition.type, strict, tuple((name, tuple(values))
                                          for name, values in params.items()))
    memo = current_app.extensions.setdefault("facade.parsed_searches", _ParsedSearches())
    known = memo.get(key)
    if known is None:
        resolved = chains.resolved(definition, params, _service().codec)
        known = (resolved, parse_search(definition, resolved, strict),
                 results.controls(definition, resolved, _page_size(), strict,
                                  registry.revinclude_names(definition, _resources())))
        if _rememberable(params):
            memo.put(key, known)
    return known


#: Longer queries (a POST _search form may hold a megabyte) are parsed afresh: a client
#: could otherwise fill the memo with a gigabyte of keys.
_LONGEST_REMEMBERED = 2048


def _rememberable(params: dict[str, list[str]]) -> bool:
    """Short, and no ``ap`` value (its range depends on the time asked)."""
    size = 0
    for name, values in params.items():
        for value in values:
            if value.startswith("ap"):
                return False
            size += len(name) + len(value)
    return size <= _LONGEST_REMEMBERED


class _ParsedSearches:
    """The memo of ``_parsed``, per app; the oldest goes first."""

    LIMIT = 1024

    def __init__(self) -> None:
        self._known: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
            return known

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._known[key] = value
            while len(self._known) > self.LIMIT:
                self._known.popitem(last=False)


def _searchset(definition: Declaration, asked: SearchRequest, controls,
               found) -> Response:
    link_params = found.link_params or asked.params
    if found.page_size is not None and found.page_size < controls.count:
        controls = dataclasses.replace(controls, count=found.page_size)
    outcome = search_outcome(_warnings(asked, controls), found.outcome)
    if controls.summary_count:
        return fhir_response(results.bundle(base_url(), definition.type, [], found.total,
                                            link_params, controls, False, outcome=outcome))
    if found.paged:
        page = found.resources
    else:
        ordered = results.ordered(found.resources, controls.sort) if controls.sort \
            else found.resources
        page = ordered[controls.offset:controls.offset + controls.count]
    more = controls.offset + len(page) < found.total
    included, left_out = _included(definition, page, controls)
    if left_out:
        outcome = search_outcome([*(outcome or {}).get("issue", []),
                                  *(issue("forbidden", note, "warning") for note in left_out)],
                                 None)
    page = [results.shaped(resource, controls) for resource in page]
    return fhir_response(results.bundle(base_url(), definition.type, page, found.total,
                                        link_params, controls, more, included, outcome))


def _unsorted(definition: Declaration, controls: results.Controls,
              strict: bool) -> results.Controls:
    """A source that pages itself (the audit store) answers in its own order: _sort is
    refused under strict handling, else left out and said."""
    said = (f"_sort: {definition.type} pages come from its store in the store's order; "
            "_sort cannot be applied")
    if strict:
        raise FhirError(400, "not-supported", said)
    return dataclasses.replace(controls, sort=(), unsupported=(
        *controls.unsupported, f"{said}; ignored (Prefer: handling=strict refuses it)"))


def _included(definition: Declaration, page: list[dict],
              controls: results.Controls) -> tuple[list[dict], list[str]]:
    """What _include and _revinclude add to a page, and what the scopes left out."""
    included, left_out = [], []
    if controls.includes:
        included, left_out = _service().included(definition, page, controls.includes,
                                                 _resources(), _fresh_asked())
    if controls.revincludes:
        more, said = _service().revincluded(page, controls.revincludes, _resources(),
                                            _fresh_asked(), _strict())
        included, left_out = included + more, left_out + said
    return included, left_out


def _everything(resource_type: str, resource_id: str | None) -> Response:
    """$everything on the type that owns the patient compartment, by id or NHS number."""
    definition = _resource(resource_type)
    if request.method not in ("GET", "HEAD"):
        raise _not_allowed()
    if not registry.owns_compartment(definition):
        raise FhirError(404, "not-supported", f"$everything is not an operation on "
                                              f"{resource_type}; it is on Patient")
    params = request.args.to_dict(flat=False)
    strict = _strict()
    asked = parse_everything(params, _resources(), strict, type_level=resource_id is None)
    controls = results.controls(definition, params, _page_size(), strict)
    found = _service().everything(definition, resource_id, asked, _resources(),
                                  _fresh_asked())
    warnings = [*_warnings(asked, controls),
                *(issue("forbidden", note, "warning") for note in found.notes)]
    outcome = search_outcome(warnings, found.outcome)
    path = "/".join(part for part in (resource_type, resource_id, "$everything") if part)
    total = len(found.entries)
    page = [] if controls.summary_count else \
        found.entries[controls.offset:controls.offset + controls.count]
    more = not controls.summary_count and controls.offset + len(page) < total
    matched = [results.shaped(r, controls) for r, mode in page if mode == "match"]
    included = [results.shaped(r, controls) for r, mode in page if mode != "match"]
    return fhir_response(results.bundle(base_url(), path, matched, total, asked.params,
                                        controls, more, included, outcome))


def _warnings(asked, controls: results.Controls) -> list[dict]:
    """What the search went without, said as warnings (FHIR's lenient handling)."""
    return [*(issue(ignored.code, ignored.reason, "warning") for ignored in asked.ignored),
            *(issue("informational", note, "warning") for note in controls.notes),
            *(issue("not-supported", note, "warning") for note in controls.unsupported)]


def _page_size() -> results.PageSize:
    settings = current_app.config["FACADE"]
    return results.PageSize(settings.default_count, settings.max_count)


def _resources() -> dict[str, Declaration]:
    return current_app.extensions["facade.resources"]


def _resource(resource_type: str) -> Declaration:
    definition = _resources().get(resource_type)
    if definition is None:
        raise FhirError(404, "not-supported", f"resource type {resource_type!r} is not served; "
                                              f"served: {', '.join(_resources())}")
    return definition


def _not_allowed() -> FhirError:
    return FhirError(405, "not-supported", f"{request.method} is not supported: this server "
                                           "is read-only", {"Allow": "GET, HEAD"})
