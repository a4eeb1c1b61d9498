"""The project's own XML Schemas for SystmOne Client Integration messages.

Schemas live in ``schemas/`` at the repository root (``facade/schemas`` inside
an installed wheel) and are named after their file without ``.xsd``, e.g.
``GetPatientRecord.request`` or ``patient-record``. They are compiled once,
from local files only, and :func:`validate` reports the first problem as a
:class:`SchemaViolation` whose text is ``"line N: message"``.

Besides the schema itself, :func:`validate` checks the root element's name:
the open parts of the patient record rely on global element declarations,
and XSD would accept any of those as a document root.
"""

from __future__ import annotations

import functools
import pathlib
import threading

from lxml import etree

_PACKAGED = pathlib.Path(__file__).resolve().parent.parent / "schemas"
_SOURCE_TREE = pathlib.Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_DIR: pathlib.Path = _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE

_SUFFIX = ".xsd"
# Schema names whose document root is not the usual envelope element.
_ROOTS = {"patient-record": "Response", "types": None}
# A compiled schema keeps its error log on itself, so one validation at a time.
_LOCK = threading.Lock()


class SchemaViolation(ValueError):
    """A document that does not conform to one of the project's schemas."""

    def __init__(self, message: str, line: int | None = None,
                 errors: tuple[str, ...] = ()) -> None:
        self.line = line
        self.message = " ".join(message.split())
        self.errors = errors or (self._format(line, self.message),)
        super().__init__(self._format(line, self.message))

    @staticmethod
    def _format(line: int | None, message: str) -> str:
        return f"line {line if line else '?'}: {message}"


def names() -> list[str]:
    """Every schema name available, sorted."""
    return sorted(path.name[: -len(_SUFFIX)] for path in SCHEMA_DIR.glob(f"*{_SUFFIX}"))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)


@functools.cache
def load(name: str) -> etree.XMLSchema:
    """The compiled schema ``name`` (e.g. ``"PatientSearch.request"``)."""
    if name not in names():
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(names())}")
    path = SCHEMA_DIR / f"{name}{_SUFFIX}"
    return etree.XMLSchema(etree.parse(str(path), _parser()))


def expected_root(name: str) -> str | None:
    """The root element a document validated against ``name`` must have."""
    if name in _ROOTS:
        return _ROOTS[name]
    if name.endswith(".request"):
        return "ClientIntegrationRequest"
    if name.endswith(".response"):
        return "ClientIntegrationResponse"
    return None


def validate(document: etree._Element | etree._ElementTree, name: str) -> None:
    """Raise :class:`SchemaViolation` unless ``document`` conforms to ``name``."""
    schema = load(name)
    root = document.getroot() if isinstance(document, etree._ElementTree) else document
    wanted = expected_root(name)
    if wanted is not None and root.tag != wanted:
        raise SchemaViolation(
            f"root element is {root.tag!r}, expected {wanted!r} for schema {name!r}",
            root.sourceline)
    with _LOCK:
        if schema.validate(document):
            return
        log = list(schema.error_log)
    errors = tuple(SchemaViolation._format(error.line, " ".join(error.message.split()))
                   for error in log)
    raise SchemaViolation(log[0].message, log[0].line, errors)
