"""Access tokens: minted by the embedded server, checked on every FHIR request.

Tokens are RFC 9068 JWTs (header ``typ: at+jwt``). The validator accepts them
from the embedded server (keys from the shared keyring) and, when configured,
from one external identity provider (issuer + JWKS URL, fetched through
requests-cache), whose tokens may say ``typ: JWT`` or ``at+jwt``. It checks,
in order: the header (algorithm on the allow-list, typ), the issuer, the
signature (by kid), expiry and not-before within the clock skew, the audience
(the FHIR base URL), and that a client and a scope are named.

A token that passed is remembered (by its own bytes) until it expires, so a
client's repeated requests cost a dictionary lookup and the audience check,
not a signature verification each time; the cache is per process and bounded.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .keys import SIGNING_ALG, Keyring
from .scopes import Scope, ScopeError, parse_scopes

#: Algorithms an access token may be signed with (never "none", never HMAC: a public key
#: must not be usable as a shared secret).
ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "ES256", "ES384")
#: "typ" values (RFC 7515 4.1.9: case-insensitive, "application/" may be left out). An
#: access token says at+jwt (RFC 9068 4); the external provider's may say JWT instead.
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}
ACCEPTED_TYPES = ACCESS_TOKEN_TYPES | {"jwt", "application/jwt"}
MAX_LIFETIME = 300


class InvalidToken(Exception):
    """The bearer token cannot be accepted; the message says why (sent to the caller)."""


@dataclass(frozen=True)
class AccessToken:
    client_id: str
    scope: str
    scopes: tuple[Scope, ...]
    patient: str | None
    expires: float
    issuer: str
    jti: str
    #: What the scopes allow, worked out once per token (guard.caller_for): a validated
    #: token is remembered, so its busy client's requests find the answer here.
    callers: dict = field(default_factory=dict, compare=False, hash=False, repr=False)


class Issuer:
    """Mints access tokens with the keyring's current key."""

    def __init__(self, keyring: Keyring, lifetime: float = MAX_LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"an access token lives at most {MAX_LIFETIME} s")
        self.keyring, self.lifetime, self.clock = keyring, lifetime, clock

    def mint(self, issuer: str, client_id: str, scope: str, audience: str,
             patient: str | None = None) -> dict:
        """An RFC 6749 token response body (access_token, token_type, expires_in, scope)."""
        key = self.keyring.signing_key()
        now = int(self.clock())
        claims = {"iss": issuer, "sub": client_id, "client_id": client_id,
                  "aud": audience, "scope": scope, "iat": now, "nbf": now,
                  "exp": now + int(self.lifetime), "jti": uuid.uuid4().hex}
        if patient:
            claims["patient"] = patient
        header = {"alg": SIGNING_ALG, "kid": key.kid, "typ": "at+jwt"}
        body = {"access_token": jwt.encode(header, claims, key.key), "token_type": "Bearer",
                "expires_in": int(self.lifetime), "scope": scope}
        if patient:
            body["patient"] = patient
        return body


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    keys: Callable[[str | None], KeySet]  # kid -> the issuer's keys (refreshed for unknown kids)
    algorithms: tuple[str, ...]


class TokenValidator:
    """Checks bearer tokens from the embedded server and, optionally, one external issuer.

    The embedded server's issuer is the public root of the request (or the
    configured public base URL) + "/auth", so it is passed in per request.
    """

    def __init__(self, embedded_keys: Callable[[str | None], KeySet],
                 external: TrustedIssuer | None = None, skew: float = 60.0,
                 clock: Callable[[], float] = time.time, remembered: int = 10_000) -> None:
        self.embedded_keys = embedded_keys
        self.external = external
        self.skew = skew
        self.clock = clock
        self._passed: OrderedDict[str, tuple[AccessToken, frozenset[str]]] = OrderedDict()
        self._remembered = remembered
        self._lock = threading.Lock()

    def validate(self, token: str, audience: str, local_issuer: str) -> AccessToken:
        remembered = self._passed.get(token)
        if remembered is not None:
            access, audiences = remembered
            self._recently_used(token)
            if access.expires + self.skew < self.clock():
                raise InvalidToken("the token has expired")
            if access.issuer != local_issuer and (self.external is None or
                                                  access.issuer != self.external.issuer):
                raise InvalidToken("the token's issuer is not trusted here")
        else:
            access, audiences = self._verify(token, local_issuer)
            self._remember(token, access, audiences)
        if audience not in audiences:
            raise InvalidToken(f"the token's audience is not {audience}")
        return access

    def _trusted(self, issuer: object, local_issuer: str) -> TrustedIssuer | None:
        if issuer == local_issuer:
            return TrustedIssuer(local_issuer, self.embedded_keys, (SIGNING_ALG,))
        if self.external is not None and issuer == self.external.issuer:
            return self.external
        return None

    # -- first sight -------------------------------------------------------------------

    def _verify(self, token: str, local_issuer: str) -> tuple[AccessToken, frozenset[str]]:
        header, unverified = _peek(token)
        if header.get("alg") not in ALLOWED_ALGS:
            raise InvalidToken(f"tokens signed with {header.get('alg')!r} are not accepted")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in ACCEPTED_TYPES:
            raise InvalidToken(f"a token of type {typ!r} is not an access token")
        trusted = self._trusted(unverified.get("iss"), local_issuer)
        if trusted is None or header["alg"] not in trusted.algorithms:
            raise InvalidToken("the token's issuer is not trusted here")
        if trusted.issuer == local_issuer and str(typ).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken(f"a token of type {typ!r} is not an access token")
        try:
            claims = jwt.decode(token, trusted.keys(header.get("kid")),
                                algorithms=list(trusted.algorithms)).claims
        except (JoseError, ValueError) as error:
            raise InvalidToken("the token's signature does not verify") from error
        return self._checked(claims, trusted.issuer)

    def _checked(self, claims: dict, issuer: str) -> tuple[AccessToken, frozenset[str]]:
        now = self.clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not _number(exp):
            raise InvalidToken("the token has no expiry")
        if exp + self.skew < now:
            raise InvalidToken("the token has expired")
        for value in (nbf, iat):
            if value is not None and (not _number(value) or value - self.skew > now):
                raise InvalidToken("the token is not valid yet")
        client_id = claims.get("client_id") or claims.get("sub")
        if not isinstance(client_id, str) or not client_id:
            raise InvalidToken("the token names no client")
        scope = claims.get("scope", claims.get("scp", ""))
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        try:
            scopes = tuple(parse_scopes(scope)) if isinstance(scope, str) else ()
        except ScopeError as error:
            raise InvalidToken(f"the token's scope cannot be read: {error}") from None
        audience = claims.get("aud")
        audiences = frozenset([audience] if isinstance(audience, str) else
                              [a for a in audience or () if isinstance(a, str)])
        patient = claims.get("patient")
        access = AccessToken(client_id, scope, scopes,
                             patient if isinstance(patient, str) else None, float(exp), issuer,
                             str(claims.get("jti", "")))
        return access, audiences

    def _recently_used(self, token: str) -> None:
        """A busy client's token stays remembered while others come and go."""
        with self._lock:
            if token in self._passed:
                self._passed.move_to_end(token)

    def _remember(self, token: str, access: AccessToken, audiences: frozenset[str]) -> None:
        with self._lock:
            self._passed[token] = (access, audiences)
            while len(self._passed) > self._remembered:
                self._passed.popitem(last=False)


def _peek(token: str) -> tuple[dict, dict]:
    """The header and the claims before verification: only to choose the issuer and key."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise InvalidToken("the bearer token is not a signed JWT")
    try:
        header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                          for p in parts[:2])
    except ValueError:
        raise InvalidToken("the bearer token is not a signed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("the bearer token is not a signed JWT")
    return header, claims


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
