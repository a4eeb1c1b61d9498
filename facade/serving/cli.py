"""``facade serve`` and ``facade check``.

``serve`` checks the configuration (the live profile refuses unsafe settings,
one line each, exit 2), then replaces itself with gunicorn running
``wsgi:app`` under ``facade/serving/gunicorn_conf.py``. ``check`` validates
the same configuration and probes every SystmOne endpoint with GetFunctions
(read-only), starting nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import profiles
from ..config import Settings, unknown_variables
from ..files import private_dir

CONF = Path(__file__).with_name("gunicorn_conf.py")

_config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file of FACADE_NAME=value lines (as for systemd or docker --env-file); "
         "variables already in the environment win.")


@click.command()
@_config_option
def serve(config_file: Path | None) -> None:
    """Run the facade under gunicorn, configured by FACADE_* variables (see CONFIG.md)."""
    settings = _settings(config_file)
    found = profiles.problems(settings)
    if found:
        _refuse(found)
    for name in unknown_variables():
        click.echo(f"facade serve: warning: {name} is not a setting (a typo?)", err=True)
    private_dir(settings.state_dir)
    _check_shared_state(settings)
    _record_base(settings)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(CONF)])


@click.command()
@_config_option
def check(config_file: Path | None) -> None:
    """Validate the configuration and probe SystmOne (GetFunctions), changing nothing."""
    settings = _settings(config_file)
    ok = True
    live = profiles.problems(Settings.load({"env": "live"}) if settings.env == "demo"
                             else settings)
    if settings.env == "live":
        for problem in live:
            click.echo(f"refused: {problem}")
        ok = not live
    else:
        click.echo("profile: demo" + (" (live would refuse: " + "; ".join(live) + ")"
                                      if live else ""))
    for name in unknown_variables():
        click.echo(f"warning: {name} is not a setting (a typo?)")
    ok = _probe_store(settings) and ok
    for endpoint in settings.upstreams:
        ok = _probe_upstream(settings, endpoint) and ok
    click.echo("configuration OK" if ok else "configuration NOT OK")
    sys.exit(0 if ok else 1)


def _settings(config_file: Path | None) -> Settings:
    if config_file is not None:
        for name, value in _read_config(config_file).items():
            os.environ.setdefault(name, value)
    try:
        return Settings.load()
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def _read_config(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        if not equals or not name.strip().startswith("FACADE_"):
            raise click.ClickException(f"{path}:{number}: expected FACADE_NAME=value")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def _record_base(settings: Settings) -> None:
    """Where `facade token` should aim its tokens: the public base URL, or the bind address."""
    from ..auth.service import AuthService
    from ..stewardship.store import open_store

    base = settings.public_base_url
    host, _, port = settings.bind.rpartition(":")
    if base is None and host not in ("0.0.0.0", "::", "[::]", ""):
        base = f"{'https' if settings.tls_cert else 'http'}://{host}:{port}/fhir"
    if base is not None:
        with open_store(settings.state_dir, settings.redis_url) as store:
            AuthService.build(settings, store).remember_public_base(base)


def _check_shared_state(settings: Settings) -> None:
    """What every instance must agree on, checked before gunicorn starts, so a mismatch is
    one line and exit 2, not a worker's traceback: the id key (ids.py)."""
    from ..ids import IdCodec, IdKeyMismatch
    from ..stewardship.store import open_store

    with open_store(settings.state_dir, settings.redis_url) as store:
        try:
            IdCodec.from_state_dir(settings.state_dir, store if settings.redis_url else None)
        except (IdKeyMismatch, ValueError) as error:
            click.echo(f"facade serve: {error}", err=True)
            sys.exit(2)


def _refuse(found: list[str]) -> None:
    click.echo("facade serve: the live profile refuses to start:", err=True)
    for problem in found:
        click.echo(f"  - {problem}", err=True)
    sys.exit(2)


def _probe_store(settings: Settings) -> bool:
    from ..stewardship.store import open_store

    try:
        with open_store(settings.state_dir, settings.redis_url) as store:
            store.get("facade:check")
    except Exception as error:  # any failure is the answer here, named
        click.echo(f"shared store: FAILED ({type(error).__name__}: {error})")
        return False
    click.echo(f"shared store: {'redis' if settings.redis_url else 'embedded'} OK")
    return True


def _probe_upstream(settings: Settings, endpoint: str) -> bool:
    """GetFunctions, booked in the shared slot ledger like every other request: a check
    run beside a serving facade must not crowd its requests."""
    from ..stewardship.ledger import Throttled
    from ..upstream.cli import booked_upstream
    from ..upstream.errors import UpstreamError
    from ..upstream.transport import Timeouts

    try:
        upstream = booked_upstream(endpoint, settings.api_key, settings.state_dir,
                                   Timeouts(5.0, min(settings.read_timeout, 15.0)), None,
                                   max_wait=settings.max_wait)
    except click.BadParameter as error:
        click.echo(f"SystmOne {endpoint}: FAILED ({error.message})")
        return False
    try:
        functions = upstream.call(lambda client: client.get_functions())
    except (UpstreamError, Throttled) as error:
        click.echo(f"SystmOne {endpoint}: FAILED ({error})")
        return False
    finally:
        upstream.close()
    click.echo(f"SystmOne {endpoint}: OK, {len(functions)} functions")
    return True
