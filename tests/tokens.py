"""Access tokens for tests that exercise the API: a registered client, a token, a test client."""

from __future__ import annotations

from flask import Flask
from joserfc.jwk import ECKey

from facade.auth.clients import new_client

#: Everything the API serves, the audit included.
FULL_SCOPE = "system/*.rs system/AuditEvent.rs"
TEST_BASE = "http://localhost/fhir"  # where Flask's test client sends requests


def client_key(kid: str = "test-es384") -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid, "alg": "ES384"})


def register(app: Flask, client_id: str = "tests", scope: str = FULL_SCOPE,
             patient: str | None = None, key: ECKey | None = None) -> ECKey:
    key = key or client_key()
    auth = app.extensions["facade.auth"]
    auth.registry.add(new_client(client_id, scope, jwks={"keys": [key.as_dict(private=False)]},
                                 patient=patient), replace=True)
    return key


def token_for(app: Flask, scope: str = FULL_SCOPE, client_id: str = "tests",
              patient: str | None = None) -> str:
    register(app, client_id, scope, patient)
    return app.extensions["facade.auth"].mint_for(client_id, TEST_BASE)["access_token"]


def authorized_client(app: Flask, scope: str = FULL_SCOPE, **kwargs):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token_for(app, scope, **kwargs)
    return client
