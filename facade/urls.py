"""The public URLs of this deployment: the FHIR base, the OAuth endpoints, the issuer.

With ``FACADE_PUBLIC_BASE_URL`` set (https://host/fhir), every URL derives
from it: links, token audiences and discovery then agree whichever address a
request came in by. Without it, from the URL the request came to (the demo).
"""

from __future__ import annotations

from flask import current_app, has_request_context, request

FHIR_PATH = "/fhir"
AUTH_PATH = "/auth"


def public_root() -> str:
    configured = current_app.config["FACADE"].public_base_url
    if configured:
        return configured.rstrip("/").removesuffix("/fhir")
    if not has_request_context():
        raise RuntimeError("no request and no FACADE_PUBLIC_BASE_URL to build URLs from")
    # What request.url_root says, from the WSGI environment directly: werkzeug rebuilds
    # (and IRI-decodes) url_root on every access, a cost every request paid twice.
    environ = request.environ
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{environ.get('SCRIPT_NAME', '')}".rstrip("/")


def fhir_base() -> str:
    return public_root() + FHIR_PATH


def issuer() -> str:
    """The embedded authorization server's issuer identifier."""
    return public_root() + AUTH_PATH


def token() -> str:
    return public_root() + "/auth/token"


def auth(name: str) -> str:
    return f"{public_root()}/auth/{name}"
