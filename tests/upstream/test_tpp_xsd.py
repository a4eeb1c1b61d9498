"""Every request the client emits validates against TPP's own XSD for its function.

TPP's XSDs (v1.0, 2022) lag the 2026 specification, and this test follows the
specification where they disagree. The deviations, applied to an in-memory
copy of TPP's schema and nowhere else:

1. Children of ``FunctionParameters`` and ``Identity`` are made optional.
   TPP's XSDs leave them at the default minOccurs=1 while their own comments
   say "at least two of the above optional elements" (PatientSearch) and
   "Either NHSNumber, PseudoNumber or ClientID is required, but only one";
   TPP's own request templates would fail otherwise.
2. ``OutputScheme`` is allowed after ``FunctionVersion``: the specification
   documents it for every request; the XSDs omit it.
3. GetPatientRecord gets the ``Filter`` element the specification documents
   (its content is checked against our own schema, which lists every filter).
4. ``FunctionVersion`` is declared ``xs:decimal`` fixed to ``1``; libxml2
   compares fixed values as text, so the "1.0" that the specification and all
   of TPP's templates send would fail. The copy fixes it to "1.0", the same
   decimal value.
5. GetDocument gets the ``WriteTo`` element (after ``DocumentUID``) that the
   specification documents and TPP's own GetDocument template sends: the folder
   on the SystmOne PC the document is written to. Without it the function
   cannot work at all.
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from facade.assure.conformance import deviated_tpp_schema
from facade.protocol import functions as fn
from facade.protocol import schemas
from facade.protocol.envelope import Response
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import parse_document
from facade.upstream.client import SystmOneClient
from facade.upstream.transport import InMemoryTransport

XS = "http://www.w3.org/2001/XMLSchema"
NS = {"xs": XS}


def tpp_schema(tpp_reference, function: str) -> etree.XMLSchema:
    """TPP's XSD for ``function`` with the documented deviations (facade assure's too)."""
    schema = deviated_tpp_schema(tpp_reference / "request-schemas" / f"{function}-v1.0.xsd")
    assert schema is not None, f"TPP publishes no request schema for {function}"
    return schema


def emitted(call) -> etree._Element:
    """The request document the client sends for ``call(client)``."""
    def answer(raw: bytes) -> bytes:
        request = parse_document(raw)
        body = etree.Element("Response")
        if request.findtext("Function") == "GetDocument":  # a reply must name a file
            etree.SubElement(body, "DocumentFile").text = "d:\\276740.doc"
        return Response("0123456789abcdef", request.findtext("RequestUID"),
                        request.findtext("Function"), "1.0", "X", body).to_bytes()
    transport = InMemoryTransport(answer)
    client = SystmOneClient(transport, api_key="f31e26725b5491f2")
    call(client)
    return parse_document(transport.requests[-1])


NHS = Identity.nhs_number("9990000018")
CASES = {
    "GetFunctions": [lambda c: c.get_functions()],
    "GetOrganisationMetaData": [lambda c: c.get_organisation_metadata(),
                                lambda c: c.get_organisation_metadata(True)],
    "PatientSearch": [
        lambda c: c.patient_search(fn.PatientSearchCriteria(first_name="D", surname="Littler")),
        lambda c: c.patient_search(fn.PatientSearchCriteria(
            date_of_birth=dt.date(2014, 3, 24), postcode="LS18 5TN")),
        lambda c: c.patient_search(fn.PatientSearchCriteria(
            "Drew", "O'Brien <&>]]>", dt.date(2014, 3, 24), "LS18", "01132050080", "M")),
    ],
    "GetPatientRecord": [
        lambda c: c.get_patient_record(NHS),
        lambda c: c.get_patient_record(Identity("PseudoNumber", "0002767317"), None, True),
        lambda c: c.get_patient_record(Identity("ClientID", "A1234BC")),
        lambda c: c.get_patient_record(None, None, True),
        lambda c: c.get_patient_record(NHS, fn.RecordFilter.demographics_only()),
        lambda c: c.get_patient_record(NHS, fn.RecordFilter(
            flags=frozenset(fn.FILTER_FLAGS), clinical_codes=("XE0s6", "XM1GI"),
            numerics=("229..",), done_by=("user99",), min_effective=dt.date(2014, 8, 25),
            max_effective=dt.date(2014, 8, 25), min_entry=dt.date(2014, 9, 1),
            max_entry=dt.date(2014, 9, 1))),
    ],
    "IsPatientRetrieved": [lambda c: c.is_patient_retrieved()],
    "GetDocument": [lambda c: c.get_document(NHS, "4093400000000000", "d:\\"),
                    lambda c: c.get_document(Identity("ClientID", "A1234BC"), "e2d4a1", "/x")],
}


@pytest.mark.parametrize("function", sorted(CASES))
def test_client_requests_validate_against_tpp_xsd(tpp_reference, function):
    schema = tpp_schema(tpp_reference, function)
    for call in CASES[function]:
        document = emitted(call)
        assert schema.validate(document), schema.error_log.last_error
        schemas.validate(document, f"{function}.request")  # ours, incl. the Filter


def test_tpp_schema_without_deviations_rejects_the_spec_example(tpp_reference):
    """Why deviation 1 exists: TPP's XSD as published rejects a two-criteria search."""
    tree = etree.parse(str(tpp_reference / "request-schemas" / "PatientSearch-v1.0.xsd"))
    document = emitted(lambda c: c.patient_search(fn.PatientSearchCriteria(
        first_name="D", surname="Littler")))
    document.remove(document.find("OutputScheme"))
    assert not etree.XMLSchema(tree).validate(document)
