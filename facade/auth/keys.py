"""The authorization server's signing keys, shared by every worker and instance.

Access tokens are JWTs signed with the *current* key of a keyring kept in the
shared store (the state dir's SQLite file, or Redis), so a token minted by one
worker or instance verifies on every other, and ``facade token`` signs with
the same key as the token endpoint.

Rotation without a gap: :meth:`Keyring.rotate` publishes a new key at once
(it appears in the JWKS) but signs with it only ``publish_ahead`` seconds
later, so resource servers that cached the JWKS have time to see it; the old
key stops signing then and stays published until every token it signed has
expired (``token_lifetime`` plus the clock skew allowed), after which it is
dropped.

Workers read the keyring from the store at most every ``refresh`` seconds;
a token naming a kid they do not know makes them read it again at once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from joserfc.jwk import KeySet, RSAKey

from ..stewardship.store import Store

KEYRING_KEY = "auth:keyring"
_LOCK_KEY = "auth:keyring:lock"
SIGNING_ALG = "RS256"  # fast to verify (the read path pays it) and accepted everywhere


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey
    signs_from: float  # wall-clock seconds
    retired_at: float | None  # stops signing then (a newer key takes over)


class Keyring:
    def __init__(self, store: Store, *, token_lifetime: float = 300.0, skew: float = 60.0,
                 publish_ahead: float = 600.0, refresh: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.token_lifetime = token_lifetime
        self.skew = skew
        self.publish_ahead = publish_ahead
        self.refresh = refresh
        self.clock = clock
        self._keys: list[SigningKey] = []
        self._verifying = KeySet([])
        self._read_at = float("-inf")
        self._imported: dict[str, RSAKey] = {}
        self._lock = threading.Lock()

    # -- signing ---------------------------------------------------------------

    def signing_key(self) -> SigningKey:
        """The newest key whose signing time has come; created on first use."""
        keys = self._current()
        now = self.clock()  # after loading: a key created just now may sign at once
        for key in sorted(keys, key=lambda k: k.signs_from, reverse=True):
            if key.signs_from <= now:
                return key
        raise RuntimeError("the keyring has no key to sign with yet")  # never: see ensure()

    # -- verifying -------------------------------------------------------------

    def verifying_keys(self, kid: str | None = None) -> KeySet:
        """Every published key; read again from the store when ``kid`` is not among them."""
        self._current()
        if kid is not None and not any(k.kid == kid for k in self._keys):
            self._load(force=True)
        return self._verifying

    def published(self) -> list[SigningKey]:
        """The keys in the JWKS, oldest first."""
        return sorted(self._current(), key=lambda k: k.signs_from)

    def public_jwks(self) -> dict:
        """The JWKS document: every key that signs, will sign, or signed unexpired tokens."""
        self._current()
        return self._verifying.as_dict(private=False)

    # -- rotation --------------------------------------------------------------

    def rotate(self, publish_ahead: float | None = None) -> str:
        """Publish a new key now, sign with it after ``publish_ahead`` s; returns its kid."""
        ahead = self.publish_ahead if publish_ahead is None else publish_ahead
        self.ensure()  # on a fresh store, a key signs until the new one takes over
        with StoreLock(self.store, _LOCK_KEY):
            keys = self._read_stored() or []
            now = self.clock()
            starts = now + ahead
            for entry in keys:
                if entry["retired_at"] is None:
                    entry["retired_at"] = starts
            fresh = _new_entry(starts)
            keys.append(fresh)
            keys = [k for k in keys if not self._expired(k, now)]
            self.store.set(KEYRING_KEY, json.dumps(keys).encode())
        self._load(force=True)
        return fresh["kid"]

    def ensure(self) -> None:
        """Create the first key if the store has none (atomic: one creator wins)."""
        if self.store.get(KEYRING_KEY) is None:
            self.store.add(KEYRING_KEY, json.dumps([_new_entry(self.clock())]).encode(), None)

    # -- internals -------------------------------------------------------------

    def _current(self) -> list[SigningKey]:
        if self.clock() - self._read_at > self.refresh:
            self._load()
        return self._keys

    def _load(self, force: bool = False) -> None:
        with self._lock:
            if not force and self.clock() - self._read_at <= self.refresh:
                return
            stored = self._read_stored()
            if stored is None:
                self.ensure()
                stored = self._read_stored() or []
            now = self.clock()
            keys = [SigningKey(e["kid"], self._imported_key(e), e["signs_from"],
                               e["retired_at"]) for e in stored if not self._expired(e, now)]
            self._imported = {k.kid: k.key for k in keys}  # expired ones forgotten
            self._keys = keys
            self._verifying = KeySet([k.key for k in keys])
            self._read_at = now

    def _imported_key(self, entry: dict) -> RSAKey:
        """A key already imported is reused: importing an RSA private key costs
        milliseconds, and every worker re-reads the keyring every few seconds."""
        known = self._imported.get(entry["kid"])
        return known if known is not None else RSAKey.import_key(entry["jwk"])

    def _read_stored(self) -> list[dict] | None:
        raw = self.store.get(KEYRING_KEY)
        return json.loads(raw) if raw else None

    def _expired(self, entry: dict, now: float) -> bool:
        retired = entry["retired_at"]
        return retired is not None and now > retired + self.token_lifetime + self.skew



def _new_entry(signs_from: float) -> dict:
    kid = uuid.uuid4().hex[:16]
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": SIGNING_ALG, "use": "sig"})
    return {"kid": kid, "jwk": key.as_dict(private=True), "signs_from": signs_from,
            "retired_at": None}


class StoreLock:
    """A short lease in the shared store around a read-modify-write (rotation, registry)."""

    def __init__(self, store: Store, key: str, ttl: float = 10.0, wait: float = 10.0) -> None:
        self.store, self.key, self.ttl, self.wait = store, key, ttl, wait
        self.token = uuid.uuid4().hex.encode()

    def __enter__(self) -> None:
        deadline = time.monotonic() + self.wait
        while not self.store.add(self.key, self.token, self.ttl):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the shared store's lock {self.key!r} stayed taken")
            time.sleep(0.02)

    def __exit__(self, *exc_info: object) -> None:
        self.store.delete(self.key, expected=self.token)

