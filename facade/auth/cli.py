"""``facade clients`` and ``facade token``: the client registry and tokens from the command line.

Both work on the deployment's shared store: the state dir's embedded store, or
Redis when FACADE_REDIS_URL is set, exactly as the running facade sees it, so
a client added here can get tokens at once, on every worker and instance.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click
from joserfc.jwk import ECKey

from ..config import Settings
from ..files import private_dir
from ..stewardship.store import open_store
from .clients import Client, RegistrationError, new_client
from .service import AuthService

DEMO_CLIENT = "demo"
DEMO_SCOPE = "system/*.rs system/AuditEvent.rs"
DEFAULT_SCOPE = "system/*.rs"
#: The demo client's private key: only `facade demo` and the README's walk-through use it.
DEMO_KEY_FILE = "demo-client-key.json"

_state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".facade"),
    show_default=True, help="The facade's state dir (FACADE_REDIS_URL, when set, is used too).")


def _service(state_dir: Path, create: bool = False) -> AuthService:
    """The auth service on the deployment's store. Only a command that registers something
    (``create``) may make the state dir: one that reads it must find it, so a command run
    in the wrong directory says so instead of leaving an empty state dir behind."""
    try:
        settings = Settings.load({"state_dir": state_dir})
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not (create or settings.redis_url or Path(settings.state_dir).is_dir()):
        raise click.ClickException(
            f"no state dir at {Path(settings.state_dir).absolute()}: give the --state-dir "
            "that `facade demo` or `facade serve` uses (or set FACADE_REDIS_URL)")
    store = open_store(settings.state_dir, settings.redis_url)
    return AuthService.build(settings, store)


@click.group()
def clients() -> None:
    """Register, list and remove SMART Backend Services clients."""


@clients.command("add")
@click.argument("client_id")
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A JSON file holding the client's public JWKS.")
@click.option("--jwks-uri", help="The URL where the client publishes its JWKS.")
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True,
              help="The scopes the client may be granted (it may ask for narrower ones).")
@click.option("--patient", help="A Patient id: the patient context of the client's tokens "
                                "(what patient/ scopes are confined to).")
@click.option("--with-secret", is_flag=True,
              help="Instead of keys, give the client a generated secret (client_secret_basic; "
                   "accepted only with FACADE_CLIENT_SECRET_AUTH=true, never in live).")
@click.option("--replace", is_flag=True, help="Replace a client already registered.")
@_state_dir_option
def add(client_id, jwks_file, jwks_uri, scope, patient, with_secret, replace,
        state_dir) -> None:
    """Register CLIENT_ID by its public keys (--jwks FILE or --jwks-uri URL)."""
    if (jwks_file is None) == (jwks_uri is None) and not (with_secret and jwks_file is None
                                                         and jwks_uri is None):
        raise click.UsageError("give exactly one of --jwks FILE and --jwks-uri URL "
                               "(or --with-secret alone)")
    jwks = _read_jwks(jwks_file) if jwks_file is not None else None
    secret = secrets.token_urlsafe(32) if with_secret else None
    try:
        client = new_client(client_id, scope, jwks=jwks, jwks_uri=jwks_uri, patient=patient,
                            secret=secret)
        _service(state_dir, create=True).registry.add(client, replace=replace)
    except RegistrationError as error:
        raise click.ClickException(str(error)) from None
    keys = "a client secret" if secret else client.describe()["keys"]
    click.echo(f"registered {client_id}: {keys}; may be granted {client.scope}")
    if secret:
        click.echo(f"client secret (shown once, stored only hashed): {secret}")


@clients.command("list")
@_state_dir_option
def list_clients(state_dir) -> None:
    """The registered clients, their key sources and scopes (one JSON object a line)."""
    for client in _service(state_dir).registry.all():
        click.echo(json.dumps(client.describe()))


@clients.command("remove")
@click.argument("client_id")
@_state_dir_option
def remove(client_id, state_dir) -> None:
    """Remove CLIENT_ID: it gets no more tokens (those issued expire within 5 minutes)."""
    if not _service(state_dir).registry.remove(client_id):
        raise click.ClickException(f"client {client_id!r} is not registered")
    click.echo(f"removed {client_id}")


@click.command()
@click.option("--client-id", default=DEMO_CLIENT, show_default=True)
@click.option("--scope", help="Narrower scopes than the client registered (default: all).")
@_state_dir_option
def token(client_id, scope, state_dir) -> None:
    """Print an access token for a registered client, and nothing else.

    For curl users: TOKEN=$(facade token). The token's audience is the FHIR
    base URL the running facade recorded (or FACADE_PUBLIC_BASE_URL).
    """
    service = _service(state_dir)
    base = os.environ.get("FACADE_PUBLIC_BASE_URL") or service.recorded_public_base()
    if not base:
        raise click.ClickException("no FHIR base URL known for the token's audience: start "
                                   "`facade demo` (or `facade serve`) with this state dir, or "
                                   "set FACADE_PUBLIC_BASE_URL")
    try:
        click.echo(service.mint_for(client_id, base, scope)["access_token"])
    except RegistrationError as error:
        raise click.ClickException(str(error)) from None


def _read_jwks(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from None


def ensure_demo_client(service: AuthService, state_dir: Path) -> Client:
    """The demo's client: an ES384 key in the state dir, registered once."""
    key_file = Path(state_dir) / DEMO_KEY_FILE
    if not key_file.exists():
        key = ECKey.generate_key("P-384", parameters={"kid": "demo-es384", "alg": "ES384"})
        private_dir(key_file.parent)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(key.as_dict(private=True), out)
    key = ECKey.import_key(json.loads(key_file.read_text()))
    public = {"keys": [key.as_dict(private=False)]}
    existing = service.registry.get(DEMO_CLIENT)
    if existing is None or existing.jwks != public:
        service.registry.add(new_client(DEMO_CLIENT, DEMO_SCOPE, jwks=public), replace=True)
    return service.registry.get(DEMO_CLIENT)


@click.group()
def keys() -> None:
    """The token-signing keys (shared by every worker and instance)."""


@keys.command("list")
@_state_dir_option
def list_keys(state_dir) -> None:
    """The published keys: kid, when each signs from, when it retires."""
    keyring = _service(state_dir).keyring
    keyring.ensure()
    for key in keyring.published():
        click.echo(json.dumps({"kid": key.kid, "signs_from": _instant(key.signs_from),
                               "retired_at": _instant(key.retired_at)}))


@keys.command("rotate")
@click.option("--publish-ahead", type=click.FloatRange(0), default=600.0, show_default=True,
              help="Seconds the new key is published before it signs (longer than resource "
                   "servers cache the JWKS).")
@_state_dir_option
def rotate(publish_ahead, state_dir) -> None:
    """Publish a new signing key; the old one retires when the new one starts signing."""
    kid = _service(state_dir).keyring.rotate(publish_ahead)
    click.echo(f"published key {kid}; it signs in {publish_ahead:g} s")


def _instant(seconds: float | None) -> str | None:
    import datetime as dt

    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
