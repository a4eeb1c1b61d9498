"""What the fuzz suite sends: values by FHIR search parameter type, built from what the
app declares, mixed with values the code does not know (huge and odd numbers, other
scripts' digits, far dates, bad prefixes, control characters, U+FFFE, surrogates, very
long values, empty values, repeated parameters) and malformed headers and bodies."""

from __future__ import annotations

import base64
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from facade.fhir.search import CONTROL_PARAMS, DATE_PREFIXES, UNSUPPORTED_PREFIXES

from .surface import Surface

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: Characters and fragments that broke, or could break, a parser somewhere.
NASTY = ["", " ", "  ", "\t", "\n", "\x00", "\x01", "\x1f", "\x7f", "\x85", "\u2028",
         "\ufffe", "\uffff", "\ud800", "\udfff", "\ufffd", "\u202e", "\u00a0", "\u3000",
         "%", "%zz", "%ff", "%00", "&", "=", "+", "#", ";", ",", "\\,", "\\", "|", "||", "/",
         "..", "../", "'", '"', "<", ">", "]]>", "<a>", "&amp;", "${x}", "{{x}}", "*", "?",
         "²", "٣", "\uff15", "\U0001f600", "é", "ß", "İ", "ﬃ", "Ω", "\u0301", "null", "None"]
#: Characters str.isdigit() (or isnumeric()) takes that are not ASCII digits.
DIGITS = ["²", "³", "¹", "٣", "۳", "५", "໓", "\uff15", "\U0001d7d3", "⑤", "½", "Ⅻ"]


def nasty() -> st.SearchStrategy[str]:
    """A fragment from NASTY, or text of any characters (surrogates among them)."""
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=12),
                     st.text(st.characters(categories=["Cs", "Cc", "Co", "Cn"]), max_size=6))


def long_text() -> st.SearchStrategy[str]:
    return st.builds(lambda part, times: part * times, st.sampled_from(["a", "é", "9", "%", " "]),
                     st.sampled_from([300, 5000, 40000]))


def mixed(known: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly what the code knows; sometimes worse; sometimes both glued together."""
    kinds = {"known": known, "nasty": nasty(), "long": long_text(),
             "after": st.builds(str.__add__, known, nasty()),
             "before": st.builds(str.__add__, nasty(), known)}
    return st.sampled_from(["known"] * 5 + ["nasty", "after", "before", "long"]).flatmap(
        kinds.__getitem__)


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-10, 1000).map(str),
                     st.integers(min_value=-(10**40), max_value=10**40).map(str),
                     st.sampled_from(["0", "00", "007", "1e3", "1.5", "-0", "+5", "0x10", "NaN",
                                      "inf", "9" * 19, "9" * 5000, "1_000", " 5", "5 "]),
                     st.sampled_from(DIGITS), st.builds(str.__add__, st.sampled_from(DIGITS),
                                                        st.sampled_from(["", "0", "5"])))


def dates() -> st.SearchStrategy[str]:
    year = st.one_of(st.integers(0, 10000).map(lambda y: f"{y:04d}"),
                     st.sampled_from(["0001", "9999", "2026", "1970", "10000", "99", "-001"]))
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    offset = st.sampled_from(["", "Z", "+14:00", "-14:00", "+00:00", "-00:00", "+99:99",
                              "+0100", "+01", "Z+01:00"])
    fraction = st.one_of(st.just(""), st.integers(1, 12).map(lambda n: "." + "9" * n))
    full = st.builds(lambda y, mo, d, h, mi, s, f, o: f"{y}-{mo}-{d}T{h}:{mi}:{s}{f}{o}",
                     year, two, two, two, two, two, fraction, offset)
    partial = st.one_of(year, st.builds(lambda y, m: f"{y}-{m}", year, two),
                        st.builds(lambda y, m, d: f"{y}-{m}-{d}", year, two, two))
    prefix = st.sampled_from(["", *DATE_PREFIXES, *UNSUPPORTED_PREFIXES, "GE", "xx", "e"])
    return st.builds(str.__add__, prefix, st.one_of(full, partial, partial,
                                                    st.sampled_from(["9999-12-31",
                                                                     "0001-01-01"])))


def tokens(surface: Surface) -> st.SearchStrategy[str]:
    systems = st.sampled_from(["", "http://loinc.org", "http://snomed.info/sct", NHS_SYSTEM,
                               "urn:x", "http://terminology.hl7.org/CodeSystem/"
                               "observation-category"])
    codes = st.sampled_from(["male", "female", "unknown", "vital-signs", "laboratory",
                             "85354-9", "8867-4", "active", "0", "4", "8", "read",
                             "search-type", "true", *surface.nhs_numbers,
                             *surface.patient_ids])
    one = st.one_of(codes, st.builds(lambda s, c: f"{s}|{c}", systems, codes),
                    st.builds(lambda s: f"{s}|", systems))
    return st.one_of(one, st.lists(one, min_size=2, max_size=3).map(",".join))


def references(surface: Surface) -> st.SearchStrategy[str]:
    ids = st.sampled_from(surface.patient_ids)
    return st.one_of(ids, ids.map("Patient/{}".format),
                     ids.map("http://localhost/fhir/Patient/{}".format),
                     st.sampled_from(["Group/1", "Patient/", "/", "Patient//x", "Patient/a/b",
                                      "Observation/1", "x" * 65]))


def strings(surface: Surface) -> st.SearchStrategy[str]:
    known = st.sampled_from([*surface.names, "Smith", "a", "Zoë", "O'Brien", "LS1 4AP"])
    return st.one_of(known, known.map(lambda name: name[:2]), st.text(max_size=20))


def values_for(kind: str, surface: Surface) -> st.SearchStrategy[str]:
    """Values of one FHIR search parameter type, mixed with what the code does not know."""
    by_type = {"date": dates(), "token": tokens(surface), "reference": references(surface),
               "string": strings(surface), "number": numbers()}
    return mixed(by_type.get(kind, st.text(max_size=20)))


def control_values(name: str, resource: dict) -> st.SearchStrategy[str]:
    known = {
        "_count": numbers(), "_offset": numbers(),
        "_format": st.sampled_from(["json", "xml", "application/fhir+json", "application/fhir "
                                    "xml", "text/xml", "html", "application/json;q=1", ""]),
        "_pretty": st.sampled_from(["true", "false", "yes"]),
        "_summary": st.sampled_from(["count", "data", "false", "true", "text"]),
        "_elements": st.lists(st.sampled_from(["code", "subject", "id", "meta", "text", "x",
                                               ""]), max_size=4).map(",".join),
        "_include": st.sampled_from([*resource.get("searchInclude", []), "*",
                                     f"{resource['type']}:nothing", "Patient:x"]),
    }
    return mixed(known.get(name, st.text(max_size=10)))


UNKNOWN = ["_sort", "_lastUpdated", "_total", "_revinclude", "_has", "_id:exact", "foo",
           "patient:missing", "date:x", "name:contains", "_count:x", "", " ", "a[0]",
           "\ufffe", "\x00", "é", "%zz"]


@st.composite
def search_params(draw, surface: Surface, resource: dict) -> list[tuple[str, str]]:
    """A search's parameters: declared ones by type, result parameters, unknown names;
    repeated, empty or hostile at times."""
    declared = [(p["name"], p.get("type", "string")) for p in resource.get("searchParam", [])]
    names = st.one_of(
        st.sampled_from(declared) if declared else st.nothing(),
        st.sampled_from([(name, "control") for name in CONTROL_PARAMS]),
        st.sampled_from([(name, "unknown") for name in UNKNOWN]),
        st.tuples(nasty(), st.just("unknown")))
    pairs = []
    for name, kind in draw(st.lists(names, max_size=4)):
        if kind == "control":
            values = control_values(name, resource)
        else:
            values = values_for(kind, surface) if kind != "unknown" else nasty()
        pairs += [(name, value) for value in draw(st.lists(values, min_size=1, max_size=2))]
    return pairs


def encoded(text: str) -> str:
    """Percent-encoded UTF-8; a lone surrogate as the bytes a careless encoder writes."""
    return quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def query_strings(draw, pairs: list[tuple[str, str]]) -> str:
    """The pairs encoded, with now and then raw garbage the decoder has to survive."""
    parts = [f"{encoded(name)}={encoded(value)}" for name, value in pairs]
    if draw(st.integers(0, 9)) == 0:
        parts.insert(draw(st.integers(0, len(parts))),
                     draw(st.sampled_from(["%", "%zz", "a=%", "&&", "=x", "a", ";", "==", "+",
                                           "%C0%AF", "%ED%A0%80", "%FF%FE", "a=b=c", "?"])))
    return "&".join(parts)


# -- headers ---------------------------------------------------------------------------

HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=40)


def authorizations(surface: Surface) -> st.SearchStrategy[str | None]:
    valid = st.builds(lambda: "Bearer " + surface.token())
    garbage = st.one_of(HEADER_TEXT, st.sampled_from([
        "", "Bearer", "Bearer ", "Bearer a.b.c", "Bearer ....", "Bearer eyJ.eyJ.x", "bearer x",
        "Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        "Basic " + base64.b64encode(b"nocolon").decode(), "Negotiate x", "Bearer " + "a" * 5000]))
    corrupted = st.builds(lambda extra: "Bearer " + surface.token() + extra,
                          st.sampled_from(["x", ".", " x", "=="]))
    # Hypothesis favours odd branches of one_of: the valid token is chosen by weight.
    kinds = {"valid": valid, "garbage": garbage, "corrupted": corrupted, "none": st.none()}
    return st.sampled_from(["valid"] * 12 + ["garbage", "corrupted", "none"]).flatmap(
        kinds.__getitem__)


def headers(surface: Surface) -> st.SearchStrategy[dict[str, str]]:
    optional = {
        "Accept": st.one_of(st.sampled_from(["*/*", "application/fhir+json", "application/json",
                                             "application/fhir+xml", "text/html", "text/xml",
                                             "application/json;q=0", ";;;", "*/*;q=abc",
                                             "application/fhir+json; fhirVersion=4.0"]),
                            HEADER_TEXT),
        "Prefer": st.one_of(st.sampled_from(["handling=strict", "handling=lenient",
                                             "handling = strict", "return=minimal"]),
                            HEADER_TEXT),
        "Cache-Control": st.one_of(st.sampled_from(["no-cache", "max-age=0"]), HEADER_TEXT),
        "If-None-Match": st.one_of(st.sampled_from(['W/"x"', "*", ""]), HEADER_TEXT),
        "X-Request-ID": HEADER_TEXT,
        # Tokens name http://localhost/fhir: another name is mostly a 401 or a 421.
        "Host": st.sampled_from(["localhost"] * 8 + ["evil.example", "localhost:99999",
                                                     "[::1]", "", "127.0.0.1:8080"]),
        "X-Forwarded-For": st.sampled_from(["10.0.0.1", "garbage", ""]),
    }
    return st.builds(lambda chosen, auth: {k: v for k, v in
                                           {**chosen, "Authorization": auth}.items()
                                           if v is not None},
                     st.fixed_dictionaries({}, optional=optional), authorizations(surface))


CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; "
                 "charset=latin-1", "application/json", "multipart/form-data",
                 "multipart/form-data; boundary=x", "text/plain", "", ";", "application/"
                 "x-www-form-urlencoded; charset=utf-8; charset=nope"]


def bodies() -> st.SearchStrategy[bytes]:
    """Form bodies, and bytes that only claim to be one."""
    return st.one_of(st.binary(max_size=200), st.just(b"a=%zz&b=%ff&=&&"),
                     st.just(b"\xff\xfe=\x00"), st.just(b"a=" + b"x" * 100_000),
                     st.just(b"--x\r\nContent-Disposition: form-data\r\n\r\n\r\n--x--"))
