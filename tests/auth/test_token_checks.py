"""facade/auth/tokens.py checked against the standards, boundary by boundary.

Every expectation here is written out by hand from RFC 9068 (JWT access tokens), RFC 7519
(JWT), RFC 7515 (JWS), RFC 6749 (the token response), SMART Backend Services and the
project's documented rules (README, CONFIG.md: an access token lives at most 300 s,
FACADE_CLOCK_SKEW = 60 s "for all times"); nothing is imported from tokens.py but the
classes under test. Tokens are signed for real (RSA, EC P-256 and P-384 keys made here)
and the validator reads an injected clock.

The time rule followed (the project's: keys.py keeps a key published "until every token it
signed has expired (token_lifetime plus the clock skew allowed)", and tests/auth/test_keys.py
presents a token at exp + skew as "the last moment it may be presented"): a token is
accepted while now <= exp + skew and refused from one instant later; nbf and iat may be
at most skew ahead of now (RFC 7519 4.1.5: accepted from nbf on, less the leeway).
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from facade.auth.keys import SigningKey
from facade.auth.tokens import InvalidToken, Issuer, TokenValidator, TrustedIssuer

NOW = 1_800_000_000
SKEW = 60  # CONFIG.md: FACADE_CLOCK_SKEW, 60 s
MAX_LIFETIME = 300  # README: an access token is held "for at most 300 s"
LOCAL = "https://facade.example/auth"  # the embedded server: public root + "/auth"
AUDIENCE = "https://facade.example/fhir"  # the FHIR base URL
IDP = "https://idp.example/tenant"  # the one external identity provider
#: README: the external provider's tokens may be signed RS/PS/ES, never none or HMAC.
EXTERNAL_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "ES256", "ES384")

LOCAL_KEY = RSAKey.generate_key(2048, parameters={"kid": "local-1"})
IDP_RSA = RSAKey.generate_key(2048, parameters={"kid": "idp-rsa"})
IDP_P256 = ECKey.generate_key("P-256", parameters={"kid": "idp-p256"})
IDP_P384 = ECKey.generate_key("P-384", parameters={"kid": "idp-p384"})
KEY_FOR = {"RS": IDP_RSA, "PS": IDP_RSA, "ES256": IDP_P256, "ES384": IDP_P384}


def public(*keys) -> KeySet:
    return KeySet([type(k).import_key(k.as_dict(private=False)) for k in keys])


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Lookups:
    """An issuer's keys by kid, counting how often they are asked for: each time is a
    signature check (a remembered token costs none)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys, self.count = keys, 0

    def __call__(self, kid: str | None) -> KeySet:
        self.count += 1
        return self.keys


def validator(clock: Clock | None = None, external: bool = False, remembered: int = 100,
              local_keys: Lookups | None = None) -> TokenValidator:
    trusted = TrustedIssuer(IDP, Lookups(public(IDP_RSA, IDP_P256, IDP_P384)),
                            EXTERNAL_ALGS) if external else None
    return TokenValidator(local_keys or Lookups(public(LOCAL_KEY)), trusted, skew=SKEW,
                          clock=clock or Clock(), remembered=remembered)


def claims(**changes) -> dict:
    """What the embedded server writes (RFC 9068 2.2); a change to None removes a claim."""
    base = {"iss": LOCAL, "sub": "partner", "client_id": "partner", "aud": AUDIENCE,
            "scope": "system/Patient.rs", "iat": NOW, "nbf": NOW, "exp": NOW + 300,
            "jti": uuid.uuid4().hex}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def local_token(header: dict | None = None, **changes) -> str:
    head = {"alg": "RS256", "kid": LOCAL_KEY.kid, "typ": "at+jwt", **(header or {})}
    return jwt.encode({k: v for k, v in head.items() if v is not None}, claims(**changes),
                      LOCAL_KEY, algorithms=["RS256"])


def external_token(alg: str = "RS384", typ: str | None = "JWT", **changes) -> str:
    key = KEY_FOR[alg] if alg in KEY_FOR else KEY_FOR[alg[:2]]
    head = {"alg": alg, "kid": key.kid, **({"typ": typ} if typ is not None else {})}
    return jwt.encode(head, claims(**{"iss": IDP, **changes}), key, algorithms=[alg])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rs256(header: bytes, payload: bytes) -> str:
    """A compact JWS with any bytes as header and payload, really signed RS256 (RFC 7515
    7.1), for shapes joserfc will not build."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = LOCAL_KEY.private_key.sign(signing_input.encode(), padding.PKCS1v15(),
                                           hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def accepted(token: str, check: TokenValidator | None = None, audience: str = AUDIENCE,
             local: str = LOCAL):
    return (check or validator(external=True)).validate(token, audience, local)


def refused(token: str, check: TokenValidator | None = None, audience: str = AUDIENCE,
            local: str = LOCAL) -> None:
    with pytest.raises(InvalidToken):
        (check or validator(external=True)).validate(token, audience, local)


# -- the header: algorithm and type --------------------------------------------------------

@pytest.mark.parametrize("alg", EXTERNAL_ALGS)
def test_the_external_issuer_may_sign_with_every_allowed_algorithm(alg):
    assert accepted(external_token(alg)).issuer == IDP


def part(value: object) -> str:
    return b64url(json.dumps(value).encode())


def unsigned() -> str:
    """alg none (RFC 7518 3.6): an empty signature."""
    return f"{part({'alg': 'none', 'typ': 'at+jwt'})}.{part(claims())}."


def hs256_keyed_with_the_public_key() -> str:
    signing_input = f"{part({'alg': 'HS256', 'kid': LOCAL_KEY.kid, 'typ': 'at+jwt'})}." \
        f"{part(claims())}"
    mac = hmac.new(LOCAL_KEY.as_pem(private=False), signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{b64url(mac)}"


@pytest.mark.parametrize("make", [unsigned, hs256_keyed_with_the_public_key])
def test_no_algorithm_outside_the_allow_list(make):
    # README: "never none or HMAC" (a public key must not serve as a shared secret).
    refused(make())


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT",
                                 "Application/At+Jwt"])
def test_an_access_token_says_at_jwt_with_or_without_the_application_prefix(typ):
    # RFC 9068 4: typ "at+jwt" or "application/at+jwt"; RFC 7515 4.1.9: any case.
    assert accepted(local_token({"typ": typ})).client_id == "partner"
    assert accepted(external_token(typ=typ)).client_id == "partner"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", None])
def test_only_the_external_issuer_may_send_a_plain_jwt(typ):
    # README: the provider's tokens may say JWT (RFC 7515 4.1.9: = application/jwt); the
    # embedded server's are RFC 9068 access tokens, which say at+jwt (RFC 9068 4).
    if typ is not None:
        assert accepted(external_token(typ=typ)).issuer == IDP
    refused(local_token({"typ": typ}))


@pytest.mark.parametrize("typ", ["dpop+jwt", "secevent+jwt", "JOSE"])
def test_other_types_are_not_access_tokens(typ):
    refused(local_token({"typ": typ}))
    refused(external_token(typ=typ))


def test_only_the_embedded_and_the_one_external_issuer_are_trusted():
    # RFC 9068 4: the issuer must exactly match one the resource server trusts, even when
    # the token is signed with a trusted issuer's key.
    stranger = "https://idp.example/other-tenant"
    refused(external_token(iss=stranger))
    refused(external_token(iss=stranger), validator())
    refused(local_token(iss=stranger))
    refused(local_token(iss=LOCAL + "/"))
    refused(external_token(), validator())  # no external issuer configured


def test_the_issuers_keys_are_looked_up_by_the_tokens_kid():
    # A key published since the keys were last read (a rotation, a provider's new key) is
    # found by its kid: keys.py and clients.JwksSource read again only for an unknown kid.
    old = ECKey.generate_key("P-384", parameters={"kid": "idp-old"})

    def keys(kid: str | None) -> KeySet:
        return public(old) if kid in (None, old.kid) else public(old, IDP_RSA)

    check = TokenValidator(Lookups(public(LOCAL_KEY)), TrustedIssuer(IDP, keys, ("RS384",)),
                           skew=SKEW, clock=Clock())
    assert accepted(external_token("RS384"), check).issuer == IDP


# -- what the embedded server mints ---------------------------------------------------------

class OneKey:
    """The keyring as Issuer uses it: its current signing key."""

    def signing_key(self) -> SigningKey:
        return SigningKey(LOCAL_KEY.kid, LOCAL_KEY, NOW - 1000.0, None)


def unverified(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return tuple(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                 for p in (header, payload))


@pytest.mark.parametrize("lifetime", [MAX_LIFETIME, 1])
def test_a_token_lives_as_long_as_configured_up_to_300_seconds(lifetime):
    body = Issuer(OneKey(), lifetime, Clock()).mint(LOCAL, "partner", "system/Patient.rs",
                                                  AUDIENCE)
    minted = unverified(body["access_token"])[1]
    assert minted["iat"] == NOW and minted["exp"] == NOW + lifetime
    assert body["expires_in"] == lifetime


@pytest.mark.parametrize("lifetime", [MAX_LIFETIME + 1, MAX_LIFETIME + 0.5, 0, -1])
def test_no_issuer_for_a_lifetime_over_300_seconds_or_not_positive(lifetime):
    with pytest.raises(ValueError):
        Issuer(OneKey(), lifetime, Clock())


def test_a_minted_token_is_an_rfc_9068_access_token_and_validates():
    issuer = Issuer(OneKey(), MAX_LIFETIME, Clock())
    body = issuer.mint(LOCAL, "partner", "patient/Observation.rs", AUDIENCE, patient="p-1")
    # RFC 6749 5.1 (+ SMART's patient): the token response.
    assert {k: v for k, v in body.items() if k != "access_token"} == {
        "token_type": "Bearer", "expires_in": MAX_LIFETIME, "scope": "patient/Observation.rs",
        "patient": "p-1"}
    header, minted = unverified(body["access_token"])
    assert header["typ"] == "at+jwt" and header["kid"] == LOCAL_KEY.kid  # RFC 9068 2.1
    # RFC 9068 2.2: iss, exp, aud, sub, client_id, iat, jti (+ scope, 2.2.3).
    assert {k: minted[k] for k in ("iss", "aud", "sub", "client_id", "scope", "patient")} == {
        "iss": LOCAL, "aud": AUDIENCE, "sub": "partner", "client_id": "partner",
        "scope": "patient/Observation.rs", "patient": "p-1"}
    assert minted["exp"] == minted["iat"] + MAX_LIFETIME
    assert minted["jti"] != unverified(issuer.mint(LOCAL, "partner", "system/Patient.rs",
                                                   AUDIENCE)["access_token"])[1]["jti"]
    access = accepted(body["access_token"])
    assert (access.client_id, access.scope, access.patient, access.issuer, access.jti,
            access.expires) == ("partner", "patient/Observation.rs", "p-1", LOCAL,
                                minted["jti"], NOW + MAX_LIFETIME)


def test_a_checked_token_cannot_be_altered_by_whoever_holds_it():
    # The validator hands the same AccessToken to every request bearing the token (it is
    # remembered): one request changing what it holds would change what the next is granted.
    check = validator()
    token = local_token(scope="system/Patient.rs")
    first = accepted(token, check)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.scope = "system/*.rs"
    assert accepted(token, check).scope == "system/Patient.rs"


# -- times: exp, nbf, iat within the skew ----------------------------------------------------

def test_expiry_is_allowed_the_skew_and_not_a_second_more_at_first_sight():
    exp = NOW + 300
    assert accepted(local_token(exp=exp), validator(Clock(exp + SKEW))).client_id == "partner"
    refused(local_token(exp=exp), validator(Clock(exp + SKEW + 1)))


def test_expiry_is_allowed_the_skew_and_not_a_second_more_when_remembered():
    clock = Clock(NOW)
    check = validator(clock)
    token = local_token(exp=NOW + 300)
    accepted(token, check)  # remembered from here on
    for now in (NOW + 300 - SKEW, NOW + 299, NOW + 300 + SKEW):
        clock.now = now
        assert accepted(token, check).client_id == "partner"
    clock.now = NOW + 300 + SKEW + 1
    refused(token, check)


@pytest.mark.parametrize("exp", [None, "soon", True], ids=["missing", "text", "boolean"])
def test_a_token_without_a_numeric_expiry_is_refused(exp):
    refused(local_token(exp=exp))  # RFC 9068 2.2: exp REQUIRED; RFC 7519 2: a NumericDate


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_nbf_and_iat_may_be_the_skew_ahead_and_not_a_second_more(claim):
    others = {"nbf": NOW, "iat": NOW}
    assert accepted(local_token(**{**others, claim: NOW + SKEW})).client_id == "partner"
    refused(local_token(**{**others, claim: NOW + SKEW + 1}))
    refused(local_token(**{**others, claim: "later"}))


def test_nbf_is_optional():
    assert accepted(local_token(nbf=None)).client_id == "partner"  # RFC 7519 4.1.5


# -- the client, the scope, the audience, the jti ---------------------------------------------

def test_the_client_is_client_id_else_sub():
    # RFC 9068 2.2: client_id names the client; for a client-credentials token sub is the
    # client too (2.2: "SHOULD correspond to an identifier ... [of] the client").
    assert accepted(local_token(client_id="partner", sub="someone")).client_id == "partner"
    assert accepted(external_token(client_id=None, sub="svc-7")).client_id == "svc-7"


@pytest.mark.parametrize("names", [{"client_id": None, "sub": None},
                                   {"client_id": 42, "sub": None},
                                   {"client_id": "", "sub": ""},
                                   {"client_id": None, "sub": ["svc"]}],
                         ids=["none", "number", "empty", "list"])
def test_a_token_naming_no_client_is_refused(names):
    refused(local_token(**names))


def test_the_scope_is_scope_else_scp():
    # RFC 9068 2.2.3: "scope", a space-separated string; some providers send "scp", often
    # a list.
    access = accepted(local_token(scope="system/Patient.rs system/Observation.rs"))
    assert access.scope == "system/Patient.rs system/Observation.rs"
    assert [s.text for s in access.scopes] == ["system/Patient.rs", "system/Observation.rs"]
    listed = accepted(external_token(scope=None, scp=["system/Patient.rs",
                                                      "system/Condition.rs"]))
    assert listed.scope == "system/Patient.rs system/Condition.rs"
    assert accepted(external_token(scope=None, scp="system/Patient.r")).scope == \
        "system/Patient.r"
    assert accepted(external_token(scope="system/Patient.s", scp="system/*.rs")).scope == \
        "system/Patient.s"


def test_the_audience_may_be_a_string_or_a_list_holding_the_fhir_base():
    # RFC 7519 4.1.3: aud is a string or an array of strings; RFC 9068 4: it must name us.
    assert accepted(local_token(aud=AUDIENCE)).client_id == "partner"
    assert accepted(local_token(aud=["https://other.example/fhir", AUDIENCE])).client_id \
        == "partner"
    assert accepted(local_token(aud=[42, AUDIENCE])).client_id == "partner"
    refused(local_token(aud=["https://other.example/fhir"]))
    refused(local_token(aud=[]))
    refused(local_token(aud=None))  # RFC 9068 2.2: aud REQUIRED


def test_the_jti_is_kept():
    assert accepted(local_token(jti="7f3a-once")).jti == "7f3a-once"  # RFC 9068 2.2


# -- the remembered tokens ---------------------------------------------------------------------

def test_a_remembered_token_still_needs_this_audience_and_issuer():
    check = validator(external=True)
    local, external = local_token(), external_token()
    accepted(local, check)
    accepted(external, check)
    assert accepted(local, check).issuer == LOCAL
    assert accepted(external, check).issuer == IDP
    refused(local, check, audience="https://other.example/fhir")
    # The same process reached by another name has another embedded issuer.
    refused(local, check, local="https://other.example/auth")
    refused(local, validator(external=True), local="https://other.example/auth")
    plain = validator()
    accepted(local, plain)
    assert accepted(local, plain).issuer == LOCAL
    refused(local, plain, local="https://other.example/auth")


def test_remembered_tokens_are_bounded_and_the_least_recently_used_go_first():
    keys = Lookups(public(LOCAL_KEY))
    check = validator(remembered=2, local_keys=keys)
    a, b, c = (local_token() for _ in range(3))

    def checks(token: str) -> int:
        """How many signature checks validating ``token`` cost."""
        before = keys.count
        accepted(token, check)
        return keys.count - before

    assert [checks(a), checks(b)] == [1, 1]
    assert [checks(a), checks(b)] == [0, 0]  # two fit
    assert checks(c) == 1  # a, the least recently used, goes
    assert [checks(c), checks(b)] == [0, 0]
    assert checks(a) == 1  # a again; c goes
    assert [checks(b), checks(a)] == [0, 0]
    assert checks(c) == 1


# -- the compact serialization -----------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: "", lambda: "..", lambda: "garbage",
    lambda: ".".join(local_token().split(".")[:2]),
    lambda: local_token() + ".",
    lambda: local_token() + "." + local_token().split(".")[2],
    lambda: "." + local_token().split(".", 1)[1],
    lambda: local_token().split(".")[0] + ".." + local_token().split(".")[2],
    lambda: local_token().rsplit(".", 1)[0] + ".",
], ids=["empty", "dots", "one-part", "two-parts", "four-parts-empty", "four-parts",
        "no-header", "no-payload", "no-signature"])
def test_anything_but_three_non_empty_parts_is_refused(make):
    refused(make())  # RFC 7515 7.1


@pytest.mark.parametrize("value", [[], ["alg", "RS256"], "RS256", 1, None])
def test_a_header_that_is_not_a_json_object_is_refused(value):
    refused(rs256(json.dumps(value).encode(), json.dumps(claims()).encode()))  # RFC 7515 4


@pytest.mark.parametrize("value", [[], [claims()], "claims", 1, None])
def test_claims_that_are_not_a_json_object_are_refused(value):
    header = {"alg": "RS256", "kid": LOCAL_KEY.kid, "typ": "at+jwt"}
    refused(rs256(json.dumps(header).encode(), json.dumps(value).encode()))  # RFC 7519 7.2


def test_unpadded_base64url_parts_of_every_length_are_read():
    # RFC 7515 2: base64url with the trailing "=" left out, so a part may be 4n, 4n+2 or
    # 4n+3 characters long. (Here the one key is published under kids of every length.)
    kids = ["k" * n for n in range(1, 17)]
    as_published = LOCAL_KEY.as_dict(private=False)
    check = validator(local_keys=Lookups(KeySet(
        [RSAKey.import_key({**as_published, "kid": kid}) for kid in kids])))
    lengths = set()
    for n, kid in enumerate(kids):
        token = local_token({"kid": kid}, filler="f" * n)
        assert "=" not in token
        header, payload, _ = token.split(".")
        lengths |= {(len(header) % 4, "header"), (len(payload) % 4, "payload")}
        assert accepted(token, check).client_id == "partner"
    assert lengths == {(r, part) for r in (0, 2, 3) for part in ("header", "payload")}
