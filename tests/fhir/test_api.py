"""The FHIR API end to end: Flask's test client, the real client, the real TCP simulator."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from facade.app import create_app
from facade.fhir.registry import RESOURCES
from tests.bundles import matches, outcomes

from ..tokens import authorized_client
from .conftest import patient_with_numerics

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def without_fetch_time(resource: dict) -> dict:
    """Each fetch from SystmOne stamps meta.lastUpdated anew; compare the rest."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k != "lastUpdated"}
    return {**resource, "meta": meta}


def search(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.json
    assert response.content_type.startswith("application/fhir+json")
    return response.json


def every_page(client, url) -> dict:
    """A search followed through its next links: one Bundle holding every page's entries
    (pages hold FACADE_DEFAULT_COUNT entries unless _count says otherwise)."""
    first = search(client, url)
    entries, page = list(first.get("entry", [])), first
    while (following := next((link["url"] for link in page["link"]
                              if link["relation"] == "next"), None)):
        page = search(client, following.split("localhost", 1)[1])
        assert page["total"] == first["total"]
        entries += page.get("entry", [])
    return {**first, "entry": entries}


def ids(bundle: dict) -> list[str]:
    """The ids a search matched, in order (a whole search: its total is all of them)."""
    found = [r["id"] for r in matches(bundle)]
    assert bundle["total"] == len(found)
    return found


def instant(text: str) -> dt.datetime:
    """A FHIR dateTime as a UTC instant, worked out here independently of the facade
    (no offset: London wall-clock time)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/London"))
    return moment.astimezone(dt.UTC)


def test_metadata_lists_what_the_registry_serves(client):
    statement = search(client, "/fhir/metadata")
    assert statement["fhirVersion"] == "4.0.1"
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(served) == set(RESOURCES)
    for name, definition in RESOURCES.items():
        assert [p["name"] for p in served[name].get("searchParam", [])] == \
            [p.name for p in definition.search_params]  # none for a type read only


@pytest.mark.parametrize("form", ["system", "bare"])
def test_find_a_patient_by_nhs_number_then_read_it(client, practice, form):
    patient = practice.index.summaries[0]
    value = f"{NHS_SYSTEM}|{patient.identity.value}" if form == "system" \
        else patient.identity.value
    bundle = search(client, f"/fhir/Patient?identifier={value}")
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    found = bundle["entry"][0]["resource"]
    assert found["identifier"][0] == {**found["identifier"][0], "system": NHS_SYSTEM,
                                      "value": patient.identity.value}
    assert patient.identity.value not in found["id"]
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{found['id']}")
    assert without_fetch_time(search(client, f"/fhir/Patient/{found['id']}")) == \
        without_fetch_time(found)
    assert search(client, f"/fhir/Patient?_id={found['id']}")["total"] == 1


def test_an_unknown_nhs_number_is_an_empty_bundle_a_bad_one_or_other_system_a_400(client,
                                                                                 practice):
    """GP Connect's answers (test_identifiers.py checks them in detail)."""
    from facade.protocol.identity import Identity

    unknown = next(n for n in ("9990000018", "9990000026", "9990000034")
                   if practice.find(Identity.nhs_number(n)) is None)
    assert search(client, f"/fhir/Patient?identifier={unknown}")["total"] == 0
    bad = search(client, "/fhir/Patient?identifier=9990000019", 400)  # bad check digit
    assert bad["issue"][0]["details"]["coding"][0]["code"] == "INVALID_NHS_NUMBER"
    other = search(client, "/fhir/Patient?identifier=http://other|123", 400)
    assert other["issue"][0]["details"]["coding"][0]["code"] == "INVALID_IDENTIFIER_SYSTEM"


def test_patient_search_by_demographics_is_subsetted(client, practice):
    patient = next(p for p in practice.index.summaries if p.sex in "MF")
    gender = {"M": "male", "F": "female"}[patient.sex]

    def births(family: str, keep=lambda birth: True) -> list[str]:
        """The practice's patients a search by family (its beginning) and gender finds."""
        return sorted(p.date_of_birth.isoformat() for p in practice.index.summaries
                      if p.surname.casefold().startswith(family.casefold())
                      and p.sex == patient.sex and keep(p.date_of_birth))

    def found(bundle: dict) -> list[str]:
        return sorted(r["birthDate"] for r in matches(bundle))

    bundle = search(client, f"/fhir/Patient?family={patient.surname[:3]}&gender={gender}")
    assert bundle["total"] == len(bundle["entry"]) >= 1
    assert found(bundle) == births(patient.surname[:3])
    assert all(e["resource"]["meta"]["tag"][0]["code"] == "SUBSETTED" for e in bundle["entry"])
    year, birth = patient.date_of_birth.year, patient.date_of_birth.isoformat()
    narrowed = search(client, f"/fhir/Patient?family={patient.surname}&gender={gender}"
                              f"&birthdate=ge{year}&birthdate=le{year}")
    assert birth in found(narrowed)
    assert found(narrowed) == births(patient.surname, lambda born: born.year == year)
    before = search(client, f"/fhir/Patient?family={patient.surname}&gender={gender}"
                            f"&birthdate=lt{year}")
    assert found(before) == births(patient.surname, lambda born: born.year < year)
    after = search(client, f"/fhir/Patient?family={patient.surname}&gender={gender}"
                           f"&birthdate=gt{birth}")
    assert found(after) == births(patient.surname, lambda born: born > patient.date_of_birth)


def test_fewer_than_two_criteria_explains_what_works(client):
    outcome = search(client, "/fhir/Patient?family=Smith", 400)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "at least two" in outcome["issue"][0]["diagnostics"]


def test_vital_signs_and_labs_as_observations(client, practice):
    patient = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                   and practice.record(p).find(".//ClinicalCode/Code[@Code='2469.']")
                   is not None)  # a systolic reading (CTV3): it has blood pressures
    patient_id = search(client, f"/fhir/Patient?identifier={patient.identity.value}"
                        )["entry"][0]["resource"]["id"]
    everything = every_page(client, f"/fhir/Observation?patient=Patient/{patient_id}")
    observations = matches(everything)
    assert everything["total"] == len(observations) > 0
    references = {r["subject"]["reference"] for r in observations}
    assert references == {f"Patient/{patient_id}"}

    def having(system: str, code: str, path: str) -> list[str]:
        return [r["id"] for r in observations if any(
            c.get("system") == system and c["code"] == code
            for concept in ([r[path]] if path == "code" else r.get(path, []))
            for c in concept["coding"])]

    vitals = every_page(client, f"/fhir/Observation?subject={patient_id}&category=vital-signs")
    expected = having("http://terminology.hl7.org/CodeSystem/observation-category",
                      "vital-signs", "category")
    assert expected and ids(vitals) == expected
    assert len(expected) < len(observations)  # the labs are left out
    bp = every_page(client, f"/fhir/Observation?patient={patient_id}"
                            "&code=http://loinc.org|85354-9")
    pressures = having("http://loinc.org", "85354-9", "code")
    assert pressures and ids(bp) == pressures
    for resource in matches(bp):
        assert len(resource["component"]) == 2
    first = observations[0]
    assert search(client, f"/fhir/Observation/{first['id']}") == first


def test_count_ceils_the_page_and_the_self_link_drops_unknown_parameters(client, practice):
    patient = patient_with_numerics(practice)
    patient_id = search(client, f"/fhir/Patient?identifier={patient.identity.value}"
                        )["entry"][0]["resource"]["id"]
    everything = ids(every_page(client, f"/fhir/Observation?patient={patient_id}"))
    bundle = search(client, f"/fhir/Observation?patient={patient_id}&_count=2&bogus=1")
    assert len(everything) > 2 and bundle["total"] == len(everything)
    assert [r["id"] for r in matches(bundle)] == everything[:2]
    assert "bogus" not in bundle["link"][0]["url"]


def test_strict_handling_refuses_unknown_parameters(client):
    response = client.get("/fhir/Patient?bogus=1&family=A&gender=male",
                          headers={"Prefer": "handling=strict"})
    assert response.status_code == 400 and "bogus" in response.json["issue"][0]["diagnostics"]


def test_post_search_with_a_form_body(client, practice):
    patient = practice.index.summaries[0]
    response = client.post("/fhir/Patient/_search", data={"identifier": patient.identity.value})
    assert response.status_code == 200 and response.json["total"] == 1
    wrong = client.post("/fhir/Patient/_search", json={"identifier": "x"})
    assert wrong.status_code == 415 and wrong.json["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("method", "url", "status"), [
    ("get", "/fhir/Practitioner/1", 404),
    ("get", "/fhir/Patient/not$valid", 400),
    ("get", "/fhir/Patient/abcdef", 404),
    ("get", "/fhir/Observation/abcdef", 404),
    ("put", "/fhir/Patient/abcdef", 405),
    ("delete", "/fhir/Observation/abcdef", 405),
    ("post", "/fhir/Patient", 405),
    ("get", "/fhir/Observation", 400),
    ("get", "/fhir/Observation?patient=x&date=yesterday", 400),
    ("get", "/fhir/Observation?patient=x&_count=lots", 400),
])
def test_every_mistake_gets_an_operation_outcome(client, method, url, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert response.json["resourceType"] == "OperationOutcome"
    assert response.json["issue"][0]["diagnostics"]


def test_upstream_down_is_503_with_retry_after(tmp_path):
    app = create_app({"upstream": "127.0.0.1:9", "state_dir": tmp_path})
    response = authorized_client(app).get("/fhir/Patient?identifier=9990000018")
    app.extensions["facade.records"].close()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["issue"][0]["code"] == "transient"


def test_the_record_slot_is_never_breached_it_is_429(api, practice):
    client = api(record_interval=30.0)
    first, second = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:2]
    ids = [search(client, f"/fhir/Patient?identifier={p.identity.value}")["entry"][0]
           ["resource"]["id"] for p in (first, second)]
    search(client, f"/fhir/Observation?patient={ids[0]}")
    search(client, f"/fhir/Observation?patient={ids[0]}")  # the cached record
    response = client.get(f"/fhir/Observation?patient={ids[1]}")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 10
    assert response.json["issue"][0]["code"] == "throttled"


def observation_search(client, practice, query=""):
    patient = patient_with_numerics(practice)
    patient_id = search(client, f"/fhir/Patient?identifier={patient.identity.value}"
                        )["entry"][0]["resource"]["id"]
    return patient_id, every_page(client, f"/fhir/Observation?patient={patient_id}{query}")


def test_next_links_page_through_everything_statelessly(api, practice):
    client = api()
    patient_id, everything = observation_search(client, practice)
    assert everything["total"] > 14  # at least three pages
    seen, url = [], f"/fhir/Observation?patient={patient_id}&_count=7"
    while url:
        page = search(client, url)
        assert len(matches(page)) == min(7, everything["total"] - len(seen))
        assert page["total"] == everything["total"]
        seen += [r["id"] for r in matches(page)]
        next_link = next((link["url"] for link in page["link"] if link["relation"] == "next"),
                         None)
        url = next_link.split("localhost", 1)[1] if next_link else None
    assert seen == [r["id"] for r in matches(everything)]
    # A link minted here works on another instance (same state dir, so the same key).
    other = api()
    link_query = f"/fhir/Observation?patient={patient_id}&_count=7&_offset=7"
    assert [r["id"] for r in matches(search(other, link_query))] == seen[7:14]


def test_summary_count_elements_and_include(client, practice):
    patient_id, everything = observation_search(client, practice)
    counted = search(client, f"/fhir/Observation?patient={patient_id}&_summary=count")
    assert counted["total"] == everything["total"] and "entry" not in counted
    slim = search(client, f"/fhir/Observation?patient={patient_id}&_elements=code,subject")
    resource = slim["entry"][0]["resource"]
    # FHIR: the mandatory elements come too (Observation.status, code 1..1).
    assert set(resource) == {"resourceType", "id", "meta", "status", "code", "subject"}
    assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED"
    with_patient = search(client, f"/fhir/Observation?patient={patient_id}&_count=3"
                                  "&_include=Observation:patient")
    modes = [e["search"]["mode"] for e in with_patient["entry"]]
    assert modes.count("include") == 1 and modes.index("include") == 3
    assert with_patient["entry"][3]["resource"]["id"] == patient_id


def test_read_has_etag_last_modified_and_answers_304(client, practice):
    patient = practice.index.summaries[0]
    found = search(client, f"/fhir/Patient?identifier={patient.identity.value}")
    url = f"/fhir/Patient/{found['entry'][0]['resource']['id']}"
    first = client.get(url)
    assert first.headers["ETag"].startswith('W/"') and first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "no-store"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    changed = client.get(url, headers={"If-None-Match": 'W/"something-else"'})
    assert changed.status_code == 200


def test_general_practitioner_names_the_practice_by_ods_code_and_the_usual_gp(client, practice):
    patient = practice.index.summaries[0]
    bundle = search(client, f"/fhir/Patient?identifier={patient.identity.value}")
    references = bundle["entry"][0]["resource"]["generalPractitioner"]
    organisation = practice.organisation
    primary = next(site for site in organisation.sites if site.primary)
    practice_reference = next(r for r in references if "ods" in r["identifier"]["system"])
    assert {k: v for k, v in practice_reference.items() if k != "reference"} == {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                       "value": primary.id}, "display": primary.name}
    assert practice_reference["reference"].startswith("Organization/")
    usual = organisation.user(practice.record(patient).findtext("Demographics/UsualGPUserName"))
    gp = next(r for r in references if "ods" not in r.get("identifier", {}).get("system", ""))
    assert gp["display"].endswith(usual.surname)
    assert gp["identifier"] == {"system": "https://fhir.hl7.org.uk/Id/gmc-number",
                                "value": usual.national_id}


@pytest.mark.parametrize(("query", "headers", "expected"), [
    ("", {}, "application/fhir+json"),
    ("", {"Accept": "application/fhir+xml"}, "application/fhir+xml"),
    ("", {"Accept": "application/xml;q=0.9, application/json;q=0.1"}, "application/fhir+xml"),
    ("?_format=xml", {"Accept": "application/fhir+json"}, "application/fhir+xml"),
    ("?_format=application/fhir+json", {"Accept": "application/xml"}, "application/fhir+json"),
    ("", {"Accept": "*/*"}, "application/fhir+json"),
])
def test_content_negotiation(client, query, headers, expected):
    response = client.get(f"/fhir/metadata{query}", headers=headers)
    assert response.status_code == 200
    assert response.content_type.split(";")[0] == expected


def test_xml_is_fhir_xml_that_round_trips(client, practice):
    from fhir.resources.R4B.bundle import Bundle

    patient_id, everything = observation_search(client, practice)
    response = client.get(f"/fhir/Observation?patient={patient_id}&_count=3&_format=xml"
                          "&_include=Observation:patient")
    assert response.data.startswith(b"<?xml")
    parsed = Bundle.model_validate_xml(response.data)
    kept = [e for e in parsed.entry if e.search.mode != "outcome"]
    assert parsed.total == everything["total"] and len(kept) == 4
    assert kept[3].resource.get_resource_type() == "Patient"


@pytest.mark.parametrize(("query", "headers"), [
    ("?_format=text/csv", {}),
    ("", {"Accept": "text/csv"}),
])
def test_unsupported_formats_get_406_as_json(client, query, headers):
    response = client.get(f"/fhir/metadata{query}", headers=headers)
    assert response.status_code == 406
    assert response.json["issue"][0]["code"] == "not-supported"


def test_errors_follow_the_asked_format(client):
    response = client.get("/fhir/Observation", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 400 and b"<OperationOutcome" in response.data


def test_each_mapped_record_logs_its_fidelity_without_phi(client, practice, caplog):
    patient = patient_with_numerics(practice)
    with caplog.at_level("INFO", logger="facade.records"):
        observation_search(client, practice)
    lines = [r.getMessage() for r in caplog.records if "record mapped" in r.getMessage()]
    assert lines and " items served; not served: " in lines[0]
    for secret in (patient.identity.value, patient.surname, patient.first_name):
        assert secret not in lines[0]


UNSERVED = """<Response><Identity><NHSNumber>9990000018</NHSNumber></Identity>
<Demographics><FirstName>Ann</FirstName><Surname>Test</Surname><DateOfBirth>1950-01-01
</DateOfBirth><Sex>F</Sex></Demographics>
<Clinical><Event DateTime="2025-02-03T10:00:00" DoneBy="Dr A " EventUID="e000000000000001">
<ClinicalCode><Code Scheme="CTV3" Code="XE0Ub" Term="Hypertension"/></ClinicalCode>
<Medication><MedicationType>NHS medication</MedicationType><Dose>one daily</Dose></Medication>
</Event></Clinical><RecordState>Closed</RecordState></Response>"""


def test_what_a_record_holds_but_is_not_served_is_said_in_the_searchset_and_the_log(
        api, start_simulator, tmp_path, caplog):
    """A Medication naming no drug cannot be served: the searchset's outcome entry and a
    warning (shown by Python's default logging configuration) say so, by kind."""
    from simulator.practice import folder_practice

    folder = tmp_path / "practice"
    folder.mkdir()
    (folder / "ann.xml").write_text(UNSERVED)
    live = start_simulator(practice_override=folder_practice(folder))
    host, port = live.address
    client = api(upstream=f"{host}:{port}", state_dir=tmp_path / "other-state")
    pid = search(client, "/fhir/Patient?identifier=9990000018")["entry"][0]["resource"]["id"]
    with caplog.at_level("INFO", logger="facade.records"):
        bundle = search(client, f"/fhir/Condition?patient={pid}")
    [outcome] = outcomes(bundle)
    assert outcome["issue"][0]["severity"] == "information"
    assert "Medication 1" in outcome["issue"][0]["diagnostics"]
    assert [c["code"] for c in outcome["issue"][0]["details"]["coding"]] == ["Medication"]
    [line] = [r for r in caplog.records if "record mapped" in r.getMessage()]
    assert line.levelname == "WARNING"
    assert line.getMessage() == "record mapped: 1 of 2 items served; not served: Medication=1"


def test_no_bad_input_ever_causes_a_5xx(client, practice):
    """Random parameter names and values against every route: 4xx or 2xx, never 5xx."""
    import random
    from urllib.parse import quote

    rng = random.Random(11)
    names = ["identifier", "_id", "family", "given", "name", "birthdate", "gender",
             "address-postalcode", "phone", "telecom", "patient", "subject", "code", "category",
             "date", "status", "_count", "_offset", "_summary", "_elements", "_include",
             "_format", "_pretty", "bogus", ""]
    values = ["", "|", "||", ",", "x", "ge", "ge2020", "2020-13-45", "9990000018",
              "https://fhir.nhs.uk/Id/nhs-number|", "-1", "99999999999", "male", "Patient/",
              "Patient/abc", "count", "Observation:patient", "\u00e9\u4e2d", "%00", "'\"<>&",
              "a" * 300, "lt2020-01-01T10:00", "1.5", "true", "xml", "Observation:subject"]
    paths = ["/fhir/Patient", "/fhir/Observation", "/fhir/Patient/x", "/fhir/Observation/y",
             "/fhir/metadata", "/fhir/Patient/_search"]
    for _ in range(300):
        pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 4))]
        query = "&".join(f"{quote(n)}={quote(v)}" for n, v in pairs)
        response = client.get(f"{rng.choice(paths)}?{query}",
                              headers={"Prefer": rng.choice(["", "handling=strict"])})
        assert response.status_code < 500, (query, response.status_code, response.data[:300])
        if response.status_code >= 400:
            assert b"OperationOutcome" in response.data


def test_name_narrows_a_search_and_is_known_under_strict_handling(client, practice):
    patient = next(p for p in practice.index.summaries if p.sex in "MF")
    gender = {"M": "male", "F": "female"}[patient.sex]
    response = client.get(f"/fhir/Patient?family={patient.surname}&gender={gender}"
                          f"&name={patient.first_name[:3]}", headers={"Prefer": "handling=strict"})
    assert response.status_code == 200
    names = [e["resource"]["name"][0] for e in response.json.get("entry", [])]
    assert names and all(any(g.lower().startswith(patient.first_name[:3].lower())
                             for g in n.get("given", [])) or n["family"].lower().startswith(
        patient.first_name[:3].lower()) for n in names)


def test_a_fetched_record_is_mapped_and_validated_once_for_all_pages(client, practice, caplog):
    patient = patient_with_numerics(practice)
    patient_id = search(client, f"/fhir/Patient?identifier={patient.identity.value}"
                        )["entry"][0]["resource"]["id"]
    with caplog.at_level("INFO", logger="facade.records"):
        for offset in (0, 5, 10):
            search(client, f"/fhir/Observation?patient={patient_id}&_count=5&_offset={offset}")
        search(client, f"/fhir/Observation?patient={patient_id}&category=laboratory")
    mapped = [r for r in caplog.records if "record mapped" in r.getMessage()]
    assert len(mapped) == 1


def test_a_ctv3_code_finds_observations_returned_in_snomed(client, practice):
    """The facade asks SystmOne for SNOMED CT; callers may still search by CTV3."""
    patient_id, _ = observation_search(client, practice)
    weights = search(client, f"/fhir/Observation?patient={patient_id}"
                             "&code=http://snomed.info/sct|27113001")
    by_ctv3 = search(client, f"/fhir/Observation?patient={patient_id}"
                             "&code=http://read.info/ctv3|22A..")
    by_bare = search(client, f"/fhir/Observation?patient={patient_id}&code=22A..")
    by_loinc = search(client, f"/fhir/Observation?patient={patient_id}"
                              "&code=http://loinc.org|29463-7")
    assert weights["total"] > 0
    assert weights["total"] == by_ctv3["total"] == by_bare["total"] == by_loinc["total"]


# FHIR R4's :above, :below and :in need the code system's hierarchy or a value set; :iterate
# is an _include modifier: none is answered here, so each is refused rather than ignored.
@pytest.mark.parametrize("query", ["code:below=http://snomed.info/sct|27113001",
                                   "category:above=vital-signs", "code:in=http://x/vs",
                                   "date:iterate=2020"])
def test_unsupported_modifiers_are_refused_not_ignored(client, query):
    response = client.get(f"/fhir/Observation?patient=x&{query}")
    assert response.status_code == 400
    assert "modifier" in response.json["issue"][0]["diagnostics"]


def test_count_zero_gives_the_total_and_no_next_link(client, practice):
    patient_id, everything = observation_search(client, practice)
    bundle = search(client, f"/fhir/Observation?patient={patient_id}&_count=0")
    assert bundle["total"] == everything["total"] and "entry" not in bundle
    assert [link["relation"] for link in bundle["link"]] == ["self"]


@pytest.mark.parametrize("value", ["%00", "a%01b", "x%7F"])
def test_control_characters_are_a_400(client, value):
    response = client.get(f"/fhir/Patient?family={value}&gender=male")
    assert response.status_code == 400
    assert "control characters" in response.json["issue"][0]["diagnostics"]


def test_a_date_time_without_a_zone_is_read_as_london_time(client, practice):
    patient_id, everything = observation_search(client, practice)
    summer = next(r["effectiveDateTime"] for r in matches(everything)
                  if r["effectiveDateTime"].endswith("+01:00"))
    local = summer[:19]  # the same wall-clock time, no zone
    url = f"/fhir/Observation?patient={patient_id}&date="
    dated = [(r["id"], instant(r["effectiveDateTime"])) for r in matches(everything)]
    at = instant(summer)
    for prefix, expected in (("eq", [i for i, when in dated if when == at]),
                             ("ge", [i for i, when in dated if when >= at]),
                             ("lt", [i for i, when in dated if when < at])):
        assert expected, prefix  # each side of the instant holds some
        assert ids(every_page(client, f"{url}{prefix}{quote(summer)}")) == expected, prefix
        assert ids(every_page(client, f"{url}{prefix}{local}")) == expected, prefix


def test_date_prefixes_split_a_record_at_a_day_exactly(client, practice):
    """A day in the middle of a patient's observations: eq, ne, lt, le, gt, ge and a
    two-sided range each find exactly the observations the FHIR rules say, worked out
    here from their UTC instants."""
    patient_id, everything = observation_search(client, practice)
    dated = [(r["id"], instant(r["effectiveDateTime"]).date()) for r in matches(everything)]
    assert len(dated) == everything["total"]
    day = sorted(when for _, when in dated)[len(dated) // 2]
    url = f"/fhir/Observation?patient={patient_id}&date="
    rules = {"eq": lambda when: when == day, "ne": lambda when: when != day,
             "lt": lambda when: when < day, "le": lambda when: when <= day,
             "gt": lambda when: when > day, "ge": lambda when: when >= day}
    for prefix, rule in rules.items():
        expected = [i for i, when in dated if rule(when)]
        assert expected, prefix  # the day splits the record: no side is empty
        assert ids(every_page(client, f"{url}{prefix}{day.isoformat()}")) == expected, prefix
    month = f"{day:%Y-%m}"
    in_month = [i for i, when in dated if f"{when:%Y-%m}" == month]
    assert ids(every_page(client, f"{url}{month}")) == in_month
    between = every_page(client, f"{url}ge{month}-01&date=le{day}")
    assert ids(between) == [i for i, when in dated
                            if f"{when:%Y-%m}" == month and when <= day]


def test_read_honours_elements_and_summary_data(client, practice):
    patient = practice.index.summaries[0]
    found = search(client, f"/fhir/Patient?identifier={patient.identity.value}")
    url = f"/fhir/Patient/{found['entry'][0]['resource']['id']}"
    slim = search(client, f"{url}?_elements=name")
    assert set(slim) == {"resourceType", "id", "meta", "name"}
    assert slim["meta"]["tag"][-1]["code"] == "SUBSETTED"
    data = search(client, f"{url}?_summary=data")
    assert "text" not in data and "name" in data and data["meta"]["tag"][-1]["code"] == "SUBSETTED"
    full = search(client, url)
    assert "text" in full and "tag" not in full["meta"]
    assert full["managingOrganization"]["identifier"]["system"] == \
        "https://fhir.nhs.uk/Id/ods-organization-code"


def test_metadata_declares_the_supported_include(client):
    statement = search(client, "/fhir/metadata")
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    assert {"Observation:patient", "Observation:performer"} <= set(observation["searchInclude"])


@pytest.mark.parametrize(("url", "status", "code"), [
    ("/fhir/Observation?patient=Practitioner/abc", 400, "invalid"),
    ("/fhir/", 404, "not-found"),
])
def test_more_mistakes(client, url, status, code):
    response = client.get(url)
    assert response.status_code == status and response.json["issue"][0]["code"] == code


def test_a_cors_preflight_needs_no_token_and_answers_carry_cors_headers(api):
    client = api()
    client.environ_base.pop("HTTP_AUTHORIZATION")
    preflight = client.options("/fhir/Patient", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = client.get("/fhir/Patient?identifier=9990000018")
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"]


def test_with_the_audit_off_nothing_is_recorded_and_audit_searches_are_empty(api):
    client = api(audit_sink="off")
    response = client.get("/fhir/AuditEvent")
    assert response.status_code == 200 and response.json["total"] == 0
    assert "X-Request-ID" not in response.headers


def test_a_repeated_search_is_answered_with_the_same_bytes_until_the_record_changes(
        client, practice):
    patient_id, _ = observation_search(client, practice)
    url = f"/fhir/Observation?patient={patient_id}&_count=5"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert client.get(url + "&_pretty=true").data != first.data  # another rendering
    refreshed = client.get(url, headers={"Cache-Control": "no-cache"})  # a new version
    assert refreshed.status_code == 200
    after = client.get(url).get_json()
    assert after["entry"][0]["resource"]["meta"]["lastUpdated"] \
        == refreshed.get_json()["entry"][0]["resource"]["meta"]["lastUpdated"]


def test_every_record_type_is_searched_read_and_included_through_one_record(client, practice):
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                   and practice.record(p).find("Clinical/Event/RepeatMedication") is not None
                   and practice.record(p).find("Clinical/Event/ClinicalCode/ProblemUID")
                   is not None)
    pid = search(client, f"/fhir/Patient?identifier={summary.identity.value}"
                 )["entry"][0]["resource"]["id"]
    for resource_type in ("Observation", "Condition", "MedicationRequest",
                          "MedicationStatement", "Medication", "AllergyIntolerance",
                          "Immunization"):
        bundle = every_page(client, f"/fhir/{resource_type}?patient=Patient/{pid}")
        assert len(ids(bundle)) > 0, resource_type
        for resource in matches(bundle)[:3]:
            assert resource["resourceType"] == resource_type
            assert search(client, f"/fhir/{resource_type}/{resource['id']}") == resource
    # The drug's code finds its requests, through the Medication each one references.
    with_drugs = search(client, f"/fhir/MedicationRequest?patient={pid}&intent=plan"
                                "&_include=MedicationRequest:medication")
    plans = matches(with_drugs)
    drugs = [e["resource"] for e in with_drugs["entry"] if e["search"]["mode"] == "include"]
    assert plans and drugs and all(d["resourceType"] == "Medication" for d in drugs)
    drug = drugs[0]
    coding = drug["code"]["coding"][0]
    assert coding["system"] == "https://dmd.nhs.uk"  # FACADE_DRUG_SCHEME=Dmd by default
    found = matches(search(client, f"/fhir/MedicationRequest?patient={pid}"
                                   f"&code={coding['system']}|{coding['code']}"))
    assert found and {r["medicationReference"]["reference"] for r in found} == {
        f"Medication/{drug['id']}"}
    none = search(client, f"/fhir/MedicationRequest?patient={pid}&code=https://dmd.nhs.uk|1")
    assert none["total"] == 0
