"""The auth pieces of one deployment, built from its settings and its shared store."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..stewardship.store import Store
from .clients import PROVIDER_KEYS, Client, ClientRegistry, JwksSource, RegistrationError
from .keys import Keyring
from .scopes import ScopeError, grant, parse_scopes
from .tokens import ALLOWED_ALGS, Issuer, TokenValidator, TrustedIssuer

#: Where a running facade records its public base URL, for ``facade token``.
PUBLIC_BASE_KEY = "auth:public-base"


@dataclass
class AuthService:
    keyring: Keyring
    registry: ClientRegistry
    issuer: Issuer
    validator: TokenValidator
    secret_auth: bool
    skew: float
    store: Store

    @classmethod
    def build(cls, settings: Settings, store: Store) -> AuthService:
        keyring = Keyring(store, token_lifetime=settings.token_lifetime,
                          skew=settings.clock_skew)
        http_cache = settings.state_dir / "http-cache.sqlite3"
        external = None
        if settings.oauth_issuer and settings.oauth_jwks_url:
            external = TrustedIssuer(settings.oauth_issuer,
                                     JwksSource(settings.oauth_jwks_url, http_cache,
                                                PROVIDER_KEYS).keys,
                                     ALLOWED_ALGS)
        return cls(keyring, ClientRegistry(store, http_cache),
                   Issuer(keyring, settings.token_lifetime),
                   TokenValidator(keyring.verifying_keys, external, settings.clock_skew),
                   settings.client_secret_auth, settings.clock_skew, store)

    def mint_for(self, client_id: str, public_base: str, scope: str | None = None) -> dict:
        """A token for a registered client, as the token endpoint would grant it.

        For ``facade token`` (run by whoever holds the state dir or the store: an
        administrator) and for tests; ``scope`` defaults to all the client registered.
        """
        client = self.registry.get(client_id)
        if client is None:
            raise RegistrationError(f"client {client_id!r} is not registered "
                                    "(facade clients list shows who is)")
        try:
            granted = granted_scope(client, scope or client.scope)
        except ScopeError as error:
            raise RegistrationError(str(error)) from None
        root = public_base.rstrip("/").removesuffix("/fhir")
        patient = client.patient if "patient/" in granted else None
        return self.issuer.mint(root + "/auth", client_id, granted, root + "/fhir", patient)

    def remember_public_base(self, base: str) -> None:
        self.store.set(PUBLIC_BASE_KEY, base.encode())

    def recorded_public_base(self) -> str | None:
        raw = self.store.get(PUBLIC_BASE_KEY)
        return raw.decode() if raw else None


def granted_scope(client: Client, requested: str) -> str:
    """What a token for ``client`` gets when it asks for ``requested`` (ScopeError if nothing).

    Narrowed to what the client registered; patient/ scopes only for a client
    registered with a patient context. Scopes with ``?param=value`` restrictions
    are not granted: this server does not enforce them yet, and granting one
    would give more than it says.
    """
    contexts = {"system", "user"} | ({"patient"} if client.patient else set())
    granted = grant(requested, client.scope, contexts)
    kept = [s.text for s in parse_scopes(granted) if not s.restrictions]
    if not kept:
        raise ScopeError("no requested scope can be granted: scopes with ?restrictions "
                         "are not supported")
    return " ".join(kept)
