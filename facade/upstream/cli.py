"""``facade upstream``: call a SystmOne client (or the simulator) from the shell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from lxml import etree

from ..protocol import functions as fn
from ..protocol.envelope import CODE_SCHEMES, DRUG_SCHEMES, OutputScheme
from ..protocol.identity import Identity, IdentityError
from .client import DEMO_API_KEY, SystmOneClient
from .device import DeviceIdStore
from .errors import UpstreamError
from .transport import SocketTransport, Timeouts


def parse_endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def device_store(state_dir: Path) -> DeviceIdStore:
    return DeviceIdStore(Path(state_dir) / "upstream" / "device-ids.json")


def make_client(endpoint: str, api_key: str, state_dir: Path, timeouts: Timeouts,
                output_scheme: OutputScheme | None) -> SystmOneClient:
    host, port = parse_endpoint(endpoint)
    return SystmOneClient(SocketTransport(host, port, timeouts), api_key=api_key,
                          endpoint=f"{host}:{port}", device_ids=device_store(state_dir),
                          output_scheme=output_scheme)


@click.group("upstream")
@click.option("--upstream", "endpoint", default="127.0.0.1:40700", show_default=True,
              help="The SystmOne client's HOST:PORT.")
@click.option("--api-key", default=DEMO_API_KEY, show_default=True, help="TPP-issued API key.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".facade"), show_default=True,
              help="Where the issued DeviceID is kept.")
@click.option("--codes", type=click.Choice(CODE_SCHEMES), default="Snomed", show_default=True)
@click.option("--drugs", type=click.Choice(DRUG_SCHEMES), default="Dmd", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=40.0, show_default=True,
              help="Seconds to wait for a reply (a throttled request gets none).")
@click.pass_context
def upstream(ctx: click.Context, endpoint, api_key, state_dir, codes, drugs, timeout) -> None:
    """Call SystmOne Client Integration functions and print the XML reply."""
    ctx.obj = make_client(endpoint, api_key, state_dir, Timeouts(5.0, timeout),
                          OutputScheme(codes=codes, drugs=drugs))
    ctx.call_on_close(ctx.obj.close)


def _run(ctx: click.Context, call) -> None:
    try:
        result = call(ctx.obj)
    except (UpstreamError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if isinstance(result, etree._Element):
        etree.indent(result)
        click.echo(etree.tostring(result, encoding="unicode"))
    else:
        click.echo(result)


@upstream.command("functions")
@click.pass_context
def functions(ctx: click.Context) -> None:
    """GetFunctions: the functions and versions the client supports."""
    _run(ctx, lambda client: client.call(fn.GET_FUNCTIONS).body)


@upstream.command("organisation")
@click.option("--me", is_flag=True, help="Only the logged-on user and their site.")
@click.pass_context
def organisation(ctx: click.Context, me: bool) -> None:
    """GetOrganisationMetaData: sites, users, slot and clinic types."""
    _run(ctx, lambda client: client.get_organisation_metadata(me))


@upstream.command("search")
@click.option("--first-name")
@click.option("--surname")
@click.option("--dob", type=click.DateTime(["%Y-%m-%d"]), help="Date of birth, CCYY-MM-DD.")
@click.option("--postcode", help="Full and correctly spaced, or the district (LS18).")
@click.option("--telephone")
@click.option("--gender", type=click.Choice(["M", "F"]))
@click.pass_context
def search(ctx: click.Context, first_name, surname, dob, postcode, telephone, gender) -> None:
    """PatientSearch: at least two criteria."""
    criteria = fn.PatientSearchCriteria(first_name, surname, dob.date() if dob else None,
                                        postcode, telephone, gender)

    def call(client: SystmOneClient) -> etree._Element:
        body = etree.Element("Response")
        body.extend(client.patient_search(criteria))
        return body
    _run(ctx, call)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@upstream.command("record")
@click.option("--nhs-number")
@click.option("--pseudo-number")
@click.option("--client-id")
@click.option("--filter", "flags", multiple=True, type=click.Choice(fn.FILTER_FLAGS),
              help="A data type to include; repeatable. None: the whole record.")
@click.option("--clinical-code", multiple=True, help="CTV3 code to include; repeatable.")
@click.option("--numeric", multiple=True, help="CTV3 code of numeric readings; repeatable.")
@click.option("--done-by", multiple=True, help="Only data recorded by this user; repeatable.")
@click.option("--min-entry", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--max-entry", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--min-effective", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--max-effective", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--leave-open", is_flag=True, help="Send LeaveRecordOpen.")
@click.pass_context
def record(ctx: click.Context, nhs_number, pseudo_number, client_id, flags, clinical_code,
           numeric, done_by, min_entry, max_entry, min_effective, max_effective,
           leave_open) -> None:
    """GetPatientRecord for one patient (none given: the record open in SystmOne)."""
    given = [(kind, value) for kind, value in (("NHSNumber", nhs_number),
                                                ("PseudoNumber", pseudo_number),
                                                ("ClientID", client_id)) if value]
    if len(given) > 1:
        raise click.UsageError("give one of --nhs-number, --pseudo-number, --client-id")
    try:
        identity = Identity(*given[0]) if given else None
    except IdentityError as error:
        raise click.BadParameter(str(error)) from None
    record_filter = fn.RecordFilter(
        flags=frozenset(flags), clinical_codes=clinical_code, numerics=numeric,
        done_by=done_by, min_entry=_date(min_entry), max_entry=_date(max_entry),
        min_effective=_date(min_effective), max_effective=_date(max_effective))
    if record_filter == fn.RecordFilter():
        record_filter = None
    _run(ctx, lambda client: client.get_patient_record(identity, record_filter, leave_open))


@upstream.command("retrieved")
@click.pass_context
def retrieved(ctx: click.Context) -> None:
    """IsPatientRetrieved: whether a record is open in the client."""
    _run(ctx, lambda client: "true" if client.is_patient_retrieved() else "false")
