"""The fictitious organisation the simulator answers GetOrganisationMetaData for."""

from __future__ import annotations

from dataclasses import dataclass, field

# Address children in the order SystmOne writes them.
ADDRESS_FIELDS = ("HouseName", "HouseNumber", "Road", "Locality", "Town", "County", "Postcode")


@dataclass(frozen=True)
class Site:
    name: str
    id: str  # ODS-style site code, e.g. "B11111"
    telephone: str
    address: dict[str, str]  # keys from ADDRESS_FIELDS
    fax: str | None = None
    email: str | None = None
    primary: bool = False
    current: bool = False  # the site the logged-on client sits at; exactly one


@dataclass(frozen=True)
class User:
    title: str
    first_name: str
    surname: str
    user_name: str  # SystmOne user id, e.g. "dlittler2405"
    gender: str  # "M", "F" or ""
    role: str  # e.g. "General Medical Practitioner"
    role_code: str  # national RBAC code, e.g. "S0010:G0020:R0260"
    national_id: str = ""
    national_id_type: str = ""  # GMC, NMC, RPSGB, HPC or ""
    middle_names: str = ""
    access_rights: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    current: bool = False  # the logged-on user; exactly one

    @property
    def is_gp(self) -> bool:
        return self.role == "General Medical Practitioner"

    @property
    def done_by(self) -> str:
        """How SystmOne describes the user on an Event: ``SURNAME, First (Role) ``."""
        return f"{self.surname.upper()}, {self.first_name} ({self.role}) "


@dataclass(frozen=True)
class Organisation:
    sites: tuple[Site, ...]
    users: tuple[User, ...]
    slot_types: tuple[str, ...] = field(default=("Slot", "Telephone Appointment Slot"))
    clinic_types: tuple[str, ...] = field(default=("Session", "Nurse Clinic"))

    @property
    def current_user(self) -> User:
        return next(user for user in self.users if user.current)

    @property
    def current_site(self) -> Site:
        return next(site for site in self.sites if site.current)

    def user(self, user_name: str) -> User | None:
        return next((user for user in self.users if user.user_name == user_name), None)
