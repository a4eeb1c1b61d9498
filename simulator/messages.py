"""Every error text the simulator sends, in one table.

TPP publishes only one text ("At least two search parameters must be
specified"); the others are ours, kept here so they can be corrected in one
place when real wording is observed. Each entry: (text template, permanent).
"""

from __future__ import annotations

ERRORS: dict[str, tuple[str, bool]] = {
    # Published by TPP.
    "too_few_criteria": ("At least two search parameters must be specified", True),
    "blocked": ("The request was blocked by the SystmOne user", True),
    # Ours.
    "not_xml": ("The request could not be read as XML: {detail}", True),
    "too_large": ("The request exceeds the maximum size of {limit} bytes", True),
    "invalid_root": ("Invalid root element '{root}': expected ClientIntegrationRequest", True),
    "invalid_request": ("Invalid {function} request: {detail}", True),
    "invalid_api_key": ("The API key is not recognised", True),
    "unknown_function": ("Unknown function '{function}'", True),
    "unsupported_version": ("Version '{version}' of function {function} is not supported", True),
    "invalid_scheme": ("Invalid output scheme: {detail}", True),
    "patient_not_found": ("No patient record matches the Identity given", True),
    "no_open_record": ("No Identity was given and no patient record is open", True),
    "throttled": ("GetPatientRecord is limited to one request per {interval:g} seconds; "
                  "try again later", False),
    "document_not_found": ("No document {uid} can be extracted from this patient's record",
                           True),
    "write_to_unusable": ("The folder {folder} does not exist or cannot be written to", True),
    "internal": ("The request could not be processed: {detail}", False),
}


def error_text(key: str, **values: object) -> tuple[str, bool]:
    template, permanent = ERRORS[key]
    return template.format(**values), permanent
