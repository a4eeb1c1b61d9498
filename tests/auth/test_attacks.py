"""An attack matrix against a real app: every forged, stale, replayed or overreaching request
is refused, with the right status and error.

The token endpoint answers OAuth errors (400/401, ``invalid_client``, ``invalid_scope``,
``unsupported_grant_type``) and never lets a browser or proxy keep an answer; the FHIR API
answers 401 with a Bearer ``invalid_token`` challenge, or 403 ``forbidden``, each with an
OperationOutcome. Each refusal is checked for its reason too, so a case cannot pass by
failing for some other cause; the controls show the unforged request is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.datastructures import MultiDict

from facade.auth.clients import new_client

from ..bundles import matches
from ..tokens import authorized_client, client_key, register
from .forge import (
    ALGS,
    FHIR_BASE,
    ISSUER,
    TOKEN_URL,
    access_claims,
    assertion,
    assertion_claims,
    basic,
    bearer,
    hs256,
    public_pem,
    server_key,
    server_token,
    signed,
    tampered,
    token_form,
    unsigned,
)

SECRET = "correct horse battery staple"
#: A search the API answers without asking SystmOne (the NHS number's check digit is wrong).
CHEAP_SEARCH = "/fhir/Patient?_id=unknown"  # no id of ours: answered without asking SystmOne


@dataclass
class Target:
    """One deployment under attack, with its registered clients."""

    app: Flask
    make_app: Callable[..., Flask]
    key: ECKey  # "partner": system/Patient.rs, ES384
    rsa_key: RSAKey  # "partner-rsa": system/Patient.rs, an RSA key
    other_key: ECKey  # "other": system/*.rs, a different key with partner's kid

    @property
    def http(self):
        return self.app.test_client()

    def token(self, form: dict | MultiDict, headers: dict | None = None,
              query: str = "", app: Flask | None = None):
        return (app or self.app).test_client().post("/auth/token" + query, data=form,
                                                    headers=headers or {})


@pytest.fixture
def target(make_app) -> Target:
    # elsewhere.example is a name this deployment answers to, so that a token minted for
    # localhost presented there is refused by its audience, not by the Host check.
    app = make_app(allowed_hosts="elsewhere.example")
    auth = app.extensions["facade.auth"]
    key = register(app, "partner", "system/Patient.rs")
    rsa_key = RSAKey.generate_key(2048, parameters={"kid": "partner-rsa"})
    auth.registry.add(new_client("partner-rsa", "system/Patient.rs",
                                 jwks={"keys": [rsa_key.as_dict(private=False)]}))
    other_key = register(app, "other", "system/*.rs", key=client_key(key.kid))
    # patient/ scopes, but no patient context
    register(app, "no-patient", "patient/*.rs", key=key)
    auth.registry.add(new_client("keeper", "system/Patient.rs", secret=SECRET))
    return Target(app, make_app, key, rsa_key, other_key)


# --- the token endpoint ------------------------------------------------------------------

def now() -> int:
    return int(time.time())


def replayed(t: Target):
    used = assertion(t.key, "partner")
    assert t.token(token_form(used)).status_code == 200
    return t.token(token_form(used))


def replayed_on_another_worker(t: Target):
    """Two apps on one state dir are two workers: the jti set is shared."""
    used = assertion(t.key, "partner")
    assert t.token(token_form(used)).status_code == 200
    return t.token(token_form(used), app=t.make_app())


def assertion_in_query(t: Target):
    form = token_form(assertion(t.key, "partner"))
    query = "?" + "&".join(f"{name}={value}" for name, value in form.items())
    return t.token({}, query=query)


@dataclass(frozen=True)
class TokenCase:
    id: str
    send: Callable[[Target], Any]
    status: int
    error: str
    reason: str  # in error_description ("" when the error carries none)


def post(form_of: Callable[[Target], dict], headers_of: Callable[[Target], dict] | None = None):
    return lambda t: t.token(form_of(t), headers_of(t) if headers_of else None)


TOKEN_CASES = [
    TokenCase("alg-none", post(lambda t: token_form(unsigned(
        {"kid": t.key.kid, "typ": "JWT"}, assertion_claims("partner")))),
        400, "invalid_client", "RS384 or ES384"),
    TokenCase("hs256-keyed-with-the-client-public-key", post(lambda t: token_form(hs256(
        {"kid": t.key.kid, "typ": "JWT"}, assertion_claims("partner"), public_pem(t.key)))),
        400, "invalid_client", "RS384 or ES384"),
    TokenCase("rs256-not-allowed-for-assertions", post(lambda t: token_form(signed(
        t.rsa_key, assertion_claims("partner-rsa"), alg="RS256", typ="JWT"))),
        400, "invalid_client", "RS384 or ES384"),
    TokenCase("ps384-not-allowed-for-assertions", post(lambda t: token_form(signed(
        t.rsa_key, assertion_claims("partner-rsa"), alg="PS384", typ="JWT"))),
        400, "invalid_client", "RS384 or ES384"),
    TokenCase("expired", post(lambda t: token_form(assertion(
        t.key, "partner", iat=now() - 400, exp=now() - 120))),
        400, "invalid_client", "expired"),
    TokenCase("nbf-in-the-future", post(lambda t: token_form(assertion(
        t.key, "partner", nbf=now() + 120))),
        400, "invalid_client", "not yet valid"),
    TokenCase("exp-more-than-5-minutes-ahead", post(lambda t: token_form(assertion(
        t.key, "partner", exp=now() + 600))),
        400, "invalid_client", "5 minutes"),
    TokenCase("no-exp", post(lambda t: token_form(assertion(t.key, "partner", exp=None))),
              400, "invalid_client", "exp"),
    TokenCase("iss-is-not-sub", post(lambda t: token_form(assertion(
        t.key, "partner", iss="other"))),
        400, "invalid_client", "Issuer and Subject"),
    TokenCase("aud-is-the-fhir-base", post(lambda t: token_form(assertion(
        t.key, "partner", aud=FHIR_BASE))),
        400, "invalid_client", "aud"),
    TokenCase("aud-is-the-issuer", post(lambda t: token_form(assertion(
        t.key, "partner", aud=ISSUER))),
        400, "invalid_client", "aud"),
    TokenCase("unknown-kid", post(lambda t: token_form(assertion(
        t.key, "partner", header={"kid": "not-registered"}))),
        400, "invalid_client", "signature"),
    TokenCase("another-clients-key-with-the-same-kid", post(lambda t: token_form(assertion(
        t.other_key, "partner"))),
        400, "invalid_client", "signature"),
    TokenCase("tampered-payload", post(lambda t: token_form(tampered(
        assertion(t.key, "partner"), sub="other", iss="other"))),
        400, "invalid_client", "signature"),
    TokenCase("replayed-jti", replayed, 400, "invalid_client", "used before"),
    TokenCase("replayed-jti-on-a-second-worker", replayed_on_another_worker,
              400, "invalid_client", "used before"),
    TokenCase("no-jti", post(lambda t: token_form(assertion(t.key, "partner", jti=None))),
              400, "invalid_client", "JWT ID"),
    TokenCase("empty-jti", post(lambda t: token_form(assertion(t.key, "partner", jti=""))),
              400, "invalid_client", "jti must be a non-empty string"),
    TokenCase("unregistered-client", post(lambda t: token_form(assertion(t.key, "stranger"))),
              400, "invalid_client", "does not exist"),
    TokenCase("sub-not-a-string", post(lambda t: token_form(assertion(
        t.key, "partner", sub=["partner"]))),
        400, "invalid_client", "sub"),
    TokenCase("garbage-assertion", post(lambda t: token_form("not.a.jwt")),
              400, "invalid_client", "JWT"),
    TokenCase("assertion-for-a-secret-only-client", post(lambda t: token_form(assertion(
        t.key, "keeper"))),
        400, "invalid_client", ""),
    TokenCase("grant-type-password", post(lambda t: token_form(assertion(t.key, "partner"),
                                                               grant_type="password")),
              400, "unsupported_grant_type", ""),
    TokenCase("grant-type-authorization-code", post(lambda t: token_form(
        assertion(t.key, "partner"), grant_type="authorization_code")),
        400, "unsupported_grant_type", ""),
    TokenCase("no-assertion-type", post(lambda t: token_form(assertion(t.key, "partner"),
                                                             client_assertion_type=None)),
              401, "invalid_client", "cannot authenticate"),
    TokenCase("saml-assertion-type", post(lambda t: token_form(
        assertion(t.key, "partner"),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer")),
        401, "invalid_client", "cannot authenticate"),
    TokenCase("assertion-in-the-query-string", assertion_in_query,
              401, "invalid_client", "cannot authenticate"),
    TokenCase("jku-not-the-registered-url", post(lambda t: token_form(assertion(
        t.key, "partner", header={"jku": "https://attacker.example/jwks.json"}))),
        400, "invalid_client", "jku"),
    TokenCase("scope-escalation", post(lambda t: token_form(assertion(t.key, "partner"),
                                                            scope="system/Observation.rs")),
              400, "invalid_scope", "no requested scope can be granted"),
    TokenCase("write-scope-on-a-read-only-server", post(lambda t: token_form(
        assertion(t.key, "partner"), scope="system/Patient.cud")),
        400, "invalid_scope", "no requested scope can be granted"),
    TokenCase("no-scope", post(lambda t: token_form(assertion(t.key, "partner"), scope=None)),
              400, "invalid_scope", "scope is required"),
    TokenCase("malformed-scope", post(lambda t: token_form(assertion(t.key, "partner"),
                                                           scope="system/Patient.sr")),
              400, "invalid_scope", "malformed scope"),
    TokenCase("patient-scope-without-a-patient-context", post(lambda t: token_form(
        assertion(t.key, "no-patient"), scope="patient/*.rs")),
        400, "invalid_scope", "no requested scope can be granted"),
    TokenCase("patient-scope-for-a-system-client", post(lambda t: token_form(
        assertion(t.key, "partner"), scope="patient/Patient.rs")),
        400, "invalid_scope", "no requested scope can be granted"),
    TokenCase("restricted-scope", post(lambda t: token_form(
        assertion(t.other_key, "other"), scope="system/Observation.rs?category=laboratory")),
        400, "invalid_scope", "restrictions"),
    TokenCase("client-secret-basic-when-not-enabled", post(
        lambda t: token_form(None), lambda t: basic("keeper", SECRET)),
        401, "invalid_client", "cannot authenticate"),
    TokenCase("client-secret-post", post(
        lambda t: token_form(None, client_id="keeper", client_secret=SECRET)),
        401, "invalid_client", "cannot authenticate"),
]


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[case.id for case in TOKEN_CASES])
def test_token_endpoint_refuses(target, case):
    response = case.send(target)
    assert response.status_code == case.status, response.json
    assert response.mimetype == "application/json"
    body = response.json
    assert body["error"] == case.error, body
    assert case.reason in body.get("error_description", ""), body
    assert "access_token" not in body
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_the_controls_are_accepted(target):
    """The unforged versions of the requests above get tokens."""
    for form in (token_form(assertion(target.key, "partner")),
                 token_form(signed(target.rsa_key, assertion_claims("partner-rsa"), typ="JWT")),
                 token_form(assertion(target.key, "partner", exp=now() + 300)),
                 token_form(assertion(target.key, "partner", aud=[FHIR_BASE, TOKEN_URL]))):
        response = target.token(form)
        assert response.status_code == 200, response.json
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


def test_a_refused_scope_does_not_leave_a_token_behind(target):
    """The assertion was good, the scope was not: no token, and the jti is spent."""
    used = assertion(target.key, "partner")
    refused = target.token(token_form(used, scope="system/Observation.rs"))
    assert refused.status_code == 400 and "access_token" not in refused.json
    assert target.token(token_form(used)).json["error"] == "invalid_client"


# --- what is granted -----------------------------------------------------------------------

GRANTS = [
    # registered, requested, granted
    ("system/Patient.rs", "system/*.rs", "system/Patient.rs"),
    ("system/Patient.rs", "system/Patient.rs system/Observation.rs", "system/Patient.rs"),
    ("system/Patient.rs", "system/Patient.read", "system/Patient.read"),
    ("system/Patient.read", "system/Patient.rs", "system/Patient.rs"),
    ("system/Patient.read system/Observation.rs", "system/Patient.rs system/Observation.read",
     "system/Patient.rs system/Observation.read"),
    ("system/*.read", "system/Patient.r system/Observation.s",
     "system/Patient.r system/Observation.s"),
    ("system/Patient.rs", "system/Patient.cruds", "system/Patient.rs"),
    ("system/*.rs", "system/Patient.* openid", "system/Patient.rs"),
    ("system/*.rs system/AuditEvent.rs", "system/*.rs system/AuditEvent.read",
     "system/*.rs system/AuditEvent.read"),
]


@pytest.mark.parametrize(("registered", "requested", "granted"), GRANTS,
                         ids=[f"{r}->{q}" for r, q, _ in GRANTS])
def test_scopes_are_narrowed_to_the_registration(target, registered, requested, granted):
    register(target.app, "grantee", registered, key=target.key)
    response = target.token(token_form(assertion(target.key, "grantee"), scope=requested))
    assert response.status_code == 200, response.json
    assert response.json["scope"] == granted
    claims = jwt.decode(response.json["access_token"],
                        target.app.extensions["facade.auth"].keyring.verifying_keys()).claims
    assert claims["scope"] == granted


def test_patient_scopes_carry_the_registered_patient(target):
    register(target.app, "confined", "patient/*.rs", patient="abc", key=target.key)
    response = target.token(token_form(assertion(target.key, "confined"),
                                       scope="patient/Patient.rs system/Patient.rs"))
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "patient/Patient.rs"
    assert response.json["patient"] == "abc"


@pytest.mark.parametrize("enabled", [False, True])
def test_client_secret_basic_only_when_enabled(make_app, enabled):
    app = make_app(client_secret_auth=enabled)
    app.extensions["facade.auth"].registry.add(
        new_client("keeper", "system/Patient.rs", secret=SECRET))
    client = app.test_client()
    response = client.post("/auth/token", data=token_form(None), headers=basic("keeper", SECRET))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    if not enabled:
        assert response.status_code == 401 and response.json["error"] == "invalid_client"
        return
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "system/Patient.rs"
    token = response.json["access_token"]
    assert client.get(CHEAP_SEARCH, headers=bearer(token)).status_code == 200
    wrong = client.post("/auth/token", data=token_form(None),
                        headers=basic("keeper", SECRET + "!"))
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    assert wrong.headers["Cache-Control"] == "no-store"


# --- the resource server -------------------------------------------------------------------

@dataclass(frozen=True)
class ApiCase:
    id: str
    send: Callable[[Target], Any]
    reason: str  # in the OperationOutcome's diagnostics


def get(path: str, token_of: Callable[[Target], str] | None = None, **headers):
    def send(t: Target):
        sent = dict(headers)
        if token_of is not None:
            sent.update(bearer(token_of(t)))
        return t.http.get(path, headers=sent)
    return send


def random_rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


UNAUTHENTICATED = [
    ApiCase("no-token", get(CHEAP_SEARCH), "bearer token is required"),
    ApiCase("garbage", get(CHEAP_SEARCH, lambda t: "garbage"), "not a signed JWT"),
    ApiCase("empty-bearer", get(CHEAP_SEARCH, Authorization="Bearer "),
            "bearer token is required"),
    ApiCase("basic-scheme", get(CHEAP_SEARCH, Authorization="Basic dGVzdHM6c2VjcmV0"),
            "bearer token is required"),
    ApiCase("alg-none", get(CHEAP_SEARCH, lambda t: unsigned(
        {"kid": server_key(t.app).kid, "typ": "at+jwt"}, access_claims())), "'none'"),
    ApiCase("hs256-keyed-with-the-server-public-key", get(CHEAP_SEARCH, lambda t: hs256(
        {"kid": server_key(t.app).kid, "typ": "at+jwt"}, access_claims(),
        public_pem(server_key(t.app).key))), "'HS256'"),
    ApiCase("expired", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, iat=now() - 700, nbf=now() - 700, exp=now() - 400)), "expired"),
    ApiCase("not-yet-valid", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, nbf=now() + 200, iat=now() + 200, exp=now() + 500)), "not valid yet"),
    ApiCase("no-exp", get(CHEAP_SEARCH, lambda t: server_token(t.app, exp=None)), "no expiry"),
    ApiCase("wrong-iss", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, iss="https://attacker.example/auth")), "issuer is not trusted"),
    ApiCase("wrong-aud", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, aud="https://elsewhere.example/fhir")), "audience"),
    ApiCase("unknown-kid", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, header={"kid": "not-a-server-kid"})), "signature"),
    ApiCase("tampered-payload", get(CHEAP_SEARCH, lambda t: tampered(server_token(
        t.app, scope="system/Observation.rs"), scope="system/*.rs")), "signature"),
    ApiCase("random-key-with-the-server-kid", get(CHEAP_SEARCH, lambda t: jwt.encode(
        {"alg": "RS256", "kid": server_key(t.app).kid, "typ": "at+jwt"}, access_claims(),
        random_rsa_key())), "signature"),
    ApiCase("es384-with-the-server-kid", get(CHEAP_SEARCH, lambda t: jwt.encode(
        {"alg": "ES384", "kid": server_key(t.app).kid, "typ": "at+jwt"}, access_claims(),
        client_key(), algorithms=ALGS)), "not trusted"),
    ApiCase("not-an-access-token-typ", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, header={"typ": "dpop+jwt"})), "not an access token"),
    ApiCase("a-client-assertion-as-bearer", get(CHEAP_SEARCH, lambda t: assertion(
        t.key, "partner")), "not trusted"),
    ApiCase("valid-token-in-the-query-string",
            lambda t: t.http.get(CHEAP_SEARCH + "&access_token=" + server_token(t.app)),
            "Authorization header"),
    ApiCase("valid-token-in-a-form-body", lambda t: t.http.post(
        "/fhir/Patient/_search", data={"_id": "unknown",
                                        "access_token": server_token(t.app)}),
        "Authorization header"),
    ApiCase("token-for-another-host", lambda t: t.http.get(
        CHEAP_SEARCH, base_url="http://elsewhere.example", headers=bearer(server_token(t.app))),
        "not trusted"),
]


@pytest.mark.parametrize("case", UNAUTHENTICATED, ids=[case.id for case in UNAUTHENTICATED])
def test_api_refuses_a_bad_token(target, case):
    response = case.send(target)
    assert response.status_code == 401, response.json
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    outcome = response.json
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "login"
    assert case.reason in outcome["issue"][0]["diagnostics"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_controls_are_accepted(target):
    """A token built like the forged ones, but honestly, is accepted."""
    assert target.http.get(CHEAP_SEARCH, headers=bearer(server_token(target.app))
                           ).status_code == 200
    assert target.http.post("/fhir/Patient/_search", data={"_id": "unknown"},
                            headers=bearer(server_token(target.app))).status_code == 200
    assert target.http.get(CHEAP_SEARCH, headers=bearer(server_token(
        target.app, nbf=now() + 30, iat=now() + 30))).status_code == 200  # within the skew


FORBIDDEN = [
    ApiCase("read-with-only-search", get("/fhir/Patient/abc", lambda t: server_token(
        t.app, scope="system/Patient.s")), "do not allow read of Patient"),
    ApiCase("search-with-only-read", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, scope="system/Patient.r")), "do not allow search of Patient"),
    ApiCase("observations-with-a-patient-scope", get(
        "/fhir/Observation?patient=abc", lambda t: server_token(
            t.app, scope="system/Patient.rs")), "do not allow search of Observation"),
    ApiCase("audit-search-with-a-wildcard", get("/fhir/AuditEvent", lambda t: server_token(
        t.app, scope="system/*.rs")), "do not allow search of AuditEvent"),
    ApiCase("audit-read-with-a-wildcard", get("/fhir/AuditEvent/abc", lambda t: server_token(
        t.app, scope="system/*.read")), "do not allow read of AuditEvent"),
    ApiCase("audit-with-a-patient-scope", get("/fhir/AuditEvent", lambda t: server_token(
        t.app, scope="patient/AuditEvent.rs", patient="abc")),
        "do not allow search of AuditEvent"),
    ApiCase("patient-scope-without-a-patient-claim", get(CHEAP_SEARCH, lambda t: server_token(
        t.app, scope="patient/*.rs")), "patient context"),
]


def check_forbidden(response, reason: str) -> None:
    assert response.status_code == 403, response.json
    outcome = response.json
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    assert reason in outcome["issue"][0]["diagnostics"]
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("case", FORBIDDEN, ids=[case.id for case in FORBIDDEN])
def test_api_refuses_what_the_scopes_do_not_allow(target, case):
    check_forbidden(case.send(target), case.reason)


def test_audit_events_need_their_own_scope(target):
    wildcard = target.http.get("/fhir/AuditEvent", headers=bearer(server_token(
        target.app, scope="system/*.rs")))
    assert wildcard.status_code == 403
    named = target.http.get("/fhir/AuditEvent", headers=bearer(server_token(
        target.app, scope="system/AuditEvent.rs")))
    assert named.status_code == 200, named.json
    assert named.json["resourceType"] == "Bundle"


@pytest.mark.parametrize("path", ["/fhir/metadata", "/fhir/.well-known/smart-configuration"])
def test_discovery_is_open_without_a_token(target, path):
    response = target.http.get(path)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- the patient compartment ---------------------------------------------------------------

@dataclass(frozen=True)
class Compartment:
    own: str  # the confined client's patient
    other: str  # a patient found by the same search
    other_nhs_number: str
    other_observation: str  # one of the other patient's Observations
    search: str  # a Patient search that finds both
    confined: Any  # a test client with patient/*.rs for ``own``


@pytest.fixture
def compartment(target, practice) -> Compartment:
    everything = authorized_client(target.app)
    groups: dict[tuple[str, str], list] = {}
    for summary in practice.index.summaries:
        if summary.sex in "MF" and summary.identity.kind == "NHSNumber":
            groups.setdefault((summary.surname[:2], summary.sex), []).append(summary)
    initials, sex = next(k for k, found in groups.items() if len(found) >= 2
                         and any(practice.record(s).find("Clinical/Event/ClinicalCode[Value]")
                                 is not None for s in found))
    search = f"/fhir/Patient?family={initials}&gender={ {'M': 'male', 'F': 'female'}[sex]}"
    found = everything.get(search)
    assert found.status_code == 200, found.json
    ids = [entry["resource"]["id"] for entry in found.json["entry"]]
    assert len(ids) >= 2
    observations = {}
    for patient_id in ids:
        bundle = everything.get(f"/fhir/Observation?patient={patient_id}").json
        observations[patient_id] = [r["id"] for r in matches(bundle)]
    other = next(patient_id for patient_id in ids if observations[patient_id])
    own = next(patient_id for patient_id in ids if patient_id != other)
    confined = authorized_client(target.app, "patient/*.rs", client_id="confined",
                                 patient=own)
    nhs_number = next(entry["resource"]["identifier"][0]["value"]
                      for entry in found.json["entry"] if entry["resource"]["id"] == other)
    return Compartment(own, other, nhs_number, observations[other][0], search, confined)


ESCAPES = [
    ("read-another-patient", lambda c: c.confined.get(f"/fhir/Patient/{c.other}")),
    ("search-observations-of-another-patient",
     lambda c: c.confined.get(f"/fhir/Observation?patient={c.other}")),
    ("search-observations-by-subject",
     lambda c: c.confined.get(f"/fhir/Observation?subject=Patient/{c.other}")),
    ("search-observations-of-both",
     lambda c: c.confined.get(f"/fhir/Observation?patient={c.own}&subject={c.other}")),
    ("search-observations-by-post", lambda c: c.confined.post(
        "/fhir/Observation/_search", data={"patient": f"Patient/{c.other}"})),
    ("read-another-patients-observation",
     lambda c: c.confined.get(f"/fhir/Observation/{c.other_observation}")),
]


@pytest.mark.parametrize("escape", [e[1] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_a_patient_confined_client_stays_in_its_compartment(compartment, escape):
    check_forbidden(escape(compartment), "only the patient in its context")


def test_a_confined_patient_search_answers_with_its_own_patient_only(compartment):
    bundle = compartment.confined.get(compartment.search)
    assert bundle.status_code == 200, bundle.json
    assert [e["resource"]["id"] for e in bundle.json["entry"]] == [compartment.own]
    assert bundle.json["total"] == 1
    by_id = compartment.confined.get(f"/fhir/Patient?_id={compartment.other}")
    assert by_id.status_code == 200 and by_id.json["total"] == 0


def test_a_confined_client_reads_its_own_patient(compartment):
    assert compartment.confined.get(f"/fhir/Patient/{compartment.own}").status_code == 200
    own = compartment.confined.get(f"/fhir/Observation?patient={compartment.own}")
    assert own.status_code == 200, own.json
    assert {r["subject"]["reference"] for r in matches(own.json)} <= \
        {f"Patient/{compartment.own}"}


def test_another_patient_by_nhs_number_is_not_found(compartment):
    """Asking for another patient by NHS number finds nothing, as if they did not exist."""
    response = compartment.confined.get(
        f"/fhir/Patient?identifier={compartment.other_nhs_number}")
    assert response.status_code == 200, response.json
    assert response.json["total"] == 0 and not response.json.get("entry")

