"""UK Core DocumentReferences: SystmOne's Letter and Attachment items, one each.

A GetPatientRecord reply describes a document and names it by DocumentUID; the file
itself comes only through GetDocument, which this server calls when the document's
``Binary`` is read (mappings/binary.py). Following GP Connect's Access Document rules
where UK Core leaves a choice:

- status is ``current``: SystmOne returns only the document as it stands.
- type: a Letter's Type as SNOMED CT's "Record composition type" (UK Core DocumentType,
  conceptmaps.DOCUMENT_TYPE) where the type names exactly one, always with the Type as
  text; an Attachment has no type in SystmOne, so its text says that it is one.
- date is when it was filed in the record (the Event's time); a letter's date sent or
  received is said in its description, FHIR R4 having no element that means it.
- author: an Incoming letter's author is its sender, named as the letter names them
  (name and organisation, a display only: the sender is nobody the practice's metadata
  knows); everything else was written or attached by the clinician of the Event
  (fragments.RECORDER).
- description: an Attachment's Comments; a Letter's type, sender or recipient and date.
- content.attachment: title is the file name (a letter's: its type), size its FileSize
  in bytes, contentType the media type its extension names (a letter has no file name:
  none is guessed), url the
  ``Binary/[id]`` read on this server that fetches the file. GP Connect: documents over
  5 MB are not retrievable — such a document keeps its metadata, no url, and a title
  saying why.
- identifiers: the event item (as every resource) and the DocumentUID.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Link, Path, Required, Var, When

from . import systems
from .fragments import ENCOUNTER, EVENT, ITEM_IDENTIFIER, ITEM_KEY, RECORDER

RESOURCE = "DocumentReference"

#: GP Connect's limit on a document's size (Access Document: "over 5mb MUST NOT be
#: retrievable"); the Binary read refuses larger files too (facade/documents.py).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

#: FileSize as SystmOne writes it, "184320 bytes": the number of bytes.
_BYTES = "substring-before(normalize-space(FileSize), ' bytes')"
SIZE = When(f"number({_BYTES}) >= 0 and floor(number({_BYTES})) = number({_BYTES})",
            Path(_BYTES, via="decimal"))
TOO_LARGE = f"number({_BYTES}) > {MAX_DOCUMENT_BYTES}"

_SENT = "substring(normalize-space(DateSentReceived), 1, 10)"
_SENDER_NAME = "normalize-space(concat(SenderName/Title, ' ', SenderName/FirstName, ' ', " \
               "SenderName/Surname))"
#: An Incoming letter's sender as the letter names them: "Dr Imran Qadir, Aire Valley
#: Hospital" (either part may be missing).
SENDER = When("Direction = 'Incoming' and (normalize-space(SenderOrganisation) or "
              f"{_SENDER_NAME})",
              {"display": Path(f"concat({_SENDER_NAME}, "
                               f"substring(', ', 1, 2 * number({_SENDER_NAME} != '' and "
                               "normalize-space(SenderOrganisation) != '')), "
                               "normalize-space(SenderOrganisation))")})
_WHEN = ("concat(substring('received ', 1, 9 * (Direction = 'Incoming')), "
         "substring('sent ', 1, 5 * (Direction = 'Outgoing')), "
         "substring('dated ', 1, 6 * (Direction != 'Incoming' and Direction != 'Outgoing')))")
LETTER_DESCRIPTION = Path(
    "concat(normalize-space(Type), "
    "substring(concat(' from ', normalize-space(SenderOrganisation)), 1, "
    "  (Direction = 'Incoming' and normalize-space(SenderOrganisation) != '') * 500), "
    "substring(concat(' to ', normalize-space(RecipientOrganisation)), 1, "
    "  (Direction != 'Incoming' and normalize-space(RecipientOrganisation) != '') * 500), "
    f"substring(concat(', ', {_WHEN}, {_SENT}), 1, ({_SENT} != '') * 500))")

DOCUMENT_REFERENCE = {
    "resourceType": "DocumentReference",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_DOCUMENT_REFERENCE],
             "lastUpdated": Var("last_updated")},
    "identifier": [
        Include(ITEM_IDENTIFIER),
        {"system": systems.SYSTMONE_DOCUMENT, "value": Required(Path("DocumentUID"))},
    ],
    "status": "current",
    "type": When("self::Letter",
                 {"coding": [Path("normalize-space(Type)", map="document_type")],
                  "text": Path("Type", default="Letter")},
                 {"text": "Attachment"}),
    "subject": Var("patient"),
    "date": Path(f"{EVENT}/@DateTime", via="date_time"),
    "author": [When("self::Letter and Direction = 'Incoming'", SENDER, RECORDER)],
    "description": When("self::Letter", LETTER_DESCRIPTION, Path("Comments")),
    "context": {"encounter": [ENCOUNTER]},  # the SystmOne Event the document was filed in
    "content": [{"attachment": {
        "contentType": Path("FileName", via="file_extension", map="media_type"),
        "url": When(f"normalize-space(DocumentUID) and not({TOO_LARGE})",
                    Link("Binary", "normalize-space(DocumentUID)")),
        "size": SIZE,
        "title": When(TOO_LARGE,
                      Path("concat(normalize-space(FileName), ' (not available here: "
                           "larger than 5 MB)')"),
                      Path("FileName", "self::Letter/Type")),
    }}],
}

TEMPLATE = [Each("Clinical/Event/Letter | Clinical/Event/Attachment", DOCUMENT_REFERENCE)]

DECLARATION = Declaration(
    type="DocumentReference",
    profile=systems.UKCORE_DOCUMENT_REFERENCE,
    supported_profiles=(systems.UKCORE_DOCUMENT_REFERENCE,),
    sections=frozenset({"Letters", "Attachments"}),
    search_params=(
        patient_param("patient", "subject", definition=r4("clinical-patient")),
        SearchParam("date", "date", ("date",),
                    "when filed in the record; prefixes eq ne gt lt ge le sa eb ap; repeat for a "
                    "range.", definition=r4("DocumentReference-date")),
        SearchParam("type", "token", ("type.coding",),
                    "system|code or code: SNOMED CT record composition types (letters).",
                    definition=r4("clinical-type")),
        SearchParam("identifier", "token", ("identifier",),
                    "system|value: urn:systmone:id:document|[DocumentUID] or the event "
                    "item.", definition=r4("clinical-identifier")),
        SearchParam("status", "token", ("status",), "current.",
                    definition=r4("DocumentReference-status")),
        SearchParam("encounter", "reference", ("context.encounter",),
                    "Encounter/[id]: the SystmOne Event the document was filed in.",
                    definition=r4("clinical-encounter")),
    ),
    patient_params=("patient",),
    sort=("date",),
    includes=("patient",),
)
