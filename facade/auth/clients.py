"""Registered SMART Backend Services clients, shared by every worker and instance.

A client is registered by its public keys — a JWKS given inline, or the URL of
one it publishes (``jwks_uri``) — and the scopes it may be granted. The
registry lives in the shared store, so ``facade clients add`` on the state dir
(or against the same Redis) is seen by every worker without a restart.

A ``jwks_uri`` is fetched through requests-cache (honouring the publisher's
caching headers, at most ``JWKS_MAX_AGE`` seconds) and fetched again when an
assertion names a kid the cached copy lacks, but not more often than once per
``REFRESH_INTERVAL`` per client: an unknown kid must not turn the token
endpoint into a request amplifier.

Optionally a client may instead authenticate with a secret
(client_secret_basic), stored only as a salted scrypt hash; the live profile
refuses that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..stewardship.store import Store
from .keys import StoreLock
from .scopes import ScopeError, parse_scopes

REGISTRY_KEY = "auth:clients"
_LOCK_KEY = "auth:clients:lock"
JWKS_MAX_AGE = 3600
REFRESH_INTERVAL = 30.0
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:/@-]{0,127}")
#: Key types and curves SMART's asymmetric client authentication allows (RS384, ES384).
_ALLOWED_KEYS = {("RSA", None), ("EC", "P-384")}
#: Key types and curves of an external identity provider: those of tokens.ALLOWED_ALGS.
PROVIDER_KEYS = {("RSA", None), ("EC", "P-256"), ("EC", "P-384")}


class RegistrationError(ValueError):
    """A registration that cannot be accepted; the message names the problem."""


@dataclass(frozen=True)
class Client:
    client_id: str
    scope: str
    jwks: dict | None = None
    jwks_uri: str | None = None
    #: A FHIR Patient id: the patient context of tokens issued to this client
    #: (what patient/ scopes are confined to).
    patient: str | None = None
    secret_hash: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def auth_methods(self) -> tuple[str, ...]:
        methods = ("private_key_jwt",) if self.jwks or self.jwks_uri else ()
        return methods + (("client_secret_basic",) if self.secret_hash else ())

    def describe(self) -> dict:
        """What ``facade clients list`` shows: no key material, no secret hash."""
        keys = "jwks_uri " + self.jwks_uri if self.jwks_uri else \
            f"{len((self.jwks or {}).get('keys', []))} key(s) inline"
        return {"client_id": self.client_id, "scope": self.scope, "keys": keys,
                "patient": self.patient, "auth_methods": list(self.auth_methods)}


def new_client(client_id: str, scope: str, *, jwks: dict | None = None,
               jwks_uri: str | None = None, patient: str | None = None,
               secret: str | None = None) -> Client:
    """A checked registration (RegistrationError names what is wrong)."""
    if not CLIENT_ID.fullmatch(client_id):
        raise RegistrationError(f"client id {client_id!r} must be 1-128 characters of letters, "
                                "digits and ._~:/@- starting with a letter or digit")
    try:
        if not parse_scopes(scope):
            raise RegistrationError("give the client at least one resource scope, e.g. "
                                    "'system/Patient.rs system/Observation.rs'")
    except ScopeError as error:
        raise RegistrationError(str(error)) from None
    if jwks is not None and jwks_uri is not None:
        raise RegistrationError("give a JWKS or a JWKS URL, not both")
    if jwks is None and jwks_uri is None and secret is None:
        raise RegistrationError("give the client's public keys: a JWKS or a JWKS URL")
    if jwks is not None:
        check_public_jwks(jwks)
    if jwks_uri is not None and not jwks_uri.startswith(("https://", "http://")):
        raise RegistrationError(f"the JWKS URL {jwks_uri!r} is not an http(s) URL")
    return Client(client_id, " ".join(scope.split()), jwks, jwks_uri, patient,
                  hash_secret(secret) if secret else None)


def check_public_jwks(jwks: dict, allowed: set = _ALLOWED_KEYS) -> KeySet:
    """A JWKS of public RSA or P-384 keys (or ``allowed``), each with a kid; private parts
    refused."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or \
            not jwks["keys"]:
        raise RegistrationError('a JWKS is a JSON object with a non-empty "keys" list')
    for key in jwks["keys"]:
        if not isinstance(key, dict) or not key.get("kid"):
            raise RegistrationError("every key in the JWKS needs a kid")
        if "d" in key:
            raise RegistrationError(f"key {key['kid']!r} holds a private part: register the "
                                    "public key only")
        if (key.get("kty"), key.get("crv")) not in allowed:
            accepted = "RSA and EC P-384 keys are accepted (SMART's RS384 and ES384)" \
                if allowed == _ALLOWED_KEYS else "RSA and EC P-256/P-384 keys are accepted"
            raise RegistrationError(f"key {key['kid']!r}: only {accepted}")
    try:
        return KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError) as error:
        raise RegistrationError(f"the JWKS cannot be read: {error}") from None


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def secret_matches(secret: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        computed = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=2**14, r=8,
                                  p=1)
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


class ClientRegistry:
    def __init__(self, store: Store, http_cache: Path | None = None) -> None:
        self.store = store
        self._http_cache = http_cache
        self._sources: dict[str, JwksSource] = {}
        self._lock = threading.Lock()

    # -- registration ----------------------------------------------------------

    def add(self, client: Client, replace: bool = False) -> None:
        with StoreLock(self.store, _LOCK_KEY):
            clients = self._read()
            if client.client_id in clients and not replace:
                raise RegistrationError(f"client {client.client_id!r} is already registered "
                                        "(remove it first, or replace it)")
            clients[client.client_id] = asdict(client)
            self._write(clients)

    def remove(self, client_id: str) -> bool:
        with StoreLock(self.store, _LOCK_KEY):
            clients = self._read()
            if clients.pop(client_id, None) is None:
                return False
            self._write(clients)
            return True

    def get(self, client_id: str) -> Client | None:
        entry = self._read().get(client_id)
        return Client(**entry) if entry else None

    def all(self) -> list[Client]:
        return [Client(**entry) for _, entry in sorted(self._read().items())]

    # -- keys ------------------------------------------------------------------

    def public_keys(self, client: Client, kid: str | None) -> KeySet:
        """The client's keys; a jwks_uri is fetched again (rate-limited) for an unknown kid."""
        if client.jwks is not None:
            return KeySet.import_key_set(client.jwks)
        with self._lock:
            source = self._sources.get(client.jwks_uri)
            if source is None:
                source = self._sources[client.jwks_uri] = JwksSource(client.jwks_uri,
                                                                     self._http_cache)
        return source.keys(kid)

    # -- storage ---------------------------------------------------------------

    def _read(self) -> dict[str, dict]:
        raw = self.store.get(REGISTRY_KEY)
        return json.loads(raw) if raw else {}

    def _write(self, clients: dict[str, dict]) -> None:
        self.store.set(REGISTRY_KEY, json.dumps(clients).encode())


class JwksSource:
    """A JWKS published at a URL (a client's jwks_uri, an identity provider's keys).

    Fetched through requests-cache, which honours the publisher's caching
    headers (at most JWKS_MAX_AGE); fetched again for an unknown kid, at most
    once per REFRESH_INTERVAL.
    """

    def __init__(self, url: str, http_cache: Path | None = None,
                 allowed: set = _ALLOWED_KEYS) -> None:
        self.url = url
        self.allowed = allowed
        self._http_cache = http_cache
        self._session = None
        self._refreshed = float("-inf")
        self._lock = threading.Lock()

    def keys(self, kid: str | None = None) -> KeySet:
        keys = self._fetch(refresh=False)
        if kid is not None and all(k.kid != kid for k in keys.keys) and self._may_refresh():
            keys = self._fetch(refresh=True)
        return keys

    def _fetch(self, refresh: bool) -> KeySet:
        import requests

        try:
            response = self._http().get(self.url, timeout=5, force_refresh=refresh)
        except requests.RequestException as error:
            raise RegistrationError(f"{self.url} cannot be fetched: {error}") from None
        if response.status_code != 200:
            raise RegistrationError(f"{self.url} answered {response.status_code}")
        try:
            return check_public_jwks(response.json(), self.allowed)
        except ValueError as error:  # JSONDecodeError too
            raise RegistrationError(f"{self.url}: {error}") from None

    def _may_refresh(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._refreshed < REFRESH_INTERVAL:
                return False
            self._refreshed = now
            return True

    def _http(self):
        with self._lock:
            if self._session is None:
                import requests_cache  # only keys published by URL need it

                backend = "memory" if self._http_cache is None else \
                    requests_cache.SQLiteCache(str(self._http_cache))
                self._session = requests_cache.CachedSession(
                    backend=backend, cache_control=True, expire_after=JWKS_MAX_AGE,
                    allowable_codes=(200,))
            return self._session
