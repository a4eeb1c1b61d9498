"""Edges of the protocol layer that mutation testing found untested: size limits at their
bounds, the Filter as TPP's example writes it, the OutputScheme's defaults, identities
with spaces, DTDs the framer must never load, the packaged schemas' place.

Expected values are written here from TPP's specification (v33.4: the GetPatientRecord
request example and the OutputScheme table) or from the facade's documented limits.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import pytest
from lxml import etree

from facade.protocol import schemas
from facade.protocol.envelope import OutputScheme
from facade.protocol.framing import FrameDecoder, FrameTooLarge
from facade.protocol.functions import RecordFilter
from facade.protocol.identity import Identity, IdentityError
from facade.protocol.xmlsafe import MalformedDocument, parse_document

MIB = 1024 * 1024

# --- size limits -------------------------------------------------------------------------


def test_the_default_limit_is_32_mib_of_pending_bytes():
    """32 MiB unfinished is still waited on; one byte more is refused."""
    decoder = FrameDecoder()
    start = b"<ClientIntegrationResponse>"
    assert decoder.feed(start + b"x" * (32 * MIB - len(start))) == []
    with pytest.raises(FrameTooLarge, match=f"exceeds {32 * MIB} bytes"):
        decoder.feed(b"x")


@pytest.mark.parametrize(("pending", "refused"), [(63, False), (64, False), (65, True)])
def test_pending_bytes_are_refused_only_beyond_the_limit(pending, refused):
    decoder = FrameDecoder(max_size=64)
    start = b"<ClientIntegrationResponse>"
    data = start + b"x" * (pending - len(start))
    if refused:
        with pytest.raises(FrameTooLarge):
            decoder.feed(data)
    else:
        assert decoder.feed(data) == [] and decoder.pending == pending


@pytest.mark.parametrize(("size", "refused"), [(31, False), (32, False), (33, True)])
def test_a_document_is_parsed_up_to_its_limit_exactly(size, refused):
    document = b"<A>" + b"x" * (size - 7) + b"</A>"
    assert len(document) == size
    if refused:
        with pytest.raises(MalformedDocument, match="exceeds 32 bytes"):
            parse_document(document, max_size=32)
    else:
        assert parse_document(document, max_size=32).tag == "A"


def test_documents_back_to_back_are_split_without_losing_a_byte():
    assert FrameDecoder().feed(b"<A>1</A><A>2</A>\n") == [b"<A>1</A>", b"<A>2</A>"]


# --- DTDs ---------------------------------------------------------------------------------


def test_a_doctype_first_is_refused_before_parsing():
    """Refused as a DTD even when the rest could not be parsed at all."""
    with pytest.raises(MalformedDocument, match=r"^DTDs and entity declarations are not allowed$"):
        parse_document(b"<!DOCTYPE a><a>")


def test_the_framer_never_loads_a_dtd_a_document_names(tmp_path):
    """Waiting for the rest of a prolog must not read files the peer names: a DTD that
    is broken on disk changes nothing (the document is refused later, for its DOCTYPE)."""
    broken = tmp_path / "broken.dtd"
    broken.write_text("<!ELEMENT garbage")
    decoder = FrameDecoder(detect_malformed=True)
    assert decoder.feed(f'<!DOCTYPE a SYSTEM "{broken.as_uri()}" [\n'.encode()) == []
    assert decoder.pending > 0


# --- the Filter, as TPP's example writes it --------------------------------------------------

# TPP spec v33.4, GetPatientRecord request example: dates, then the flags in schema order,
# each ClinicalCode after ClinicalCodes and each Numeric after Vaccinations, UserNameDoneBy
# last.
SPEC_FILTER = (
    "<Filter><MinEffectiveDate>2014-08-25</MinEffectiveDate>"
    "<MaxEffectiveDate>2014-08-25</MaxEffectiveDate>"
    "<MinEntryDate>2014-09-01</MinEntryDate><MaxEntryDate>2014-09-01</MaxEntryDate>"
    "<Demographics/><ClinicalCodes/><ClinicalCode>XE0s6</ClinicalCode>"
    "<ClinicalCode>XM1GI</ClinicalCode><Medication/><Vaccinations/><Numeric>229..</Numeric>"
    "<UserNameDoneBy>user99</UserNameDoneBy></Filter>")


def test_the_filter_is_written_as_tpps_example():
    written = RecordFilter(
        flags=frozenset({"Demographics", "ClinicalCodes", "Medication", "Vaccinations"}),
        clinical_codes=("XE0s6", "XM1GI"), numerics=("229..",), done_by=("user99",),
        min_effective=dt.date(2014, 8, 25), max_effective=dt.date(2014, 8, 25),
        min_entry=dt.date(2014, 9, 1), max_entry=dt.date(2014, 9, 1)).to_element()
    assert etree.tostring(written).decode() == SPEC_FILTER


@pytest.mark.parametrize("field", ["min_effective", "max_effective", "min_entry", "max_entry"])
def test_any_date_narrows_a_filter(field):
    assert RecordFilter(**{field: dt.date(2020, 1, 1)}).narrows_by_date_or_user
    assert not RecordFilter(flags=frozenset({"Demographics"})).narrows_by_date_or_user
    assert RecordFilter(done_by=("user99",)).narrows_by_date_or_user


# --- OutputScheme -------------------------------------------------------------------------

def test_omitted_schemes_are_systmones_defaults():
    """TPP: Drugs "If omitted, the SystmOne default of Multilex will be used"; codes are
    CTV3 by default."""
    scheme = OutputScheme(codes=None, drugs=None)
    assert (scheme.effective_codes, scheme.effective_drugs) == ("CTV3", "Multilex")
    assert OutputScheme(codes="Snomed", drugs="Dmd").effective_drugs == "Dmd"


# --- identities ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", " 9990000018", "9990000018 ", " "])
def test_an_identity_with_spaces_or_nothing_is_refused(value):
    with pytest.raises(IdentityError, match="without spaces"):
        Identity("PseudoNumber", value)


# --- the packaged schemas -----------------------------------------------------------------

def test_an_installed_package_finds_its_schemas_beside_it(tmp_path):
    """Installed, the schemas lie in facade/schemas (the wheel's layout), not in a source
    tree's schemas/: the loader must find them there."""
    package = tmp_path / "site" / "facade"
    (package / "protocol").mkdir(parents=True)
    (package / "schemas").mkdir()
    source = Path(__file__).resolve().parents[2] / "facade" / "protocol" / "schemas.py"
    shutil.copy(source, package / "protocol" / "schemas.py")
    spec = importlib.util.spec_from_file_location("installed_schemas",
                                                  package / "protocol" / "schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert package / "schemas" == module.SCHEMA_DIR


def test_a_syntax_error_names_its_place_once_and_libxml2s_words():
    with pytest.raises(MalformedDocument) as refused:
        parse_document(b"<a><b></a>")
    assert str(refused.value) == ("not well-formed at line 1, column 11: "
                                  "Opening and ending tag mismatch: b line 1 and a")


@pytest.mark.parametrize(("name", "root"), [
    ("envelope.request", "ClientIntegrationRequest"),
    ("envelope.response", "ClientIntegrationResponse"),
    ("patient-record", "Response"), ("types", None)])
def test_each_schema_names_the_root_its_documents_have(name, root):
    assert schemas.expected_root(name) == root
