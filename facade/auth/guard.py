"""The resource server: who is calling, and may they do this?

Every FHIR request except ``/metadata`` and SMART discovery needs a bearer
token in the Authorization header (never in the URL or a form body, where it
would end up in logs). The token is checked by the TokenValidator against the
FHIR base URL as audience; then the interaction is checked against its
scopes: a read needs ``r``, a search ``s`` (v1 ``read`` gives both).

patient/ scopes confine the caller to the patient named in the token's
``patient`` claim: a read or search that names another patient is refused
(403), and a Patient search answers only with that patient (others are left
out, as if not found). A type that holds administrative data (AuditEvent)
is never covered by a ``*`` scope: it must be named.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request

from .. import urls
from .scopes import Scope, permitted
from .tokens import AccessToken, InvalidToken


@dataclass(frozen=True)
class Caller:
    access: AccessToken
    #: The patient every answer is confined to, when only patient/ scopes allow the request.
    patient: str | None


class Forbidden(Exception):
    """The token is good but does not allow this; the message says what is missing."""


def bearer_token() -> str:
    asked = request._get_current_object()
    environ = asked.environ
    # The raw query string and content type first: parsing them is the cost, and
    # almost no request has either.
    if ("access_token" in environ.get("QUERY_STRING", "") and "access_token" in asked.args) or (
            environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
            and "access_token" in asked.form):
        raise InvalidToken("send the access token in the Authorization header; tokens in "
                           "URLs or form bodies are refused")
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("a bearer token is required: Authorization: Bearer <token>")
    return token.strip()


def authenticate() -> AccessToken:
    root = urls.public_root()
    access = current_app.extensions["facade.auth"].validator.validate(
        bearer_token(), root + urls.FHIR_PATH, root + urls.AUTH_PATH)
    g.access = access
    return access


def authorize(access: AccessToken, resource_type: str, interaction: str,
              explicit_only: bool = False) -> Caller:
    """The caller, or Forbidden naming the scope that would allow the request."""
    caller = caller_for(access, resource_type, interaction, explicit_only)
    g.caller = caller
    return caller


def may(resource_type: str, interaction: str, explicit_only: bool = False) -> Caller | None:
    """Whether this request's token allows ``interaction`` on another type too (an answer
    holding several types: $everything, _include, _revinclude): the caller for that type
    (its ``patient`` the one it is confined to), or None."""
    access = g.get("access")
    if access is None:
        return None
    try:
        return caller_for(access, resource_type, interaction, explicit_only)
    except Forbidden:
        return None


def caller_for(access: AccessToken, resource_type: str, interaction: str,
               explicit_only: bool = False) -> Caller:
    """As ``authorize``, without making it the request's caller (worked out once per
    token and question: AccessToken.callers)."""
    asked = (resource_type, interaction, explicit_only)
    known = access.callers.get(asked)
    if known is None:
        known = access.callers[asked] = _caller_for(access, resource_type, interaction,
                                                    explicit_only)
    return known


def _caller_for(access: AccessToken, resource_type: str, interaction: str,
                explicit_only: bool) -> Caller:
    scopes: list[Scope] = list(access.scopes)
    if explicit_only:
        scopes = [s for s in scopes if s.resource_type == resource_type
                  and s.context != "patient"]
    permit = permitted(scopes, resource_type, interaction)
    needed = "s" if interaction == "search" else "r"
    if not permit.allowed:
        raise Forbidden(f"the token's scopes do not allow {interaction} of {resource_type}; "
                        f"it needs e.g. system/{resource_type}.{needed}")
    if permit.restrictions:  # from an outside issuer: never granted here (service.py)
        raise Forbidden("scopes with ?restrictions are not supported; ask for an "
                        "unrestricted scope")
    if permit.patient_only and not access.patient:
        raise Forbidden("patient/ scopes need a patient context, and the token has none")
    return Caller(access, access.patient if permit.patient_only else None)


def confine(patient_id: str | None) -> None:
    """Refuse (Forbidden) when a patient-confined caller names another patient."""
    caller: Caller | None = g.get("caller")
    if caller is not None and caller.patient is not None and patient_id != caller.patient:
        raise Forbidden("the token's patient/ scopes allow only the patient in its context")


def confined_to() -> str | None:
    caller: Caller | None = g.get("caller")
    return caller.patient if caller is not None else None
