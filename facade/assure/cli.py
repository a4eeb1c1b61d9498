"""``facade assure``: the Demo → Live interface test harness and its evidence pack."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..profiles import UnsafeConfiguration
from ..protocol.identity import nhs_number_is_valid

DEFAULT_REPORT = Path("assurance-report")
DEFAULT_PATIENTS = 100


def _options(function):
    from simulator.cli import interval_options, practice_options

    return practice_options(interval_options(function))


@click.command("assure")
@click.option("--upstream", "endpoint", help="The SystmOne client's HOST:PORT (TPP's Demo "
                                             "environment). Default: the built-in simulator.")
@click.option("--api-key", help="TPP-issued API key.  [default: FACADE_API_KEY, the "
                                "simulator's demo key]")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_REPORT, show_default=True,
              help="Where the evidence pack is written (report.html, report.json, "
                   "messages/, run.log).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".facade"), show_default=True,
              help="The facade's state dir: its slot ledger, DeviceID and audit are used.")
@_options
@click.option("--nhs-number", "nhs_numbers", multiple=True,
              help="A synthetic or Demo patient to use; repeatable. Default: patients found "
                   "in the practice by PatientSearch.")
@click.option("--read-only", is_flag=True,
              help="Confirm the run may go to an endpoint the live profile configures (the "
                   "harness only reads; it never writes to a record).")
@click.option("--tpp-schemas", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="TPP's request XSDs (request-schemas/ of TPP's specification).  [default: "
                   "../shared/reference/tpp/request-schemas beside a checkout, when there]")
def assure_command(endpoint, api_key, report_dir, state_dir, practice_dir, patients, seed,
                   as_of, request_interval, record_interval, nhs_numbers, read_only,
                   tpp_schemas) -> None:
    """Run the interface test harness against SystmOne and write the evidence pack.

    Scripted interface test (every function the product uses, valid and invalid),
    a throttle phase through the facade's FHIR API (more work than SystmOne
    allows), a fault phase (the built-in simulator behind a fault-injecting
    relay), then the checks: message schemas, DeviceID, access audit, logs,
    configuration. Exit 0 only when every scenario passed.
    """
    from .html import render
    from .report import write
    from .run import Options, assure

    settings = _settings(endpoint, api_key, state_dir, request_interval, record_interval)
    if settings.env == "live" and not read_only:
        click.echo("facade assure: FACADE_ENV=live: refusing to run against a live endpoint "
                   "unless told the run is read-only (--read-only)", err=True)
        sys.exit(2)
    if request_interval <= 0:
        raise click.BadParameter("SystmOne's request interval is more than 0 s",
                                 param_hint="--request-interval")
    for number in nhs_numbers:
        if not nhs_number_is_valid(number):
            raise click.BadParameter(f"{number!r} is not a valid NHS number",
                                     param_hint="--nhs-number")
    practice, label = _practice(endpoint, practice_dir, patients, seed, as_of)
    options = Options(state_dir=state_dir, request_interval=request_interval,
                      record_interval=record_interval, upstream=endpoint,
                      api_key=api_key, nhs_numbers=tuple(nhs_numbers), practice=practice,
                      practice_label=label, tpp_schemas=tpp_schemas)
    try:
        evidence = assure(options, settings)
    except (OSError, UnsafeConfiguration) as error:  # a state dir or report dir not usable
        raise click.ClickException(str(error)) from None
    page = write(evidence, report_dir, render(evidence))
    for verdict in evidence.verdicts:
        if not verdict.passed:
            click.echo(f"FAILED {verdict.id}: {verdict.reason}", err=True)
    counts = {status: sum(v.status == status for v in evidence.verdicts)
              for status in ("passed", "failed", "skipped")}
    click.echo(f"{len(evidence.verdicts)} scenarios: {counts['passed']} passed, "
               f"{counts['failed']} failed, {counts['skipped']} skipped; evidence pack: {page}")
    sys.exit(0 if evidence.passed else 1)


def _settings(endpoint, api_key, state_dir, request_interval, record_interval):
    from ..config import Settings
    from ..upstream.cli import parse_endpoint

    if endpoint is not None:
        parse_endpoint(endpoint)
    given = {"upstream": endpoint, "api_key": api_key, "state_dir": state_dir,
             "request_interval": request_interval, "record_interval": record_interval}
    try:
        return Settings.load({k: v for k, v in given.items() if v is not None})
    except ValueError as error:  # a FACADE_* setting that does not parse
        raise click.ClickException(str(error)) from None


def _practice(endpoint, practice_dir, patients, seed, as_of):
    """The built-in simulator's practice and its name (none beside an upstream)."""
    from simulator.cli import load_practice

    if endpoint is not None:
        if practice_dir is not None or patients is not None or seed is not None:
            raise click.UsageError("--practice, --patients and --seed choose the built-in "
                                   "simulator's practice: not with --upstream")
        return None, ""
    practice = load_practice(practice_dir, patients or (None if practice_dir else
                                                        DEFAULT_PATIENTS), seed, as_of)
    if practice_dir is not None:
        return practice, f"practice folder {Path(practice_dir).name}"
    from simulator.practice.generator import DEFAULT_SEED

    return practice, (f"generated practice: {patients or DEFAULT_PATIENTS} patients, seed "
                      f"{DEFAULT_SEED if seed is None else seed}")
