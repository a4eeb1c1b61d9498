"""``facade fidelity``: how much of a practice's records reaches FHIR, kind by kind.

Maps every record of a practice folder (or the records of the patients named,
fetched whole from a SystmOne client, one full record per record interval so
the throttle is never breached) through every served record type, and prints
per kind of item how many were served and as which FHIR types, and how many
were not and why. Counts only: nothing of the records is printed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from lxml import etree

from .mapping.fidelity import FidelityReport, fidelity
from .mapping.registry import MappingRegistry
from .protocol.identity import Identity, IdentityError
from .upstream.client import DEMO_API_KEY
from .upstream.errors import UpstreamError


@click.command("fidelity")
@click.option("--practice", "practice_dir", type=click.Path(path_type=Path),
              help="A practice folder of recorded GetPatientRecord responses.")
@click.option("--upstream", "endpoint", help="A SystmOne client (or the simulator) at HOST:PORT.")
@click.option("--nhs-number", "nhs_numbers", multiple=True,
              help="A patient whose whole record is fetched from --upstream (repeat).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--api-key", default=DEMO_API_KEY, show_default=True,
              help="With --upstream: the TPP-issued API key.")
@click.option("--record-interval", type=click.FloatRange(min=0), default=30.0,
              show_default=True,
              help="With --upstream: seconds between whole-record fetches (SystmOne allows "
                   "one GetPatientRecord per 30 s).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".facade"), show_default=True,
              help="With --upstream: where the issued DeviceID is kept.")
def fidelity_command(practice_dir, endpoint, nhs_numbers, as_json, api_key, record_interval,
                     state_dir) -> None:
    """Print, per kind of record item, how many were served as FHIR (as which types) and
    how many were not, and why."""
    if (practice_dir is None) == (endpoint is None):
        raise click.UsageError("give either --practice DIR or --upstream HOST:PORT")
    if endpoint is not None and not nhs_numbers:
        raise click.UsageError("--upstream needs at least one --nhs-number")
    registry = MappingRegistry(os.environ.get("FACADE_MAPPINGS_OVERLAY") or None)
    records = _folder_records(practice_dir) if practice_dir is not None else \
        _upstream_records(endpoint, nhs_numbers, api_key, record_interval, state_dir)
    report, count = FidelityReport(), 0
    for record in records:
        report.add(record_fidelity(registry, record))
        count += 1
    click.echo(json.dumps(as_document(report, count), indent=2) if as_json
               else as_table(report, count))


def record_fidelity(registry: MappingRegistry, record: etree._Element) -> FidelityReport:
    """What the facade serves of one record: every record type, as the record service maps
    it (ids are the items' own keys here: they do not change what is served)."""
    resources = registry.map_record(record, patient={"reference": "Patient/fidelity"},
                                    last_updated="2000-01-01T00:00:00Z")
    return fidelity(record, resources)


def _folder_records(folder: Path):
    from simulator.practice.folder import FolderPractice
    from simulator.practice.model import RecordError

    try:
        practice = FolderPractice(folder)
    except RecordError as error:
        raise click.ClickException(str(error)) from None
    for index in range(len(practice)):
        yield practice.record(index)


def _upstream_records(endpoint: str, nhs_numbers: tuple[str, ...], api_key: str,
                      interval: float, state_dir: Path):
    from .upstream.cli import make_client
    from .upstream.transport import Timeouts

    try:
        identities = [Identity.nhs_number(number.replace(" ", "")) for number in nhs_numbers]
    except IdentityError as error:
        raise click.BadParameter(str(error), param_hint="--nhs-number") from None
    client = make_client(endpoint, api_key, state_dir, Timeouts(5.0, 60.0), None)
    try:
        for position, identity in enumerate(identities):
            if position:
                time.sleep(interval)  # SystmOne's one whole record per interval
            try:
                # No Filter: the whole record, so that every kind it holds is counted.
                yield client.get_patient_record(identity)
            except UpstreamError as error:
                raise click.ClickException(f"NHS number {identity.value}: {error}") from None
    finally:
        client.close()


#: The clinical core the facade serves: coded entries, readings, problems, medication,
#: allergies and immunisations.
CLINICAL_CORE = ("coded", "numeric", "problem", "Medication", "RepeatMedication",
                 "DrugSensitivity", "Vaccination")


def core(report: FidelityReport) -> tuple[int, int]:
    """(served, items) of the clinical core."""
    items = sum(report.items[kind] for kind in CLINICAL_CORE)
    return items - sum(report.unserved[kind] for kind in CLINICAL_CORE), items


def as_document(report: FidelityReport, records: int) -> dict:
    served, items = core(report)
    return {"records": records, "items": report.total, "served": report.served,
            "clinical_core": {"kinds": list(CLINICAL_CORE), "items": items, "served": served},
            "kinds": report.rows()}


def as_table(report: FidelityReport, records: int) -> str:
    rows = report.rows()
    width = max([len("kind"), *(len(row["kind"]) for row in rows)])
    served, items = core(report)
    lines = [f"{records} record(s), {report.total} items: {report.served} served "
             f"({_percent(report.served, report.total)}), "
             f"{report.total - report.served} not served",
             f"clinical core ({', '.join(CLINICAL_CORE)}): {served} of {items} served "
             f"({_percent(served, items)})", "",
             f"{'kind':<{width}}  {'items':>6}  {'served':>6}  {'not':>5}  served as / why not"]
    for row in rows:
        types = ", ".join(f"{name} {count}" for name, count in row["served_as"].items())
        why = f"{row['not_served']} not served: {row['why']}" if row["not_served"] else ""
        lines.append(f"{row['kind']:<{width}}  {row['items']:>6}  {row['served']:>6}  "
                     f"{row['not_served']:>5}  {'; '.join(p for p in (types, why) if p)}")
    return "\n".join(lines)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"
