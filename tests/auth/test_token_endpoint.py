"""The embedded authorization server's happy paths and promises, over a real app.

Token responses and access tokens (RFC 6749, RFC 9068, SMART Backend Services),
clients registered by JWKS URL (and their key rotation), introspection (RFC 7662),
SMART discovery and the CapabilityStatement's security section, and tokens from an
external identity provider.
"""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from facade.auth.clients import new_client

from ..tokens import client_key, register
from .forge import (
    ALGS,
    FHIR_BASE,
    ISSUER,
    TOKEN_URL,
    access_claims,
    assertion,
    assertion_claims,
    bearer,
    claims_of,
    header_of,
    server_token,
    signed,
    tampered,
    token_form,
)

CHEAP_SEARCH = "/fhir/Patient?_id=unknown"  # no id of ours: answered without asking SystmOne
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def get_token(app, key, client_id="partner", scope="system/Patient.rs", **header):
    response = app.test_client().post("/auth/token", data=token_form(
        assertion(key, client_id, header=header or None), scope=scope))
    assert response.status_code == 200, response.json
    return response


# --- the token response --------------------------------------------------------------------

def test_a_token_response(app):
    key = register(app, "partner", "system/Patient.rs system/Observation.rs")
    response = get_token(app, key, scope="system/Patient.rs")
    body = response.json
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 300
    assert body["scope"] == "system/Patient.rs"
    assert "refresh_token" not in body
    assert "patient" not in body
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.mimetype == "application/json"


def test_the_access_token(app):
    key = register(app, "partner", "system/Patient.rs")
    before = int(time.time())
    first = get_token(app, key).json["access_token"]
    second = get_token(app, key).json["access_token"]
    header = header_of(first)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    published = app.test_client().get("/auth/jwks")
    assert published.status_code == 200
    assert published.headers["Access-Control-Allow-Origin"] == "*"
    jwks = published.json
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]
    assert all("d" not in k and "p" not in k for k in jwks["keys"])  # public parts only
    claims = jwt.decode(first, KeySet.import_key_set(jwks)).claims  # verifies with the JWKS
    assert claims["iss"] == ISSUER
    assert claims["aud"] == FHIR_BASE
    assert claims["sub"] == claims["client_id"] == "partner"
    assert claims["scope"] == "system/Patient.rs"
    assert before <= claims["iat"] <= time.time()
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"] and claims["jti"] != claims_of(second)["jti"]
    assert app.test_client().get(CHEAP_SEARCH, headers=bearer(first)).status_code == 200


def test_the_token_lifetime_follows_the_setting(make_app):
    app = make_app(token_lifetime=120.0)
    key = register(app, "partner", "system/Patient.rs")
    body = get_token(app, key).json
    claims = claims_of(body["access_token"])
    assert body["expires_in"] == 120 == claims["exp"] - claims["iat"]


@pytest.mark.parametrize("make_key", [
    lambda: ECKey.generate_key("P-384", parameters={"kid": "es384"}),
    lambda: RSAKey.generate_key(2048, parameters={"kid": "rs384"}),
], ids=["ES384", "RS384"])
def test_es384_and_rs384_assertions(app, make_key):
    key = make_key()
    app.extensions["facade.auth"].registry.add(
        new_client("partner", "system/Patient.rs", jwks={"keys": [key.as_dict(private=False)]}))
    form = token_form(signed(key, assertion_claims("partner"), typ="JWT"))
    response = app.test_client().post("/auth/token", data=form)
    assert response.status_code == 200, response.json
    assert header_of(form["client_assertion"])["alg"] == \
        ("ES384" if isinstance(key, ECKey) else "RS384")


def test_a_patient_context_is_carried(app):
    key = register(app, "confined", "patient/*.rs", patient="p1")
    body = get_token(app, key, "confined", scope="patient/Observation.rs").json
    assert body["patient"] == "p1"
    assert claims_of(body["access_token"])["patient"] == "p1"


# --- clients registered by JWKS URL --------------------------------------------------------

def test_a_client_registered_by_jwks_url_and_its_key_rotation(app, publisher):
    first = client_key("first")
    url = publisher.publish("/partner/jwks.json", {"keys": [first.as_dict(private=False)]})
    app.extensions["facade.auth"].registry.add(
        new_client("remote", "system/Patient.rs", jwks_uri=url))
    get_token(app, first, "remote")
    get_token(app, first, "remote", jku=url)  # the registered URL may be named
    assert publisher.hits["/partner/jwks.json"] == 1  # cached between assertions

    second = client_key("second")  # the client rotates: a new kid, the old key withdrawn
    publisher.publish("/partner/jwks.json", {"keys": [second.as_dict(private=False)]})
    get_token(app, second, "remote")  # the unknown kid makes the server fetch again
    assert publisher.hits["/partner/jwks.json"] == 2

    stranger = client_key("third")  # another unknown kid so soon: no fetch, refused
    response = app.test_client().post("/auth/token",
                                      data=token_form(assertion(stranger, "remote")))
    assert response.status_code == 400 and response.json["error"] == "invalid_client"
    assert publisher.hits["/partner/jwks.json"] == 2


def test_an_unreachable_jwks_url_is_an_invalid_client(app, publisher):
    key = client_key()
    app.extensions["facade.auth"].registry.add(new_client(
        "remote", "system/Patient.rs", jwks_uri=publisher.url("/nothing-here.json")))
    response = app.test_client().post("/auth/token", data=token_form(assertion(key, "remote")))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_client_jwks_url_with_a_p256_key_is_refused(app, publisher):
    """SMART's ES384 needs P-384: a client publishing only P-256 keys cannot authenticate."""
    key = ECKey.generate_key("P-256", parameters={"kid": "p256"})
    url = publisher.publish("/partner/jwks.json", {"keys": [key.as_dict(private=False)]})
    app.extensions["facade.auth"].registry.add(
        new_client("remote", "system/Patient.rs", jwks_uri=url))
    form = token_form(signed(key, assertion_claims("remote"), alg="ES256", typ="JWT"))
    response = app.test_client().post("/auth/token", data=form)
    assert response.status_code == 400 and response.json["error"] == "invalid_client"
    assert "P-384" in response.json["error_description"]


# --- introspection -------------------------------------------------------------------------

@pytest.fixture
def caller(app):
    key = register(app, "partner", "system/Patient.rs")
    return get_token(app, key).json["access_token"]


def introspect(app, token, caller_token):
    headers = bearer(caller_token) if caller_token else {}
    return app.test_client().post("/auth/introspect", data={"token": token}, headers=headers)


def test_introspecting_an_active_token(app, caller):
    key = register(app, "confined", "patient/*.rs", patient="p1")
    token = get_token(app, key, "confined", scope="patient/*.rs").json["access_token"]
    response = introspect(app, token, caller)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["active"] is True
    assert body["scope"] == "patient/*.rs"
    assert body["client_id"] == "confined"
    assert body["exp"] == claims_of(token)["exp"]
    assert body["patient"] == "p1"
    assert body["iss"] == ISSUER


@pytest.mark.parametrize("token_of", [
    lambda app: "garbage",
    lambda app: "",
    lambda app: server_token(app, iat=int(time.time()) - 900, nbf=int(time.time()) - 900,
                             exp=int(time.time()) - 600),
    lambda app: server_token(app, aud="https://elsewhere.example/fhir"),
    lambda app: tampered(server_token(app), scope="system/*.rs system/AuditEvent.rs"),
], ids=["garbage", "empty", "expired", "wrong-aud", "tampered"])
def test_introspecting_an_inactive_token(app, caller, token_of):
    response = introspect(app, token_of(app), caller)
    assert response.status_code == 200
    assert response.json == {"active": False}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("caller_token", [None, "garbage"])
def test_introspection_needs_a_caller_token(app, caller, caller_token):
    response = introspect(app, caller, caller_token)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "active" not in response.json


# --- discovery -----------------------------------------------------------------------------

@pytest.mark.parametrize(("settings", "root"), [
    ({}, "http://localhost"),
    ({"public_base_url": "https://facade.example.org/fhir"}, "https://facade.example.org"),
], ids=["request-url", "public-base-url"])
def test_smart_configuration(make_app, settings, root):
    app = make_app(**settings)
    response = app.test_client().get("/fhir/.well-known/smart-configuration",
                                     headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.json
    assert body["token_endpoint"] == f"{root}/auth/token"
    assert body["jwks_uri"] == f"{root}/auth/jwks"
    assert body["introspection_endpoint"] == f"{root}/auth/introspect"
    assert body["issuer"] == f"{root}/auth"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert {"RS384", "ES384"} <= set(body["token_endpoint_auth_signing_alg_values_supported"])
    assert {"system/Patient.rs", "system/*.rs", "system/Patient.read", "patient/Condition.rs",
            "system/MedicationRequest.rs", "user/Immunization.read", "system/AuditEvent.rs"} <= \
        set(body["scopes_supported"])
    assert "patient/AuditEvent.rs" not in body["scopes_supported"]
    assert {"client-confidential-asymmetric", "permission-v1", "permission-v2"} <= \
        set(body["capabilities"])
    assert "plain" not in body.get("code_challenge_methods_supported", [])


def test_smart_configuration_names_client_secret_basic_only_when_enabled(make_app):
    app = make_app(client_secret_auth=True)
    body = app.test_client().get("/fhir/.well-known/smart-configuration").json
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt",
                                                             "client_secret_basic"]


def test_capability_statement_security(app):
    response = app.test_client().get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    security = response.json["rest"][0]["security"]
    assert security["cors"] is True
    [coding] = security["service"][0]["coding"]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/restful-security-service"
    assert coding["code"] == "SMART-on-FHIR"
    [uris] = [e for e in security["extension"] if e["url"] == OAUTH_URIS]
    named = {e["url"]: e["valueUri"] for e in uris["extension"]}
    assert named["token"] == TOKEN_URL


def test_the_token_url_the_capability_statement_names_works(app):
    key = register(app, "partner", "system/Patient.rs")
    security = app.test_client().get("/fhir/metadata").json["rest"][0]["security"]
    [uris] = [e for e in security["extension"] if e["url"] == OAUTH_URIS]
    token_url = next(e["valueUri"] for e in uris["extension"] if e["url"] == "token")
    response = app.test_client().post(token_url.removeprefix("http://localhost"),
                                      data=token_form(assertion(key, "partner", aud=token_url)))
    assert response.status_code == 200, response.json


# --- an external identity provider ---------------------------------------------------------

IDP = "https://idp.example.org/realms/health"


@pytest.fixture
def idp(make_app, publisher):
    """An app trusting an identity provider whose JWKS a local server publishes."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "idp-rsa", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "idp-ec", "use": "sig"})
    url = publisher.publish("/idp/certs", {"keys": [rsa.as_dict(private=False),
                                                    ec.as_dict(private=False)]})
    app = make_app(oauth_issuer=IDP, oauth_jwks_url=url)
    return app, {"RS256": rsa, "ES256": ec}


def idp_token(key, alg="RS256", typ="JWT", **changes) -> str:
    claims = access_claims(**{"client_id": "idp-client", "scope": "system/Patient.rs",
                              "iss": IDP, **changes})
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode({k: v for k, v in header.items() if v is not None}, claims, key,
                      algorithms=ALGS)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_tokens_of_the_identity_provider_are_accepted(idp, typ, alg):
    app, keys = idp
    token = idp_token(keys[alg], alg, typ)
    client = app.test_client()
    response = client.get(CHEAP_SEARCH, headers=bearer(token))
    assert response.status_code == 200, response.json
    refused = client.get("/fhir/Observation?patient=abc", headers=bearer(token))
    assert refused.status_code == 403  # its scopes are enforced like the embedded server's
    own = server_token(app)  # the embedded server's tokens still work beside them
    assert client.get(CHEAP_SEARCH, headers=bearer(own)).status_code == 200
    introspected = client.post("/auth/introspect", data={"token": token},
                               headers=bearer(own)).json
    assert introspected["active"] is True and introspected["iss"] == IDP


@pytest.mark.parametrize("forge", [
    lambda keys: idp_token(keys["RS256"], iss="https://attacker.example/realms/health"),
    lambda keys: idp_token(keys["RS256"], iss=IDP + "/"),
    lambda keys: idp_token(RSAKey.generate_key(2048, parameters={"kid": "idp-rsa"})),
    lambda keys: idp_token(keys["RS256"], aud="https://elsewhere.example/fhir"),
    lambda keys: idp_token(keys["RS256"], exp=int(time.time()) - 600),
    lambda keys: idp_token(keys["RS256"], iss=ISSUER),  # the IdP's key cannot sign as us
], ids=["other-issuer", "issuer-with-a-slash", "foreign-key", "wrong-aud", "expired",
        "posing-as-the-embedded-server"])
def test_tokens_not_from_the_identity_provider_are_refused(idp, forge):
    app, keys = idp
    response = app.test_client().get(CHEAP_SEARCH, headers=bearer(forge(keys)))
    assert response.status_code == 401, response.json
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_the_identity_providers_key_rotation_is_followed(idp, publisher):
    app, keys = idp
    client = app.test_client()
    assert client.get(CHEAP_SEARCH, headers=bearer(idp_token(keys["RS256"]))).status_code == 200
    rotated = RSAKey.generate_key(2048, parameters={"kid": "idp-rsa-2", "use": "sig"})
    publisher.publish("/idp/certs", {"keys": [rotated.as_dict(private=False)]})
    response = client.get(CHEAP_SEARCH, headers=bearer(idp_token(rotated)))
    assert response.status_code == 200, response.json
    assert publisher.hits["/idp/certs"] == 2


def test_without_an_identity_provider_its_tokens_are_refused(app):
    key = RSAKey.generate_key(2048, parameters={"kid": "idp-rsa"})
    response = app.test_client().get(CHEAP_SEARCH, headers=bearer(idp_token(key)))
    assert response.status_code == 401
    assert "issuer is not trusted" in response.json["issue"][0]["diagnostics"]


def test_an_assertion_jti_is_not_an_access_token_jti(app):
    """Claims shaped like the server's, signed by the client: never an access token."""
    key = register(app, "partner", "system/Patient.rs")
    forged = signed(key, access_claims(client_id="partner", jti=uuid.uuid4().hex),
                    typ="at+jwt")
    assert app.test_client().get(CHEAP_SEARCH, headers=bearer(forged)).status_code == 401
