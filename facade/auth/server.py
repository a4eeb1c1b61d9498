"""The embedded authorization server (Authlib): SMART Backend Services tokens.

``POST /auth/token`` takes ``grant_type=client_credentials`` with a client
assertion (``private_key_jwt``, as SMART's client-confidential-asymmetric
profile defines it): a JWT signed RS384 or ES384 by a key the client
registered, with iss = sub = client_id, aud = this token URL, exp at most five
minutes ahead and a jti never seen before (remembered in the shared store, so a
replay is refused by every worker and instance). Optionally, and never in the
live profile, client_secret_basic.

The granted scope is what was asked, narrowed to what the client registered
(scopes.grant); patient/ scopes are granted only to a client registered with a
patient context. Tokens come from :class:`~facade.auth.tokens.Issuer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import time
from urllib.parse import unquote_plus

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Flask
from joserfc import jwt
from joserfc.errors import JoseError

from ..audit import trail
from ..stewardship.store import Store
from .clients import Client, ClientRegistry, RegistrationError, secret_matches
from .scopes import ScopeError
from .service import granted_scope
from .tokens import Issuer

#: What SMART's asymmetric client authentication allows for assertions.
ASSERTION_ALGS = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME = 300


class RegisteredClient(ClientMixin):
    """A registry entry as Authlib sees it."""

    def __init__(self, client: Client, secret_auth: bool) -> None:
        self.client = client
        self.secret_auth = secret_auth

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope  # narrowed in SmartClientCredentials.validate_requested_scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client.secret_hash) and secret_matches(client_secret,
                                                                self.client.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == "client_secret_basic" and not self.secret_auth:
            return False
        return method in self.client.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class SmartAssertion(JWTBearerClientAssertion):
    """private_key_jwt as SMART Backend Services profiles it."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, registry: ClientRegistry, store: Store, token_url, skew: float) -> None:
        super().__init__(validate_jti=True, leeway=int(skew))
        self.registry, self.store, self.token_url = registry, store, token_url
        self._seen = threading.local()  # one instance serves every thread

    def get_audiences(self) -> list[str]:
        return [self.token_url()]

    def extract_assertion(self, assertion: str):
        headers, claims = super().extract_assertion(assertion)
        self._seen.headers = headers  # the kid and jku choose and check the key below
        return headers, claims

    @property
    def _headers(self) -> dict:
        return getattr(self._seen, "headers", {})

    def resolve_client_public_key(self, client: RegisteredClient):
        registered = client.client
        if registered.jwks is None and registered.jwks_uri is None:
            raise InvalidClientError(description="the client has no registered keys; it "
                                                 "authenticates with its secret")
        jku = self._headers.get("jku")
        if jku is not None and jku != registered.jwks_uri:
            raise InvalidClientError(description="the assertion's jku is not the client's "
                                                 "registered JWKS URL")
        try:
            return self.registry.public_keys(registered, self._headers.get("kid"))
        except RegistrationError as error:
            raise InvalidClientError(description=f"the client's keys cannot be read: "
                                                 f"{error}") from None

    def process_assertion_claims(self, assertion: str, resolve_key):
        if self._headers.get("alg") not in ASSERTION_ALGS:
            raise InvalidClientError(description="client assertions must be signed RS384 or "
                                                 "ES384")
        try:
            claims = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGS)).claims
        except (JoseError, ValueError) as error:
            raise InvalidClientError(description="the client assertion's signature does not "
                                                 "verify with the client's keys") from error
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims) -> None:
        # Checked before Authlib's checks, which end by recording the jti: an assertion
        # refused here must not use up its jti (nor be remembered until a distant exp).
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp > time.time() + MAX_ASSERTION_LIFETIME \
                + self.leeway:
            raise InvalidClientError(description="the client assertion's exp is more than "
                                                 "5 minutes ahead")
        jti = claims.get("jti")
        if "jti" in claims and (not isinstance(jti, str) or not jti):
            raise InvalidClientError(description="the client assertion's jti must be a "
                                                 "non-empty string")
        super().verify_claims(claims)  # iss, sub, aud, exp, nbf within leeway; jti replay

    def validate_jti(self, claims, jti) -> bool:
        if not isinstance(jti, str) or not jti:
            return False
        digest = hashlib.sha256(f"{claims['iss']}\0{jti}".encode()).hexdigest()
        # Kept until the assertion could no longer be accepted anyway.
        keep = max(1.0, float(claims["exp"]) - time.time() + self.leeway)
        return self.store.add(f"auth:jti:{digest}", b"1", keep)


class MalformedBasic(InvalidClientError):
    """An ``Authorization: Basic`` header that is not RFC 6749's client_id:secret."""

    def __init__(self, why: str) -> None:
        super().__init__(status_code=401, description=f"the Basic Authorization header {why}; "
                         "send base64(urlencoded client_id ':' urlencoded secret)")


#: A percent sign not starting %XX: form-urlencoding, which RFC 6749 2.3.1 asks for, has none.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """client_id and secret of an ``Authorization: Basic`` header (RFC 6749 2.3.1: each
    form-urlencoded, joined by a colon, base64-encoded); None when the header is not
    Basic; MalformedBasic when it is, but unreadable."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise MalformedBasic("is not base64 of UTF-8 text") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise MalformedBasic("has no client_id:secret")
    if _BAD_PERCENT.search(decoded):
        raise MalformedBasic("has a broken percent-encoding")
    try:
        return (unquote_plus(client_id, errors="strict"),
                unquote_plus(secret, errors="strict"))
    except UnicodeDecodeError:
        raise MalformedBasic("percent-encodes bytes that are not UTF-8") from None


def secret_basic(query_client, request) -> RegisteredClient | None:
    """client_secret_basic, reading the header strictly (Authlib's own reader lets
    undecodable bytes through, as a 500): a malformed header is invalid_client (401)."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    if credentials is None or not credentials[1]:
        return None
    client = query_client(credentials[0])
    if client is None:
        raise InvalidClientError(status_code=401,
                                 description="The client does not exist on this server.")
    return client if client.check_client_secret(credentials[1]) else None


class SmartClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt", "client_secret_basic"]

    def validate_requested_scope(self) -> None:
        requested = self.request.payload.scope
        if not requested:
            raise InvalidScopeError(description="scope is required, e.g. "
                                                "scope=system/Patient.rs")
        client: Client = self.request.client.client
        try:
            self.request.granted_scope = granted_scope(client, requested)
        except ScopeError as error:
            raise InvalidScopeError(description=str(error)) from None

    def create_token_response(self):
        token = self.generate_token(scope=self.request.granted_scope,
                                    include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def authorization_server(app: Flask, registry: ClientRegistry, store: Store, issuer: Issuer,
                         urls, secret_auth: bool, skew: float) -> AuthorizationServer:
    """Authlib's server wired to the registry, the jti store and the issuer.

    ``urls`` gives the public URLs of the request being served (or of the
    configured public base URL): ``urls.token()``, ``urls.fhir_base()``,
    ``urls.issuer()``.
    """
    def query_client(client_id: str) -> RegisteredClient | None:
        client = registry.get(client_id)
        return RegisteredClient(client, secret_auth) if client is not None else None

    def generate_token(grant_type, client, user=None, scope=None, expires_in=None,
                       include_refresh_token=False) -> dict:
        registered: Client = client.client
        trail.note_client(registered.client_id, scope or "")
        patient = registered.patient if scope and "patient/" in scope else None
        return issuer.mint(urls.issuer(), registered.client_id, scope or "", urls.fhir_base(),
                           patient)

    server = AuthorizationServer(app, query_client=query_client,
                                 save_token=lambda token, request: None)
    server.register_grant(SmartClientCredentials)
    server.register_token_generator("default", generate_token)
    server.register_client_auth_method(SmartAssertion.CLIENT_AUTH_METHOD,
                                       SmartAssertion(registry, store, urls.token, skew))
    server.register_client_auth_method("client_secret_basic", secret_basic)
    return server


__all__ = ["InvalidRequestError", "RegisteredClient", "SmartAssertion",
           "SmartClientCredentials", "authorization_server"]
