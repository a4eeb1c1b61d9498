"""Result parameters, modifiers and POST _search over HTTP, for every served type the
patient's record feeds: _summary (true, text, data, count, false) on searches and reads,
_elements, _sort ascending and descending on each sortable parameter, _total, modifiers
and prefixes, and POST _search answering exactly as the GET with the same parameters
(result parameters in the body included). Expectations from FHIR R4 search.html and
http.html, worked out here from the resources served, not from the facade's tables."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from facade.fhir.registry import RESOURCES
from facade.mapping.declaration import RECORD
from tests.bundles import matches, outcomes

from .conftest import patient_with_numerics
from .test_api import search

SUBSETTED = "SUBSETTED"
RECORD_TYPES = sorted(t for t, d in RESOURCES.items() if d.source == RECORD and d.searchable)


@pytest.fixture
def patient_id(client, practice) -> str:
    patient = patient_with_numerics(practice)
    return search(client, f"/fhir/Patient?identifier={patient.identity.value}"
                  )["entry"][0]["resource"]["id"]


def everything_of(client, resource_type: str, patient_id: str, query: str = "") -> list[dict]:
    declaration = RESOURCES[resource_type]
    bundle = search(client, f"/fhir/{resource_type}?{declaration.patient_params[0]}="
                            f"{patient_id}&_count=500{query}")
    assert bundle["total"] == len(matches(bundle))
    return matches(bundle)


def tags(resource: dict) -> list[str]:
    return [tag["code"] for tag in resource.get("meta", {}).get("tag", [])]


# -- _summary -------------------------------------------------------------------------

def test_summary_true_and_text_on_every_record_type(client, patient_id):
    """true: no narrative, no element FHIR does not mark summary; text: the narrative,
    id, meta and mandatory elements only. Both marked SUBSETTED."""
    seen = 0
    for resource_type in RECORD_TYPES:
        full = everything_of(client, resource_type, patient_id)
        true = everything_of(client, resource_type, patient_id, "&_summary=true")
        text = everything_of(client, resource_type, patient_id, "&_summary=text")
        assert [r["id"] for r in true] == [r["id"] for r in text] == [r["id"] for r in full]
        for whole, summary, narrative in zip(full, true, text, strict=True):
            seen += 1
            assert SUBSETTED in tags(summary) and SUBSETTED in tags(narrative)
            assert "text" not in summary and set(summary) <= set(whole)
            assert set(narrative) <= set(whole) and set(narrative) <= set(summary) | {"text"}
            if "text" in whole:
                assert narrative["text"] == whole["text"]
    assert seen  # the patient's record holds something to summarise


def test_summary_true_keeps_what_fhir_marks_summary_on_observations(client, patient_id):
    for whole, summary in zip(everything_of(client, "Observation", patient_id),
                              everything_of(client, "Observation", patient_id,
                                            "&_summary=true"), strict=True):
        for element in ("status", "code", "subject", "effectiveDateTime", "valueQuantity"):
            assert (element in summary) is (element in whole), element
        assert "category" not in summary  # Observation.category is not a summary element


def test_summary_on_a_read(client, patient_id):
    observation = everything_of(client, "Observation", patient_id)[0]
    url = f"/fhir/Observation/{observation['id']}"
    text = search(client, f"{url}?_summary=text")
    assert set(text) <= {"resourceType", "id", "meta", "text", "status", "code"}
    assert SUBSETTED in tags(text)
    true = search(client, f"{url}?_summary=true")
    assert "text" not in true and true["code"] == observation["code"]
    assert SUBSETTED in tags(true)
    assert "tag" not in search(client, f"{url}?_summary=false")["meta"]


def test_summary_is_carried_by_the_paging_links(client, patient_id):
    bundle = search(client, f"/fhir/Observation?patient={patient_id}&_summary=true&_count=2")
    assert all("_summary=true" in link["url"] for link in bundle["link"])


def test_elements_keep_the_mandatory_elements(client, patient_id):
    for resource in everything_of(client, "Observation", patient_id, "&_elements=subject"):
        assert set(resource) == {"resourceType", "id", "meta", "status", "code", "subject"}


# -- _sort ------------------------------------------------------------------------------

def sort_value(resource: dict, param_paths: tuple[str, ...]) -> dt.datetime | None:
    """The date a resource sorts by, read here: the first date at the parameter's
    element (a Period by its start), as a UTC instant (no offset: London time)."""
    for path in param_paths:
        value = resource
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str):
            padded = value + "-01-01"[len(value) - 4:] if len(value) < 10 else value
            moment = dt.datetime.fromisoformat(padded)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo("Europe/London"))
            return moment.astimezone(dt.UTC)
    return None


def expected_order(resources: list[dict], paths: tuple[str, ...], descending: bool) -> list:
    dated = sorted((r for r in resources if sort_value(r, paths) is not None),
                   key=lambda r: r["id"])
    dated.sort(key=lambda r: sort_value(r, paths), reverse=descending)
    return [r["id"] for r in dated] + sorted(r["id"] for r in resources
                                             if sort_value(r, paths) is None)


def test_every_record_type_sorts_both_ways_by_its_sort_dates(client, patient_id):
    """Each type's date parameters reading its declared order, ascending and descending,
    ties by id, the undated last; _lastUpdated on every type."""
    sorted_some = 0
    for resource_type in RECORD_TYPES:
        declaration = RESOURCES[resource_type]
        names = [p.name for p in declaration.search_params if p.type == "date"
                 and any(s.split(".")[0] in {path.split(".")[0] for path in p.paths}
                         for s in declaration.sort)]
        for name in [*names, "_lastUpdated"]:
            paths = ("meta.lastUpdated",) if name == "_lastUpdated" else \
                declaration.param(name).paths
            for descending in (False, True):
                asked = f"-{name}" if descending else name
                found = everything_of(client, resource_type, patient_id, f"&_sort={asked}")
                assert [r["id"] for r in found] == expected_order(found, paths, descending), \
                    (resource_type, asked)
                sorted_some += len(found) > 1
    assert sorted_some


def test_sorted_pages_follow_one_order(client, patient_id):
    whole = [r["id"] for r in everything_of(client, "Observation", patient_id, "&_sort=date")]
    paged, url = [], f"/fhir/Observation?patient={patient_id}&_sort=date&_count=7"
    while url:
        page = search(client, url)
        paged += [r["id"] for r in matches(page)]
        assert "_sort=date" in page["link"][0]["url"]
        url = next((link["url"].split("localhost", 1)[1] for link in page["link"]
                    if link["relation"] == "next"), None)
    assert paged == whole


def test_an_unsortable_parameter_is_said_or_refused(client, patient_id):
    url = f"/fhir/Observation?patient={patient_id}&_sort=code"
    said = outcomes(search(client, url))[0]["issue"]
    assert any(issue["diagnostics"].startswith("_sort=code") for issue in said)
    strict = client.get(url, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and "_sort=code" in strict.json["issue"][0]["diagnostics"]


def test_the_audit_pages_itself_so_sort_is_said_not_applied(client):
    lenient = search(client, "/fhir/AuditEvent?_sort=_lastUpdated")
    assert any("_sort" in issue["diagnostics"] for outcome in outcomes(lenient)
               for issue in outcome["issue"])
    strict = client.get("/fhir/AuditEvent?_sort=_lastUpdated",
                        headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and "_sort" in strict.json["issue"][0]["diagnostics"]


# -- _total ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["none", "estimate", "accurate"])
def test_total_is_always_exact(client, patient_id, value):
    exact = search(client, f"/fhir/Observation?patient={patient_id}")["total"]
    assert search(client, f"/fhir/Observation?patient={patient_id}&_total={value}"
                  )["total"] == exact


def test_another_total_is_400(client, patient_id):
    response = client.get(f"/fhir/Observation?patient={patient_id}&_total=some")
    assert response.status_code == 400
    assert "_total=some" in response.json["issue"][0]["diagnostics"]


# -- modifiers and prefixes ---------------------------------------------------------------

def test_not_and_missing_split_a_record(client, patient_id):
    everything = {r["id"] for r in everything_of(client, "Observation", patient_id)}
    code = everything_of(client, "Observation", patient_id)[0]["code"]["coding"][0]["code"]
    having = {r["id"] for r in everything_of(client, "Observation", patient_id, f"&code={code}")}
    lacking = {r["id"] for r in everything_of(client, "Observation", patient_id,
                                              f"&code:not={code}")}
    assert having and having | lacking == everything and not having & lacking
    for name in ("encounter", "performer", "category"):
        missing = {r["id"] for r in everything_of(client, "Observation", patient_id,
                                                  f"&{name}:missing=true")}
        present = {r["id"] for r in everything_of(client, "Observation", patient_id,
                                                  f"&{name}:missing=false")}
        assert missing | present == everything and not missing & present, name


def test_text_finds_observations_by_their_display(client, patient_id):
    observations = everything_of(client, "Observation", patient_id)
    display = next(c["display"] for r in observations for c in r["code"]["coding"]
                   if c.get("display"))
    found = everything_of(client, "Observation", patient_id,
                          f"&{urlencode({'code:text': display[:4].lower()})}")
    assert found and all(any(text.lower().startswith(display[:4].lower())
                             for text in [r["code"].get("text", ""),
                                          *(c.get("display", "") for c in r["code"]["coding"])])
                         for r in found)


@pytest.mark.parametrize("prefix", ["sa", "eb", "ap", "ne"])
def test_every_date_prefix_is_answered(client, patient_id, prefix):
    assert search(client, f"/fhir/Observation?patient={patient_id}&date={prefix}2020-01-01"
                          f"&_lastUpdated={prefix}2020-01-01")["type"] == "searchset"


@pytest.mark.parametrize("query", ["outcome:missing=true", "date=ap2026", "date=sa2026",
                                   "subtype:not=read"])
def test_the_audit_refuses_what_its_store_cannot_answer_naming_it(client, query):
    response = client.get(f"/fhir/AuditEvent?{query}")
    assert response.status_code == 400
    said = response.json["issue"][0]["diagnostics"]
    assert query.split("=")[0] in said or query.split("=")[1][:2] in said


def test_a_patient_modifier_filters_what_patientsearch_found(client, practice):
    patient = next(p for p in practice.index.summaries
                   if p.sex in ("M", "F") and p.date_of_birth is not None)
    gender = {"M": "male", "F": "female"}[patient.sex]
    other = {"male": "female", "female": "male"}[gender]
    base = f"/fhir/Patient?family={patient.surname}&birthdate={patient.date_of_birth}"
    found = {r["id"] for r in matches(search(client, base))}
    kept = {r["id"] for r in matches(search(client, f"{base}&gender:not={other}"))}
    dropped = {r["id"] for r in matches(search(client, f"{base}&gender:not={gender}"))}
    assert kept and kept | dropped == found and not kept & dropped


# -- POST _search and GET agree ----------------------------------------------------------

def post(client, resource_type: str, pairs: list[tuple[str, str]], query: str = ""):
    return client.post(f"/fhir/{resource_type}/_search{query}", data=urlencode(pairs),
                       content_type="application/x-www-form-urlencoded")


def get(client, resource_type: str, pairs: list[tuple[str, str]]):
    return client.get(f"/fhir/{resource_type}?{urlencode(pairs)}")


QUERIES = [
    [("_count", "3")],
    [("_count", "3"), ("_offset", "3")],
    [("date", "ge2000-01-01"), ("date", "le2030-01-01")],  # repeated: AND
    [("category", "vital-signs,laboratory")],  # comma: OR
    [("_summary", "count")],
    [("_summary", "true"), ("_count", "2")],
    [("_summary", "text"), ("_count", "2")],
    [("_elements", "code,subject"), ("_count", "2")],
    [("_sort", "-date"), ("_count", "4")],
    [("_sort", "date"), ("_total", "accurate"), ("_count", "4")],
    [("_format", "xml"), ("_count", "2")],
    [("_format", "application/fhir+json"), ("_pretty", "true"), ("_count", "2")],
    [("_pretty", "true"), ("_count", "2")],
    [("code:not", "x"), ("category:missing", "false"), ("_count", "2")],
    [("_include", "Observation:patient"), ("_count", "2")],
    [("foo", "bar"), ("_count", "2")],
]


@pytest.mark.parametrize("pairs", QUERIES, ids=[urlencode(q) for q in QUERIES])
def test_post_search_answers_as_the_get_with_the_same_parameters(client, patient_id, pairs):
    pairs = [("patient", patient_id), *pairs]
    got, posted = get(client, "Observation", pairs), post(client, "Observation", pairs)
    assert got.status_code == posted.status_code == 200
    assert got.content_type == posted.content_type
    assert got.get_data() == posted.get_data()


def test_post_search_takes_the_format_from_the_body_in_errors_too(client):
    response = post(client, "Observation", [("patient", "x"), ("_format", "xml"),
                                            ("date", "yesterday")])
    assert response.status_code == 400 and response.content_type.startswith(
        "application/fhir+xml")
    refused = post(client, "Observation", [("patient", "x"), ("_format", "html")])
    assert refused.status_code == 406


def test_post_search_splits_parameters_between_the_query_and_the_body(client, patient_id):
    pairs = [("patient", patient_id), ("_count", "2"), ("_pretty", "true")]
    whole = get(client, "Observation", pairs)
    split = post(client, "Observation", pairs[1:], query=f"?patient={patient_id}")
    assert whole.get_data() == split.get_data()
    assert b"\n  " in whole.get_data()  # indented: _pretty from the body was heard
    assert json.loads(whole.get_data())["resourceType"] == "Bundle"
