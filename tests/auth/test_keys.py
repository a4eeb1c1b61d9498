"""The shared keyring: rotation without a gap, on both store backends.

Each keyring test runs over the embedded (SQLite) store and over Redis, with the
stewardship suite's fixtures (the Redis half is skipped, saying why, when there is
no redis-server). Time is an injected clock, so rotation schedules of minutes are
checked in milliseconds.
"""

from __future__ import annotations

import pytest
from joserfc.jwk import KeySet

from facade.auth.keys import Keyring
from facade.auth.tokens import InvalidToken, Issuer, TokenValidator

from ..stewardship import conftest as stewardship
from ..tokens import register
from .forge import FHIR_BASE, ISSUER, bearer, header_of

# The stewardship suite's backends: `store` is parametrized over sqlite and redis.
redis_url = stewardship.redis_url
spec = stewardship.spec
store = stewardship.store

LIFETIME, SKEW, AHEAD, REFRESH = 300.0, 60.0, 600.0, 5.0
START = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keyring(store, clock) -> Keyring:
    return Keyring(store, token_lifetime=LIFETIME, skew=SKEW, publish_ahead=AHEAD,
                   refresh=REFRESH, clock=clock)


def published(ring: Keyring) -> list[str]:
    return [key["kid"] for key in ring.public_jwks()["keys"]]


def mint(ring: Keyring, clock: Clock) -> str:
    return Issuer(ring, LIFETIME, clock).mint(ISSUER, "tests", "system/*.rs",
                                              FHIR_BASE)["access_token"]


def validate(ring: Keyring, clock: Clock, token: str):
    """A validator of its own each time: nothing remembered, the signature is checked."""
    return TokenValidator(ring.verifying_keys, skew=SKEW, clock=clock).validate(
        token, FHIR_BASE, ISSUER)


def test_rotation_publishes_at_once_and_signs_later(store, clock):
    ring = keyring(store, clock)
    old = ring.signing_key().kid
    assert published(ring) == [old]
    new = ring.rotate()
    assert new != old
    assert published(ring) == [old, new]  # in the JWKS at once, for caches to pick up
    assert ring.signing_key().kid == old
    clock.advance(AHEAD - 1)
    assert ring.signing_key().kid == old
    assert header_of(mint(ring, clock))["kid"] == old
    clock.advance(2)
    assert ring.signing_key().kid == new
    assert header_of(mint(ring, clock))["kid"] == new
    assert published(ring) == [old, new]  # the old key's tokens are still alive


def test_the_old_key_stays_published_until_its_tokens_have_expired(store, clock):
    ring = keyring(store, clock)
    old = ring.signing_key().kid
    ring.rotate()
    clock.advance(AHEAD - 1)
    last = mint(ring, clock)  # the old key's last token
    assert header_of(last)["kid"] == old
    clock.advance(1 + LIFETIME + SKEW - 1)  # the last moment it may be presented
    assert old in published(ring)
    assert validate(ring, clock, last).client_id == "tests"
    clock.advance(REFRESH + 2)  # past it, once the keyring is read again
    assert old not in published(ring)
    assert len(published(ring)) == 1
    with pytest.raises(InvalidToken):
        validate(ring, clock, last)


def test_a_token_signed_before_rotation_validates_after(store, clock):
    ring = keyring(store, clock)
    before = mint(ring, clock)
    ring.rotate()
    clock.advance(100)
    assert validate(ring, clock, before).scope == "system/*.rs"
    ring.rotate(publish_ahead=0)  # even when a newer key takes over at once
    assert ring.signing_key().kid != header_of(before)["kid"]
    assert validate(ring, clock, before).scope == "system/*.rs"


def test_two_keyrings_on_one_store_agree(store, clock):
    first, second = keyring(store, clock), keyring(store, clock)
    assert first.signing_key().kid == second.signing_key().kid  # one creator wins
    new = first.rotate()
    # The second has read the store within `refresh`, but an unknown kid makes it read again.
    assert new in [k.kid for k in second.verifying_keys(new).keys]
    clock.advance(AHEAD + 1)
    assert first.signing_key().kid == second.signing_key().kid == new
    assert published(first) == published(second)
    token = mint(first, clock)
    assert validate(second, clock, token).client_id == "tests"
    assert validate(first, clock, mint(second, clock)).client_id == "tests"


def test_a_rotation_on_an_empty_store_leaves_a_key_to_sign_with(store, clock):
    """``facade keys rotate`` on a fresh state dir must not leave the token endpoint keyless
    until the new key's signing time."""
    ring = keyring(store, clock)
    new = ring.rotate()
    first = ring.signing_key().kid
    assert first != new
    assert published(ring) == [first, new]
    clock.advance(AHEAD + 1)
    assert ring.signing_key().kid == new


def test_rotating_again_before_the_new_key_signs(store, clock):
    ring = keyring(store, clock)
    first = ring.signing_key().kid
    second = ring.rotate()
    clock.advance(10)
    third = ring.rotate()
    assert published(ring) == [first, second, third]
    # Never a moment without a key: the first signs until the second takes over, which
    # signs until the third does.
    expected = {AHEAD - 1: first, AHEAD + 1: second, AHEAD + 9: second, AHEAD + 11: third,
                AHEAD * 3: third}
    for moment, kid in expected.items():
        clock.now = START + moment
        assert ring.signing_key().kid == kid, moment
        assert kid in published(ring)


def test_the_jwks_holds_public_keys_only(store, clock):
    ring = keyring(store, clock)
    ring.rotate()
    for key in ring.public_jwks()["keys"]:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    KeySet.import_key_set(ring.public_jwks())


# --- the same over a running app: two workers on one state dir ------------------------------

def test_rotation_seen_by_every_worker(make_app):
    first, second = make_app(), make_app()  # one state dir: two workers
    register(first, "tests", "system/*.rs")
    keys = first.extensions["facade.auth"]
    old_token = keys.mint_for("tests", FHIR_BASE)["access_token"]
    new = keys.keyring.rotate(publish_ahead=0)
    assert new in [k["kid"] for k in second.test_client().get("/auth/jwks").json["keys"]]
    new_token = second.extensions["facade.auth"].mint_for("tests", FHIR_BASE)
    assert header_of(new_token["access_token"])["kid"] == new
    search = "/fhir/Patient?_id=unknown"  # answered without asking SystmOne
    for app in (first, second):
        for token in (old_token, new_token["access_token"]):
            assert app.test_client().get(search, headers=bearer(token)).status_code == 200
