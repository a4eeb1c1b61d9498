"""Property-based fuzzing of the whole HTTP surface, in-process (Flask's test client)
against an app over the built-in simulator: no 5xx for bad input, every 4xx under /fhir
an OperationOutcome, every answer in bounded time (surface.py says the properties).

Deterministic in CI (derandomize, no example database, no deadline); FACADE_FUZZ_EXAMPLES
sets the number of cases across the suite (2,400 by default; bench/fuzz.py runs more).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..auth.forge import ASSERTION_TYPE, assertion
from .strategies import (
    CONTENT_TYPES,
    bodies,
    encoded,
    headers,
    nasty,
    query_strings,
    search_params,
)
from .surface import EXAMPLES, FUZZ_CLIENT, Surface, send

#: Each test's share of the cases.
SHARES = {"search": 0.38, "search_by_post": 0.12, "read": 0.12, "token": 0.16,
          "introspect": 0.06, "routes": 0.16}
METHODS = ["GET", "GET", "GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"]


def budget(test: str):
    return settings(max_examples=max(1, int(EXAMPLES * SHARES[test])), derandomize=True,
                    database=None, deadline=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))


def resource_types(surface: Surface) -> st.SearchStrategy[dict]:
    return st.sampled_from(list(surface.resources.values()))


@budget("search")
@given(data=st.data())
def test_searches(surface, data):
    """Every type's declared parameters by their type, result parameters, unknown names."""
    resource = data.draw(resource_types(surface))
    pairs = data.draw(search_params(surface, resource))
    query = data.draw(query_strings(pairs))
    method = data.draw(st.sampled_from(["GET"] * 8 + ["HEAD"]))
    send(surface, method, f"/fhir/{resource['type']}?{query}", headers=data.draw(headers(surface)),
         label="search")


@budget("search_by_post")
@given(data=st.data())
def test_searches_by_post(surface, data):
    resource = data.draw(st.one_of(resource_types(surface),
                                   st.fixed_dictionaries({"type": nasty().map(encoded)})))
    query = data.draw(query_strings(data.draw(search_params(surface, resource))))
    body = data.draw(st.one_of(st.just(query.encode()), bodies()))
    asked = data.draw(headers(surface))
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    url_query = data.draw(st.sampled_from(["", "?_count=1", "?_format=xml", "?patient=x"]))
    send(surface, "POST", f"/fhir/{resource['type']}/_search{url_query}",
         headers={**asked, "Content-Type": content_type}, data=body, label="search_by_post")


@budget("read")
@given(data=st.data())
def test_reads(surface, data):
    resource = data.draw(resource_types(surface))
    known = surface.resource_ids.get(resource["type"], []) or surface.patient_ids
    resource_id = data.draw(st.one_of(st.sampled_from(known), st.sampled_from(surface.patient_ids),
                                      nasty(), st.text(max_size=70),
                                      st.sampled_from(["a" * 64, "a" * 65, "-", ".", "..",
                                                       "_search", "_history", "%2F"])))
    extras = data.draw(st.sampled_from(["", "?_elements=id", "?_summary=data", "?_summary=x",
                                        "?_format=xml", "?_format=nope", "?_pretty=true"]))
    send(surface, data.draw(st.sampled_from(METHODS)),
         f"/fhir/{resource['type']}/{encoded(resource_id)}{extras}",
         headers=data.draw(headers(surface)), label="read")


CLAIM_VALUES = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=10),
                         st.booleans(), st.floats(allow_nan=False), st.lists(st.integers(),
                                                                             max_size=2))


@budget("token")
@given(data=st.data())
def test_token_requests(surface, data):
    """Forms with fields missing, repeated or wrong; assertions with claims of any type;
    Basic and other Authorization headers; bodies that are not forms."""
    claims = data.draw(st.dictionaries(st.sampled_from(["iss", "sub", "aud", "exp", "iat", "nbf",
                                                        "jti"]), CLAIM_VALUES, max_size=3))
    signed = assertion(surface.client_key, FUZZ_CLIENT, **claims)
    form = data.draw(st.fixed_dictionaries({}, optional={
        "grant_type": st.sampled_from(["client_credentials", "", "password", "x"]),
        "scope": st.one_of(st.sampled_from(["system/Patient.rs", "system/*.rs", "patient/*.rs",
                                            "system/Observation.read openid", "", "x/y.z"]),
                           nasty()),
        "client_assertion_type": st.sampled_from([ASSERTION_TYPE, "", "x"]),
        "client_assertion": st.one_of(st.just(signed), st.sampled_from(["", "a.b.c", "...",
                                                                        signed + "x"]), nasty()),
        "client_id": st.one_of(st.just(FUZZ_CLIENT), nasty()),
        "client_secret": nasty()}))
    body = data.draw(st.one_of(st.just(_form(form)), st.just(_form(form) * 2), bodies()))
    asked = {key: value for key, value in data.draw(headers(surface)).items()
             if key != "Authorization" or data.draw(st.booleans())}
    send(surface, data.draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT", "OPTIONS"])),
         "/auth/token", headers={**asked, "Content-Type": data.draw(st.sampled_from(
             CONTENT_TYPES[:1] * 4 + CONTENT_TYPES))}, data=body, label="token")


def _form(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields.items()).encode()


@budget("introspect")
@given(data=st.data())
def test_introspection(surface, data):
    token = data.draw(st.one_of(st.builds(surface.token), nasty(), st.just("")))
    body = data.draw(st.one_of(st.just(f"token={encoded(token)}".encode()), bodies()))
    send(surface, data.draw(st.sampled_from(["POST"] * 4 + ["GET"])), "/auth/introspect",
         headers={**data.draw(headers(surface)), "Content-Type": data.draw(
             st.sampled_from(CONTENT_TYPES))}, data=body, label="introspect")


ROUTES = ["/fhir/metadata", "/fhir/.well-known/smart-configuration", "/auth/jwks", "/healthz",
          "/readyz", "/metrics", "/", "/fhir", "/fhir/", "/fhir/Patient/x/_history",
          "/fhir/$export", "/fhir/Patient/$everything", "/static/x", "/fhir/%ff", "/fhir/a/b/c/d",
          "/auth", "/auth/token/x", "/fhir/Observation/_search/x", "/fhir/metadata/x"]


@budget("routes")
@given(data=st.data())
def test_every_other_route(surface, data):
    """Discovery, the CapabilityStatement, JWKS, health and paths nobody serves, by any
    method, with any headers and query."""
    path = data.draw(st.one_of(st.sampled_from(ROUTES),
                               nasty().map(lambda text: "/fhir/" + encoded(text))))
    query = data.draw(st.one_of(st.just(""), st.sampled_from(
        ["?_format=xml", "?_format=x", "?_pretty=true", "?_summary=count"]),
        nasty().map(lambda text: "?" + encoded(text))))
    send(surface, data.draw(st.sampled_from(METHODS)), path + query,
         headers=data.draw(headers(surface)), data=data.draw(st.one_of(st.none(), bodies())),
         label="routes")
