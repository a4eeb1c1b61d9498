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
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from werkzeug.test import TestResponse

from facade.app import create_app
from facade.fhir.registry import RESOURCES, owns_compartment
from facade.mapping.declaration import RECORD, Declaration
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


@dataclass
class Sample:
    """A served resource of one type, and the search that finds it."""

    resource: dict
    query: list[tuple[str, str]]  # the search's parameters, in order

    @property
    def id(self) -> str:
        return self.resource["id"]


@dataclass
class Served:
    """The app over a live simulator, a sample per type, and every answer's body."""

    client: object
    samples: dict[str, Sample] = field(default_factory=dict)
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
        # The first record whole; of the others, only the types still to be seen.
        missing = "" if not world.samples else \
            "&_type=" + ",".join(sorted(wanted - set(world.samples)))
        everything = world.every_page(
            f"/fhir/Patient/{patient['id']}/$everything?_count=500{missing}")
        seen += everything
        for resource in everything:
            if resource["resourceType"] in RESOURCES:
                world.samples.setdefault(resource["resourceType"],
                                         Sample(resource, [("_patient", patient["id"])]))
    for resource_type, declaration in RESOURCES.items():
        if resource_type not in world.samples and declaration.searchable:
            first = matches(world.search(resource_type, [("_count", "1")]))
            if first:
                world.samples[resource_type] = Sample(first[0], [])
        if resource_type not in world.samples:  # read only: reached by reference
            referenced = referenced_ids(seen, resource_type)
            if referenced:
                read = world.get(f"/fhir/{resource_type}/{referenced[0]}",
                                 headers={"Accept": FHIR_JSON})
                world.samples[resource_type] = Sample(read, [])
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
    its id where the type takes _id, else every resource of the type."""
    patient = dict(sample.query).get("_patient")
    if declaration.patient_params and patient:
        return [(declaration.patient_params[0], f"Patient/{patient}")]
    if declaration.param("_id") is not None:
        return [("_id", sample.id)]
    return []


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


# --- the rules ------------------------------------------------------------------------------

def read_by_id(served: Served, declaration: Declaration) -> None:
    """A read answers the resource of that type and id, with an ETag."""
    sample = sample_of(served, declaration.type)
    response = served.ask("GET", f"/fhir/{declaration.type}/{sample.id}",
                          headers={"Accept": FHIR_JSON})
    assert response.status_code == 200, response.get_json(silent=True)
    assert (response.json["resourceType"], response.json["id"]) == (declaration.type, sample.id)
    assert response.headers.get("ETag"), response.headers


def listed(served: Served, declaration: Declaration) -> dict:
    """The type's rest.resource in the CapabilityStatement."""
    [resource] = [r for r in served.statement["rest"][0]["resource"]
                  if r["type"] == declaration.type]
    return resource


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
    """POST _search with the parameters of a GET's self link finds the same page."""
    sample = sample_of(served, declaration.type)
    got = served.search(declaration.type, [*sample.query, ("_count", str(PAGE))])
    self_link = next(link["url"] for link in got["link"] if link["relation"] == "self")
    form = parse_qsl(urlsplit(self_link).query, keep_blank_values=True)
    response = served.ask("POST", f"/fhir/{declaration.type}/_search", data=urlencode(form),
                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.get_json(silent=True)
    posted = response.json
    assert posted["total"] == got["total"]
    assert [e.get("fullUrl") for e in posted.get("entry", [])] == \
        [e.get("fullUrl") for e in got.get("entry", [])]
    assert posted["link"] == got["link"]


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
    lists (given empty, a known parameter is ignored, an unknown one refused)."""
    claims = listed(served, declaration)
    assert [i["code"] for i in claims["interaction"]] == list(declaration.interactions)
    params = claims.get("searchParam", [])
    assert [(p["name"], p["type"], p.get("definition")) for p in params] == \
        [(p.name, p.type, p.definition) for p in declaration.search_params
         if declaration.searchable]
    assert claims.get("searchInclude", []) == list(declaration.include_names)
    sample = served.samples.get(declaration.type)
    for param in params if sample else ():
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


def every(declaration: Declaration) -> bool:
    return True


#: Each rule, with the types it applies to.
RULES: tuple[tuple[Rule, Callable[[Declaration], bool]], ...] = (
    (read_by_id, reads), (conditional_read, reads), (read_of_an_unknown_id, reads),
    (read_of_a_case_swapped_id, reads),
    (search, searches), (paging, searches), (summary_count, searches), (elements, searches),
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
    assert len(served.bodies) > len(ROWS), "run the module whole: the rules collect the bodies"
    results = external.validate([body for _, body in served.bodies])
    failed = [f"{asked}: {sorted(external.flagged_by(result))} "
              f"{result['medplum']['messages'][:3]} {result['fhirjs']['messages'][:3]}"
              for (asked, _), result in zip(served.bodies, results, strict=True)
              if not result["valid"]]
    assert not failed, "\n".join(failed[:20])
