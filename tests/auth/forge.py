"""What the auth tests send: client assertions, access tokens (good and forged), token requests.

joserfc refuses algorithms it does not recommend unless told (``algorithms=[...]``)
and refuses ``none`` and HMAC-with-a-public-key outright, so those tokens are
built by hand from base64url parts here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

TOKEN_URL = "http://localhost/auth/token"  # where Flask's test client sends requests
FHIR_BASE = "http://localhost/fhir"
ISSUER = "http://localhost/auth"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Everything joserfc may be asked to sign with in these tests.
ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384"]


def b64url(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def header_of(token: str) -> dict:
    return json.loads(unb64url(token.split(".")[0]))


def claims_of(token: str) -> dict:
    """The payload, unverified."""
    return json.loads(unb64url(token.split(".")[1]))


def unsigned(header: dict, claims: dict) -> str:
    """alg none: no signature at all."""
    return f"{b64url({**header, 'alg': 'none'})}.{b64url(claims)}."


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    """HMAC-SHA256 with ``secret`` (here: someone's *public* key bytes)."""
    signing_input = f"{b64url({**header, 'alg': 'HS256'})}.{b64url(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def tampered(token: str, **changes) -> str:
    """The same signature over a payload with ``changes`` made to it."""
    header, _, signature = token.split(".")
    return f"{header}.{b64url({**claims_of(token), **changes})}.{signature}"


def signed(key: ECKey | RSAKey, claims: dict, **header) -> str:
    header = {"alg": "ES384" if isinstance(key, ECKey) else "RS384", "kid": key.kid, **header}
    return jwt.encode({k: v for k, v in header.items() if v is not None}, claims, key,
                      algorithms=ALGS)


def public_pem(key: ECKey | RSAKey) -> bytes:
    return key.as_pem(private=False)


# -- client assertions (the token endpoint) ----------------------------------------------

def assertion_claims(client_id: str, aud: str = TOKEN_URL, lifetime: int = 240,
                     **changes) -> dict:
    """What a SMART Backend Services client signs: iss = sub = client_id, aud = token URL.

    A change to None removes the claim.
    """
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
              "exp": now + lifetime, "jti": uuid.uuid4().hex, **changes}
    return {k: v for k, v in claims.items() if v is not None}


def assertion(key: ECKey | RSAKey, client_id: str, header: dict | None = None,
              **changes) -> str:
    return signed(key, assertion_claims(client_id, **changes), typ="JWT", **(header or {}))


def token_form(client_assertion: str | None, scope: str | None = "system/Patient.rs",
               **changes) -> dict:
    """The form of a token request; a change to None leaves the field out."""
    form = {"grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": client_assertion,
            **changes}
    return {k: v for k, v in form.items() if v is not None}


def basic(client_id: str, secret: str) -> dict:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


# -- access tokens (the resource server) -------------------------------------------------

def access_claims(client_id: str = "tests", scope: str = "system/*.rs", lifetime: int = 300,
                  **changes) -> dict:
    """Claims as the embedded server writes them; a change to None removes the claim."""
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": client_id, "client_id": client_id, "aud": FHIR_BASE,
              "scope": scope, "iat": now, "nbf": now, "exp": now + lifetime,
              "jti": uuid.uuid4().hex, **changes}
    return {k: v for k, v in claims.items() if v is not None}


def server_key(app: Flask):
    """The embedded server's current signing key (SigningKey: kid, key)."""
    return app.extensions["facade.auth"].keyring.signing_key()


def server_token(app: Flask, header: dict | None = None, **changes) -> str:
    """A token signed with the server's own key, as it would mint one (with ``changes``)."""
    key = server_key(app)
    header = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt", **(header or {})}
    return jwt.encode({k: v for k, v in header.items() if v is not None},
                      access_claims(**changes), key.key, algorithms=ALGS)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
