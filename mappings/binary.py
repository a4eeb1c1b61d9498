"""Binary: the file behind a DocumentReference (its ``content.attachment.url``), fetched
from SystmOne through GetDocument only when it is read (facade/documents.py).

A read answers the file itself, as its media type, unless the client asks for a FHIR
format: then this resource, the file base64-encoded in ``data``. ``securityContext`` is
the patient whose record names the document: access to it is access to their record.
"""

from facade.mapping.declaration import DOCUMENT, Declaration
from facade.mapping.vocabulary import Var

from . import systems

RESOURCE = "Binary"

TEMPLATE = {
    "resourceType": "Binary",
    "id": Var("id"),
    "contentType": Var("content_type"),
    "securityContext": Var("patient"),
    "data": Var("data"),
}

DECLARATION = Declaration(
    type="Binary",
    profile=systems.BINARY,
    source=DOCUMENT,
    interactions=("read",),
    native_content=True,
)
