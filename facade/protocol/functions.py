"""Parameters of the functions the product uses, and the throttle rule they imply.

Each parameter object writes its ``FunctionParameters`` element (in the order
of TPP's XSDs and specification) and reads one back leniently, so the client
and the simulator share a single definition of every field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from .identity import Identity
from .xmlsafe import text_of

GET_FUNCTIONS = "GetFunctions"
GET_ORGANISATION_METADATA = "GetOrganisationMetaData"
PATIENT_SEARCH = "PatientSearch"
GET_PATIENT_RECORD = "GetPatientRecord"
IS_PATIENT_RETRIEVED = "IsPatientRetrieved"
GET_DOCUMENT = "GetDocument"


def parameters_element(*children: etree._Element) -> etree._Element:
    element = etree.Element("FunctionParameters")
    element.extend(children)
    return element


def _leaf(tag: str, text: str | None = None) -> etree._Element:
    element = etree.Element(tag)
    element.text = text
    return element


def _date(text: str | None, name: str) -> dt.date | None:
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date in the format CCYY-MM-DD, not {text!r}") from None


# --- PatientSearch -----------------------------------------------------------

@dataclass(frozen=True)
class PatientSearchCriteria:
    """SystmOne's search constraints; at least two must be given (TPP's rule)."""

    first_name: str | None = None
    surname: str | None = None
    date_of_birth: dt.date | None = None
    postcode: str | None = None
    telephone: str | None = None
    gender: str | None = None  # "M" or "F"

    _TAGS = {"first_name": "FirstName", "surname": "Surname", "date_of_birth": "DateOfBirth",
             "postcode": "PostCode", "telephone": "Telephone", "gender": "Gender"}

    def given(self) -> dict[str, str]:
        """The constraints present, by element name, in TPP's XSD order. A blank one
        (spaces only) is absent: SystmOne reads element text stripped, so it would not
        count towards the two."""
        values = {}
        for name, tag in self._TAGS.items():
            value = getattr(self, name)
            if isinstance(value, dt.date):
                values[tag] = value.isoformat()
            elif value is not None and value.strip():
                values[tag] = value
        return values

    def to_parameters(self) -> etree._Element:
        return parameters_element(*(_leaf(tag, text) for tag, text in self.given().items()))

    @classmethod
    def from_parameters(cls, parameters: etree._Element | None) -> PatientSearchCriteria:
        values = {name: text_of(parameters, tag) or None for name, tag in cls._TAGS.items()}
        values["date_of_birth"] = _date(values["date_of_birth"], "DateOfBirth")
        return cls(**values)


# --- GetPatientRecord --------------------------------------------------------

#: Filter flags (empty elements), in the specification's order.
FILTER_FLAGS = (
    "Appointments", "CarePlans", "Demographics", "ClinicalCodes", "Letters", "Medication",
    "Sensitivities", "Recalls", "Referrals", "Relationships", "Results", "Vaccinations",
    "Reminders", "Activity", "Attachments", "Narrative", "Visits", "Tasks",
)
_DATE_TAGS = {"min_effective": "MinEffectiveDate", "max_effective": "MaxEffectiveDate",
              "min_entry": "MinEntryDate", "max_entry": "MaxEntryDate"}
_VALUED_TAGS = {"clinical_codes": "ClinicalCode", "numerics": "Numeric",
                "done_by": "UserNameDoneBy"}
_FLAG_SET = frozenset(FILTER_FLAGS)
_DATE_BY_TAG = {tag: name for name, tag in _DATE_TAGS.items()}
_VALUED_BY_TAG = {tag: name for name, tag in _VALUED_TAGS.items()}


@dataclass(frozen=True)
class RecordFilter:
    """GetPatientRecord's ``Filter``: which parts of the record, from when, by whom.

    ``flags`` holds the empty-element filters (``Demographics``, ``Medication``...);
    ``clinical_codes`` and ``numerics`` hold CTV3 codes; ``done_by`` user names.
    """

    flags: frozenset[str] = frozenset()
    clinical_codes: tuple[str, ...] = ()
    numerics: tuple[str, ...] = ()
    done_by: tuple[str, ...] = ()
    min_effective: dt.date | None = None
    max_effective: dt.date | None = None
    min_entry: dt.date | None = None
    max_entry: dt.date | None = None

    def __post_init__(self) -> None:
        unknown = set(self.flags) - set(FILTER_FLAGS)
        if unknown:
            raise ValueError(f"unknown filter flag(s): {', '.join(sorted(unknown))}")

    @classmethod
    def demographics_only(cls) -> RecordFilter:
        return cls(flags=frozenset({"Demographics"}))

    @classmethod
    def entered_on(cls, day: dt.date, **kwargs) -> RecordFilter:
        """Everything (or the given parts) entered on one day."""
        return cls(min_entry=day, max_entry=day, **kwargs)

    @property
    def selects_types(self) -> bool:
        """True when the filter names data types; False means every type."""
        return bool(self.flags or self.clinical_codes or self.numerics)

    @property
    def narrows_by_date_or_user(self) -> bool:
        """True when dates or UserNameDoneBy cut down what the types select."""
        dates = (self.min_effective, self.max_effective, self.min_entry, self.max_entry)
        return bool(self.done_by) or any(date is not None for date in dates)

    def exempt_from_record_throttle(self, today: dt.date) -> bool:
        """TPP's exceptions to one GetPatientRecord per 30 s.

        Exempt are a filter that asks only for demographics, and one whose
        MinEntryDate and MaxEntryDate are both today (the client's local date).
        """
        demographics_only = (self.flags == {"Demographics"}
                             and not self.clinical_codes and not self.numerics)
        entered_today = self.min_entry == today and self.max_entry == today
        return demographics_only or entered_today

    def to_element(self) -> etree._Element:
        element = etree.Element("Filter")
        for name, tag in _DATE_TAGS.items():
            value = getattr(self, name)
            if value is not None:
                element.append(_leaf(tag, value.isoformat()))
        for flag in FILTER_FLAGS:
            if flag in self.flags:
                element.append(_leaf(flag))
            if flag == "ClinicalCodes":
                element.extend(_leaf("ClinicalCode", code) for code in self.clinical_codes)
            if flag == "Vaccinations":
                element.extend(_leaf("Numeric", code) for code in self.numerics)
        element.extend(_leaf("UserNameDoneBy", user) for user in self.done_by)
        return element

    @classmethod
    def from_element(cls, element: etree._Element) -> RecordFilter:
        """Read a Filter in any order; raises ValueError naming a bad value."""
        valued: dict[str, list[str]] = {name: [] for name in _VALUED_TAGS}
        dates: dict[str, dt.date | None] = dict.fromkeys(_DATE_TAGS)
        flags = set()
        for child in element:
            if not isinstance(child.tag, str):
                continue
            text = (child.text or "").strip()
            if child.tag in _FLAG_SET:
                flags.add(child.tag)
            elif child.tag in _VALUED_BY_TAG:
                valued[_VALUED_BY_TAG[child.tag]].append(text)
            elif child.tag in _DATE_BY_TAG:
                dates[_DATE_BY_TAG[child.tag]] = _date(text, child.tag)
            else:
                raise ValueError(f"unknown Filter element {child.tag}")
        return cls(flags=frozenset(flags), **{k: tuple(v) for k, v in valued.items()}, **dates)


@dataclass(frozen=True)
class RecordRequest:
    """GetPatientRecord's parameters. No identity means the record open in the UI."""

    identity: Identity | None
    filter: RecordFilter | None = None
    leave_record_open: bool = False

    def to_parameters(self) -> etree._Element:
        children = []
        if self.identity is not None:
            children.append(self.identity.to_element())
        if self.leave_record_open:
            children.append(_leaf("LeaveRecordOpen"))
        if self.filter is not None:
            children.append(self.filter.to_element())
        return parameters_element(*children)

    @classmethod
    def from_parameters(cls, parameters: etree._Element | None) -> RecordRequest:
        if parameters is None:
            return cls(identity=None)
        identity = parameters.find("Identity")
        record_filter = parameters.find("Filter")
        return cls(
            identity=Identity.from_element(identity) if identity is not None else None,
            filter=RecordFilter.from_element(record_filter) if record_filter is not None else None,
            leave_record_open=parameters.find("LeaveRecordOpen") is not None,
        )

    def exempt_from_record_throttle(self, today: dt.date) -> bool:
        return self.filter is not None and self.filter.exempt_from_record_throttle(today)


def organisation_parameters(logged_on_user_only: bool) -> etree._Element:
    return parameters_element(*([_leaf("LoggedOnUserOnly")] if logged_on_user_only else []))



# --- GetDocument -------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentRequest:
    """GetDocument's parameters (TPP spec v33.4, "GetDocument"): the patient whose record
    holds the document, its DocumentUID, and ``write_to``, a folder *on the SystmOne PC*
    that SystmOne writes the document into (it must exist there, or SystmOne answers an
    error). TPP's XSD lacks WriteTo; the specification and TPP's own template send it after
    the DocumentUID, and so does this."""

    identity: Identity
    document_uid: str
    write_to: str
    leave_record_open: bool = False

    def to_parameters(self) -> etree._Element:
        children = [self.identity.to_element(), _leaf("DocumentUID", self.document_uid),
                    _leaf("WriteTo", self.write_to)]
        if self.leave_record_open:
            children.append(_leaf("LeaveRecordOpen"))
        return parameters_element(*children)

    @classmethod
    def from_parameters(cls, parameters: etree._Element | None) -> DocumentRequest:
        """Raises ValueError (IdentityError included) naming what is missing."""
        identity = parameters.find("Identity") if parameters is not None else None
        if identity is None:
            raise ValueError("GetDocument needs the Identity of the patient")
        uid, write_to = text_of(parameters, "DocumentUID"), text_of(parameters, "WriteTo")
        if not uid:
            raise ValueError("GetDocument needs a DocumentUID")
        if not write_to:
            raise ValueError("GetDocument needs a WriteTo folder")
        return cls(Identity.from_element(identity), uid, write_to,
                   parameters.find("LeaveRecordOpen") is not None)


def document_files(body: etree._Element) -> list[str]:
    """The paths a GetDocument reply names, in order: one file, or one per image when
    SystmOne exports the document as several."""
    return [text for text in ((element.text or "").strip()
                              for element in body.findall("DocumentFile")) if text]
