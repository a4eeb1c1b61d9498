"""The ``facade`` command."""

from __future__ import annotations

import errno
import shlex
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

import click

from . import __version__
from .files import private_dir
from .upstream.cli import DEMO_API_KEY, parse_endpoint, upstream
from .upstream.errors import UpstreamError
from .upstream.transport import Timeouts


@click.group()
@click.version_option(__version__, prog_name="facade")
def main() -> None:
    """FHIR R4 facade for TPP SystmOne, with a SystmOne Demo simulator."""


def _demo_options(function):
    """``facade demo`` takes the simulator's practice and interval options as they are."""
    from simulator.cli import interval_options, practice_options

    return practice_options(interval_options(function))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the FHIR API will listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port the FHIR API will listen on.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".facade"), show_default=True)
@click.option("--upstream", "endpoint", help="Use the SystmOne client at HOST:PORT instead of "
                                             "starting the simulator.")
@_demo_options
@click.option("--api-key", default=DEMO_API_KEY, show_default=True)
def demo(host, port, state_dir, endpoint, practice_dir, patients, seed, as_of, request_interval,
         record_interval, api_key) -> None:
    """Run the simulator and the FHIR API together, in the foreground.

    Starts the SystmOne Demo simulator on 127.0.0.1:40700, where `facade
    upstream` looks by default (on a free loopback port when 40700 is taken;
    the first line printed says which), or uses a SystmOne client already
    listening at --upstream, and serves the FHIR R4 API at
    http://HOST:PORT/fhir. Ctrl-C or SIGTERM stops everything.
    """
    from simulator import SimulatorConfig
    from simulator.cli import load_practice

    stop = _stop_on_signals()
    running, example = None, None
    if endpoint is None:
        if practice_dir is None and patients is None:
            patients = 100
        practice = load_practice(practice_dir, patients, seed, as_of)
        config = SimulatorConfig(request_interval=request_interval,
                                 record_interval=record_interval, api_keys=(api_key,),
                                 state_dir=state_dir)
        running = _start_simulator(config, practice)
        endpoint = "{}:{}".format(*running.address)
        example = next((p.identity for p in practice.index.summaries
                        if p.identity.kind == "NHSNumber"), None)
    else:
        parse_endpoint(endpoint)
    _check_upstream(endpoint, api_key, state_dir)
    # The embedded simulator writes GetDocument's files on this machine: documents are
    # served from a folder in the state dir. A SystmOne client elsewhere needs its folder
    # set up (FACADE_DOCUMENT_DIR, docs/operators.md).
    documents = private_dir(Path(state_dir) / "documents") if running else None
    api, app = _serve_api(host, port, endpoint, api_key, state_dir, request_interval,
                          record_interval, documents)
    base = f"http://{host}:{api.server_port}/fhir"
    _prepare_demo_client(app, state_dir, base)
    click.echo(f"SystmOne {'simulator' if running else 'client'} at {endpoint}")
    click.echo(f"FHIR base URL: {base}")
    _print_examples(base, state_dir, example, endpoint)
    click.echo("Ctrl-C stops the demo.")
    while not stop.wait(0.5):
        pass
    api.shutdown()
    if running is not None:
        running.stop()


def _start_simulator(config, practice):
    """The demo's simulator where a SystmOne client listens (``config.port``, 40700), so
    every command's default upstream (``facade upstream``, ``facade serve``) reaches it;
    on a free loopback port when that one is taken (the demo prints which)."""
    from simulator import RunningSimulator, create_server

    server = create_server(config, practice)
    try:
        return RunningSimulator(server).start()
    except OSError as error:
        server.store.close()
        if error.errno != errno.EADDRINUSE or config.port == 0:
            raise click.ClickException(f"cannot start the simulator: {error}") from None
    return RunningSimulator(create_server(replace(config, port=0), practice)).start()


def _check_upstream(endpoint: str, api_key: str, state_dir: Path) -> None:
    """GetFunctions before anything starts, booked in the state dir's slot ledger (a
    facade already serving from it must not have its requests crowded)."""
    from .stewardship.ledger import Throttled
    from .upstream.cli import booked_upstream

    upstream = booked_upstream(endpoint, api_key, state_dir, Timeouts(5.0, 10.0), None,
                               max_wait=10.0)
    try:
        upstream.call(lambda client: client.get_functions())
    except (UpstreamError, Throttled) as error:
        raise click.ClickException(f"SystmOne at {endpoint} does not answer: {error}") from None
    finally:
        upstream.close()


def _serve_api(host: str, port: int, endpoint: str, api_key: str, state_dir: Path,
               request_interval: float, record_interval: float,
               documents: Path | None = None):
    """The FHIR API on a threaded WSGI server in the background; returns the server."""
    from werkzeug.serving import make_server

    from .app import create_app

    app = create_app({"upstream": endpoint, "api_key": api_key, "state_dir": state_dir,
                      "request_interval": request_interval, "record_interval": record_interval,
                      **({"document_dir": documents} if documents is not None else {})})
    try:
        server = make_server(host, port, app, threaded=True,
                             request_handler=path_only_request_handler())
    except OSError as error:
        raise click.ClickException(f"cannot serve the FHIR API on {host}:{port}: "
                                   f"{error.strerror}") from None
    threading.Thread(target=server.serve_forever, name="fhir-api", daemon=True).start()
    return server, app


def path_only_request_handler():
    """The development server's request log as `facade serve`'s access log has it: the path
    the application says may be logged (no query string, no id that found nothing: both
    may carry NHS numbers, names and dates of birth). Each connection's socket gives up
    after FACADE_CLIENT_TIMEOUT's default, so a stalled client does not hold its thread
    for ever (the demo makes a thread per connection; `facade serve` buffers instead)."""
    from werkzeug.serving import WSGIRequestHandler

    from .config import Settings
    from .edge import LOGGED_PATH
    from .serving.accesslog import masked
    from .serving.answers import refusal_bytes

    class PathOnly(WSGIRequestHandler):
        timeout = Settings().client_timeout

        def log_request(self, code="-", size="-") -> None:
            environ = getattr(self, "environ", {})
            path = environ.get(LOGGED_PATH) or masked(str(getattr(self, "path", "/")))
            self.log("info", '"%s %s %s" %s %s', getattr(self, "command", "-"), path,
                     getattr(self, "request_version", "-"), code, size)

        def log_error(self, format: str, *args) -> None:
            # http.server's messages about bad requests quote the request line ("Bad
            # request syntax ('GET /fhir/Patient?identifier=...')"): only what precedes
            # the quotation is logged.
            self.log("error", format, *(a.split(" (", 1)[0].split("'", 1)[0]
                                        if isinstance(a, str) else a for a in args))

        def send_error(self, code: int, message=None, explain=None) -> None:
            """What the server refuses before the app sees it, as an OperationOutcome that
            quotes nothing (the standard page echoes the request line)."""
            self.log_error("code %d, message %s", code, message or "-")
            self.close_connection = True
            self.wfile.write(refusal_bytes(code, "the request is malformed"
                                           if code < 500 else "the request failed"))

    return PathOnly


def _prepare_demo_client(app, state_dir: Path, base: str) -> None:
    """Register the demo client and record the base URL, so `facade token` works as printed."""
    from .auth.cli import ensure_demo_client

    auth = app.extensions["facade.auth"]
    ensure_demo_client(auth, state_dir)
    auth.remember_public_base(base)


def _print_examples(base: str, state_dir: Path, example, endpoint: str) -> None:
    from .ids import IdCodec

    me = _self_command()
    state = shlex.quote(str(state_dir))
    auth = '-H "Authorization: Bearer $TOKEN"'
    click.echo(f"Token endpoint: {base.removesuffix('/fhir')}/auth/token (SMART Backend "
               "Services); for curl, the demo client's token:")
    click.echo(f"  TOKEN=$({me} token --state-dir {state})")
    lines = [f"  curl -s '{base}/metadata'"]
    if example is not None:
        patient_id = IdCodec.from_state_dir(state_dir).patient_id(example)
        lines += [
            f"  curl -s {auth} '{base}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"
            f"{example.value}'",
            f"  curl -s {auth} '{base}/Observation?patient=Patient/{patient_id}"
            "&category=vital-signs'",
            f"  curl -s {auth} '{base}/AuditEvent?_count=5'",
        ]
    lines += [f"  {me} upstream --upstream {endpoint} --state-dir {state_dir} "
              "search --surname S --gender F",
              f"  {me} simulator audit --state-dir {state_dir} --last 5"]
    click.echo("Try it:\n" + "\n".join(lines))


def _self_command() -> str:
    """How this very command was invoked, so printed examples work as pasted."""
    program = Path(sys.argv[0])
    if program.name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m facade"
    return shlex.quote(str(program))


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so the demo can stop cleanly and exit 0."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _register_commands() -> None:
    from simulator.cli import simulator

    from .assure.cli import assure_command
    from .auth.cli import clients, keys, token
    from .fidelity_cli import fidelity_command
    from .serving.cli import check, serve

    main.add_command(simulator)
    main.add_command(upstream)
    main.add_command(clients)
    main.add_command(token)
    main.add_command(keys)
    main.add_command(serve)
    main.add_command(check)
    main.add_command(fidelity_command)
    main.add_command(assure_command)


_register_commands()
