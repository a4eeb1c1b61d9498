"""``facade simulator``: run the SystmOne Demo simulator, read its message audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
from pathlib import Path

import click

from .config import DEFAULT_PORT, DEMO_API_KEY, DEVICE_POLICIES, THROTTLE_RESPONSES, SimulatorConfig
from .practice import Practice, RecordError, folder_practice, generated_practice
from .practice.generator import DEFAULT_PATIENTS, DEFAULT_SEED, MAX_PATIENTS
from .store import OUTCOMES, SimulatorStore


def practice_options(function):
    """Options choosing the practice: a folder of recorded records, or a generated one."""
    for option in reversed((
        click.option("--practice", "practice_dir", type=click.Path(path_type=Path),
                     help="Folder of recorded GetPatientRecord responses (*.xml) to serve."),
        click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=None,
                     help="Generate this many fictitious patients (default 100)."),
        click.option("--seed", type=int, default=None,
                     help="Seed of the generated practice (default 1)."),
        click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="Date generated histories end on (default today)."),
    )):
        function = option(function)
    return function


def interval_options(function):
    for option in reversed((
        click.option("--request-interval", type=click.FloatRange(min=0), default=1.0,
                     show_default=True, help="Seconds between requests (SystmOne: 1)."),
        click.option("--record-interval", type=click.FloatRange(min=0), default=30.0,
                     show_default=True,
                     help="Seconds between non-exempt GetPatientRecord requests (SystmOne: 30)."),
    )):
        function = option(function)
    return function


state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".facade"),
    show_default=True, help="Where state (audit, devices) is kept.")


def load_practice(practice_dir: Path | None, patients: int | None, seed: int | None,
                  as_of: dt.datetime | None) -> Practice:
    """Build the practice, with a progress bar on a terminal; errors exit with one line."""
    if practice_dir is not None and (patients is not None or seed is not None):
        raise click.UsageError("--practice cannot be combined with --patients/--seed")
    progress = _progress_bar() if sys.stderr.isatty() else None
    try:
        if practice_dir is not None:
            return folder_practice(practice_dir, progress)
        return generated_practice(patients or DEFAULT_PATIENTS,
                                  DEFAULT_SEED if seed is None else seed,
                                  as_of=as_of.date() if as_of else None, progress=progress)
    except RecordError as error:
        raise click.ClickException(f"cannot load practice: {error}") from None
    finally:
        if progress is not None:
            click.echo("", err=True)


def _progress_bar():
    def show(done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            width = 30
            filled = width * done // total
            click.echo(f"\rLoading practice [{'#' * filled}{'.' * (width - filled)}] "
                       f"{done}/{total}", err=True, nl=False)
    return show


@click.group("simulator", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port (0 picks a free one).")
@practice_options
@interval_options
@click.option("--api-key", "api_keys", multiple=True,
              help=f"API key to accept; repeat for several (default {DEMO_API_KEY}).")
@click.option("--device-policy", type=click.Choice(DEVICE_POLICIES), default="auto-approve",
              show_default=True, help="How the simulated user answers a new device.")
@click.option("--on-throttle", type=click.Choice(THROTTLE_RESPONSES), default="drop",
              show_default=True,
              help="A throttled GetPatientRecord gets no reply (as TPP) or a temporary error.")
@state_dir_option
@click.pass_context
def simulator(ctx: click.Context, host, port, practice_dir, patients, seed, as_of,
              request_interval, record_interval, api_keys, device_policy, on_throttle,
              state_dir) -> None:
    """Run the SystmOne Demo simulator: TPP's Client Integration protocol over TCP.

    It serves a fictitious practice (generated, or recorded records from
    --practice) with SystmOne's rules: one request per --request-interval,
    one full GetPatientRecord per --record-interval, device approval, API key
    checks, and a message audit (see `facade simulator audit`).
    """
    if ctx.invoked_subcommand is not None:
        return
    config = SimulatorConfig(
        host=host, port=port, request_interval=request_interval,
        record_interval=record_interval, api_keys=tuple(api_keys) or (DEMO_API_KEY,),
        device_policy=device_policy, on_throttle=on_throttle, state_dir=state_dir)
    practice = load_practice(practice_dir, patients, seed, as_of)
    asyncio.run(_serve(config, practice))


async def _serve(config: SimulatorConfig, practice: Practice) -> None:
    from . import create_server

    server = create_server(config, practice)
    try:
        host, port = await server.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {config.host}:{config.port}: "
                                   f"{error.strerror}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    click.echo(f"SystmOne Demo simulator listening on {host}:{port} "
               f"({len(practice)} patients; request interval {config.request_interval:g} s, "
               f"record interval {config.record_interval:g} s). Ctrl-C stops it.", err=True)
    await server.serve_until(stop)


@simulator.command("audit")
@state_dir_option
@click.option("--function", help="Only messages for this function.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only messages with this outcome.")
@click.option("--last", type=click.IntRange(min=1), help="Only the newest N messages.")
@click.option("--xml", "show_xml", is_flag=True, help="Print the request and response XML too.")
def audit(state_dir: Path, function, outcome, last, show_xml) -> None:
    """Show the simulator's message audit (SystmOne's Client Integration Message Audit)."""
    database = SimulatorConfig(state_dir=state_dir).database
    if not database.exists():
        raise click.ClickException(f"no simulator audit in {state_dir} (start the simulator "
                                   "with the same --state-dir first)")
    entries = SimulatorStore(database).messages(function=function, outcome=outcome, last=last)
    for entry in entries:
        click.echo(f"{entry.time}  {entry.outcome:<7}  {entry.function or '-':<24}  "
                   f"request {entry.request_uid or '-'}  response {entry.response_uid or '-'}  "
                   f"device {entry.device_id or '-'}"
                   + (f"  error: {entry.error}" if entry.error else ""))
        if show_xml:
            click.echo("  request:  " + entry.request_xml.decode("utf-8", "replace"))
            click.echo("  response: " + (entry.response_xml.decode("utf-8", "replace")
                                         or "(no reply)"))
    click.echo(f"{len(entries)} message(s)", err=True)


@simulator.command("devices")
@state_dir_option
@click.option("--block", "block", metavar="DEVICE_ID", help="Block this device.")
@click.option("--unblock", "unblock", metavar="DEVICE_ID", help="Approve this device again.")
def devices(state_dir: Path, block, unblock) -> None:
    """List devices and block or unblock them (SystmOne's Device Manager)."""
    store = SimulatorStore(SimulatorConfig(state_dir=state_dir).database)
    for device_id, status in ((block, "blocked"), (unblock, "approved")):
        if device_id and not store.set_device_status(device_id, status):
            raise click.ClickException(f"no device {device_id}")
    for device_id, version, status, created in store.devices():
        click.echo(f"{device_id}  {status:<8}  {created}  {version}")
