"""HTTP endpoints of the embedded authorization server, and SMART discovery.

- ``POST /auth/token``: client_credentials (server.py); answers carry
  ``Cache-Control: no-store`` and ``Pragma: no-cache``, errors included.
- ``GET /auth/jwks``: the keys access tokens are signed with (keys.py).
- ``POST /auth/introspect``: RFC 7662, for a caller holding a valid token; an
  inactive token is exactly ``{"active": false}``.
- ``GET /fhir/.well-known/smart-configuration``: always JSON, with CORS.
"""

from __future__ import annotations

import orjson
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Blueprint, Response, current_app, request

from .. import urls
from ..audit import trail
from .guard import bearer_token
from .service import AuthService
from .tokens import InvalidToken

bp = Blueprint("auth", __name__)

#: What SMART's discovery document says this server does.
CAPABILITIES = ["client-confidential-asymmetric", "permission-v1", "permission-v2"]


def supported_scopes(resources) -> list[str]:
    """What may be asked for, for every served type (declarations); any narrower v1 or v2
    form is understood too. Administrative types are offered to system/ only, by name."""
    everyday = [d.type for d in resources.values() if not d.explicit_scope_only]
    return [f"{context}/{kind}.{permission}"
            for context in ("system", "user", "patient")
            for kind in (*everyday, "*")
            for permission in ("rs", "r", "s", "read")] + [
        f"system/{d.type}.rs" for d in resources.values() if d.explicit_scope_only]


def _auth() -> AuthService:
    return current_app.extensions["facade.auth"]


def _json(body: dict, status: int = 200, **headers: str) -> Response:
    response = Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers.update(headers)
    return response


@bp.post("/auth/token")
def token() -> Response:
    try:
        response = current_app.extensions["facade.authorization_server"].create_token_response()
    except InsecureTransportError:
        # Authlib checks the request's own URL before reading it: plain HTTP to a name other
        # than the loopback's, or a Host header Werkzeug cannot read (localhost:99999, whose
        # URL has no host). Raised, not answered: it was an HTML 500.
        response = _json({"error": "invalid_request", "error_description":
                          "token requests come over https (plain http only to this "
                          "machine's loopback name or address), with a valid Host header"},
                         400)
    if response.status_code >= 400:
        trail.note_error(str((response.get_json(silent=True) or {}).get("error", "")))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/auth/jwks")
def jwks() -> Response:
    # Short enough that a rotated key (published 10 minutes before use) is always seen.
    return _json(_auth().keyring.public_jwks(), **{"Cache-Control": "public, max-age=60",
                                                   "Access-Control-Allow-Origin": "*"})


@bp.post("/auth/introspect")
def introspect() -> Response:
    auth = _auth()
    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        caller = bearer_token()
        auth.validator.validate(caller, urls.fhir_base(), urls.issuer())
    except InvalidToken as error:
        return _json({"error": "invalid_token", "error_description": str(error)}, 401,
                     **{"WWW-Authenticate": 'Bearer error="invalid_token"', **no_store})
    candidate = request.form.get("token", "")
    try:
        access = auth.validator.validate(candidate, urls.fhir_base(), urls.issuer())
    except InvalidToken:
        return _json({"active": False}, **no_store)
    body = {"active": True, "scope": access.scope, "client_id": access.client_id,
            "sub": access.client_id, "exp": int(access.expires), "iss": access.issuer,
            "aud": urls.fhir_base(), "token_type": "Bearer"}
    if access.patient:
        body["patient"] = access.patient
    return _json(body, **no_store)


@bp.get("/fhir/.well-known/smart-configuration")
def smart_configuration() -> Response:
    methods = ["private_key_jwt"] + (["client_secret_basic"] if _auth().secret_auth else [])
    body = {
        "issuer": urls.issuer(),
        "jwks_uri": urls.auth("jwks"),
        "token_endpoint": urls.token(),
        "introspection_endpoint": urls.auth("introspect"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": supported_scopes(current_app.extensions["facade.resources"]),
        "response_types_supported": ["token"],
        "capabilities": CAPABILITIES,
        "code_challenge_methods_supported": ["S256"],
    }
    return _json(body, **{"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"})
