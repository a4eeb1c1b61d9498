"""DocumentReference from Letter and Attachment items, against hand-written expectations
(tests/ukcore/expectations.py: UK Core's DocumentType reference set, media types, GP
Connect's 5 MB rule), never against the tables in mappings/."""

from __future__ import annotations

import pytest
from lxml import etree

from facade.mapping.registry import map_resources
from tests.ukcore import expectations as ux

PATIENT = {"reference": "Patient/patient-1"}


def record(items: str, when: str = "2024-02-05T10:20:30") -> etree._Element:
    return etree.fromstring(
        "<Response><Identity><NHSNumber>9990000077</NHSNumber></Identity><Clinical>"
        f'<Event DateTime="{when}" DoneAt="Surgery" DoneBy="ROSS, Kim (Practice Nurse) " '
        f'EventUID="d0c0000000000009" UserName="kross">{items}</Event>'
        "</Clinical></Response>")


def letter(kind: str, direction: str = "Incoming", extra: str = "") -> str:
    return ("<Letter><RecipientOrganisation>Riverside Surgery</RecipientOrganisation>"
            "<SenderName><Title>Dr</Title><FirstName>Ada</FirstName><Surname>Wynn</Surname>"
            "</SenderName><SenderOrganisation>Vale Hospital</SenderOrganisation>"
            f"<DocumentUID>4093400000000010</DocumentUID><Type>{kind}</Type>"
            f"<Direction>{direction}</Direction>"
            f"<DateSentReceived>2024-02-01T08:00:00</DateSentReceived>{extra}</Letter>")


def attachment(name: str, size: str = "1024 bytes", uid: str = "4093400000000011") -> str:
    return (f"<Attachment><FileName>{name}</FileName><FileSize>{size}</FileSize>"
            f"<DocumentUID>{uid}</DocumentUID><Comments>Scanned.</Comments></Attachment>")


def mapped(items: str, **kwargs) -> list[dict]:
    return map_resources("documentreference", record(items, **kwargs), patient=PATIENT)


@pytest.mark.parametrize("kind", sorted(ux.DOCUMENT_TYPES))
def test_a_letter_type_ukcore_names_is_coded_from_the_reference_set(kind):
    [reference] = mapped(letter(kind))
    code, display = ux.DOCUMENT_TYPES[kind]
    assert reference["type"] == {
        "coding": [{"system": ux.SNOMED, "code": code, "display": display}], "text": kind}


@pytest.mark.parametrize("kind", ux.DOCUMENT_TYPES_AS_TEXT)
def test_other_letter_types_stay_text(kind):
    [reference] = mapped(letter(kind.replace("&", "&amp;")))
    assert reference["type"] == {"text": kind}


@pytest.mark.parametrize("extension", sorted(ux.MEDIA_TYPES))
def test_an_attachments_media_type_comes_from_its_extension(extension):
    for name in (f"scan.{extension}", f"Scan.v2.{extension.upper()}"):
        [reference] = mapped(attachment(name))
        assert reference["content"][0]["attachment"]["contentType"] == \
            ux.MEDIA_TYPES[extension], name


def test_an_incoming_letter_is_the_senders_and_names_its_document():
    [reference] = mapped(letter("Discharge summary"), when="2024-07-05T10:20:30")
    assert reference["meta"]["profile"] == [ux.UKCORE_DOCUMENT_REFERENCE]
    assert reference["status"] == "current"
    assert reference["subject"] == PATIENT
    assert reference["date"] == "2024-07-05T10:20:30+01:00"  # BST
    assert reference["author"] == [{"display": "Dr Ada Wynn, Vale Hospital"}]
    assert reference["description"] == "Discharge summary from Vale Hospital, received " \
                                       "2024-02-01"
    assert {"system": "urn:systmone:id:document", "value": "4093400000000010"} \
        in reference["identifier"]
    assert {"system": "urn:systmone:id:event-item", "value": "d0c0000000000009-Letter-0"} \
        in reference["identifier"]
    attachment_ = reference["content"][0]["attachment"]
    assert attachment_["url"] == "Binary/4093400000000010"  # the key: no id function here
    assert "contentType" not in attachment_ and "size" not in attachment_  # not said


def test_an_outgoing_letter_and_an_attachment_are_the_clinicians():
    references = mapped(letter("Referral letter", "Outgoing") + attachment("ECG.pdf"))
    assert len(references) == 2
    for reference in references:
        assert reference["author"][0]["display"] == "ROSS, Kim (Practice Nurse)"
    assert references[0]["description"] == "Referral letter to Riverside Surgery, sent " \
                                           "2024-02-01"
    assert references[1]["type"] == {"text": "Attachment"}
    assert references[1]["description"] == "Scanned."
    assert references[1]["content"][0]["attachment"] == {
        "contentType": "application/pdf", "url": "Binary/4093400000000011", "size": 1024,
        "title": "ECG.pdf"}


def test_a_document_over_5_mb_is_described_without_a_url():
    limit = ux.DOCUMENT_LIMIT_BYTES
    [at_limit, over] = mapped(attachment("a.pdf", f"{limit} bytes")
                              + attachment("b.pdf", f"{limit + 1} bytes", "4093400000000012"))
    assert at_limit["content"][0]["attachment"]["url"] == "Binary/4093400000000011"
    assert "url" not in over["content"][0]["attachment"]
    assert over["content"][0]["attachment"]["size"] == limit + 1
    assert "larger than 5 MB" in over["content"][0]["attachment"]["title"]


@pytest.mark.parametrize("size", ["about 2 MB", "", "-5 bytes x", "bytes"])
def test_a_file_size_that_is_not_bytes_is_left_out(size):
    [reference] = mapped(attachment("a.pdf", size))
    assert "size" not in reference["content"][0]["attachment"]
    assert reference["content"][0]["attachment"]["url"] == "Binary/4093400000000011"
