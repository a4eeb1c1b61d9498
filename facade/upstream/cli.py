"""``facade upstream``: call a SystmOne client (or the simulator) from the shell.

SystmOne allows one request a second and one full GetPatientRecord per 30 s per
client, and may drop a message that breaks either without a reply. A running
facade books every call in its shared slot ledger; a call from the shell that
did not would spend the facade's slot behind its back (and the facade's next
request would go unanswered). So every command here books its slot in the
same ledger first (the state dir's store, or FACADE_REDIS_URL), on the same
FACADE_* intervals: it waits for its slot, saying so on standard error, or
refuses in one line when the slot is further off than ``--max-wait``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from lxml import etree

from ..protocol import functions as fn
from ..protocol.envelope import CODE_SCHEMES, DRUG_SCHEMES, OutputScheme
from ..protocol.identity import Identity, IdentityError
from ..stewardship.ledger import SlotLedger, Throttled
from ..stewardship.planner import counts_as_full_record
from ..stewardship.store import Store, open_store
from .booking import booked_call
from .client import DEMO_API_KEY, SystmOneClient  # noqa: F401  (facade demo's default)
from .device import DeviceIdStore
from .errors import UpstreamError
from .transport import SocketTransport, Timeouts

T = TypeVar("T")
#: A wait for a slot longer than this is announced on standard error.
ANNOUNCE_WAIT = 0.5
#: Slots given up for waking too late (a loaded machine) before the command gives up.


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


class BookedUpstream:
    """A client whose every call first books its slot in the facade's shared ledger."""

    def __init__(self, client: SystmOneClient, store: Store, ledger: SlotLedger,
                 max_wait: float) -> None:
        self.client = client
        self.store = store
        self.ledger = ledger
        self.max_wait = max_wait

    def call(self, action: Callable[[SystmOneClient], T], full_record: bool = False) -> T:
        """``action`` (one request), sent in a slot booked for it (upstream/booking.py),
        saying on stderr when it waits for one."""
        def announce(delay: float) -> None:
            if delay > ANNOUNCE_WAIT:
                click.echo(f"waiting {delay:.1f} s for the {_slot_name(full_record)} slot on "
                           f"{self.client.endpoint} (booked in the shared slot ledger)",
                           err=True)
        return booked_call(self.client, self.ledger, self.max_wait, action, full_record,
                           announce)

    def close(self) -> None:
        self.client.close()
        self.store.close()


def _slot_name(full_record: bool) -> str:
    return "full-record" if full_record else "request"


def booked_upstream(endpoint: str | None, api_key: str | None, state_dir: Path | None,
                    timeouts: Timeouts, output_scheme: OutputScheme | None,
                    max_wait: float) -> BookedUpstream:
    """The client and ledger the FACADE_* settings name (options given here win)."""
    from ..config import Settings

    settings = Settings.load({name: value for name, value in
                              (("upstream", endpoint), ("api_key", api_key),
                               ("state_dir", state_dir)) if value is not None})
    store = open_store(settings.state_dir, settings.redis_url)
    ledger = SlotLedger(store, settings.request_interval, settings.record_interval,
                        settings.send_margin)
    client = make_client(settings.upstreams[0], settings.api_key, settings.state_dir,
                         timeouts, output_scheme)
    return BookedUpstream(client, store, ledger, max_wait)


@click.group("upstream")
@click.option("--upstream", "endpoint",
              help="The SystmOne client's HOST:PORT.  [default: FACADE_UPSTREAM's first, "
                   "127.0.0.1:40700]")
@click.option("--api-key", help="TPP-issued API key.  [default: FACADE_API_KEY, the "
                                "simulator's demo key]")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the issued DeviceID and the embedded slot ledger are kept.  "
                   "[default: FACADE_STATE_DIR, .facade]")
@click.option("--codes", type=click.Choice(CODE_SCHEMES), default="Snomed", show_default=True)
@click.option("--drugs", type=click.Choice(DRUG_SCHEMES), default="Dmd", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=40.0, show_default=True,
              help="Seconds to wait for a reply (a throttled request gets none).")
@click.option("--max-wait", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds to wait for this call's slot in the shared slot ledger (a "
                   "running facade books the same slots) before giving up.")
@click.pass_context
def upstream(ctx: click.Context, endpoint, api_key, state_dir, codes, drugs, timeout,
             max_wait) -> None:
    """Call SystmOne Client Integration functions and print the XML reply.

    Every call books its slot in the facade's shared ledger first (the state dir's, or
    FACADE_REDIS_URL's), so it never spends a slot a running facade has booked."""
    try:
        ctx.obj = booked_upstream(endpoint, api_key, state_dir, Timeouts(5.0, timeout),
                                  OutputScheme(codes=codes, drugs=drugs), max_wait)
    except ValueError as error:  # a FACADE_* setting that does not parse
        raise click.ClickException(str(error)) from None
    ctx.call_on_close(ctx.obj.close)


def _run(ctx: click.Context, call, full_record: bool = False) -> None:
    upstream: BookedUpstream = ctx.obj
    try:
        result = upstream.call(call, full_record)
    except Throttled as error:
        raise click.ClickException(
            f"not sent: the next {_slot_name(full_record)} slot on {upstream.client.endpoint} "
            f"is {error.retry_after + upstream.max_wait:.0f} s away in the shared slot ledger "
            f"(a running facade books it too), beyond --max-wait {upstream.max_wait:g}") \
            from None
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
    _run(ctx, lambda client: client.get_patient_record(identity, record_filter, leave_open),
         full_record=counts_as_full_record(record_filter, time.time()))


@upstream.command("retrieved")
@click.pass_context
def retrieved(ctx: click.Context) -> None:
    """IsPatientRetrieved: whether a record is open in the client."""
    _run(ctx, lambda client: "true" if client.is_patient_retrieved() else "false")
