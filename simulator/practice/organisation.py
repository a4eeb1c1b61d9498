"""The fictitious organisation the simulator answers GetOrganisationMetaData for.

Each practice the simulator serves names its own organisation: the default
generated practice (100 patients, seed 1) is Tarnfield Medical Practice, B99991;
any other generated practice, and every practice folder, is Tarnfield under
codes of its own (``fictitious_code``). A facade keys what it caches by the
organisation SystmOne names, so a simulator restarted with another practice on
the same port is seen as another organisation, as a SystmOne client logged on
to another practice would be.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace

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

    def with_codes(self, codes: dict[str, str]) -> Organisation:
        """The same organisation with its sites' ODS codes replaced (old code → new)."""
        return replace(self, sites=tuple(replace(site, id=codes.get(site.id, site.id))
                                         for site in self.sites))


#: Keys the digest fictitious codes are made from (domain separation, not a secret).
_CODE_KEY = b"simulator: fictitious ODS code of a simulated practice"
#: What a fictitious code starts with; four letters from the digest follow.
FICTITIOUS_PREFIX = "B9"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def fictitious_code(practice: str, site: str) -> str:
    """A fictitious ODS-shaped code for one site of a simulated practice, derived from what
    identifies the practice (``practice``) and the site's part in it.

    Six upper-case characters like a practice code, but ``B9`` and four *letters*: the
    code of every GP practice (a prescribing cost centre) is one letter and five digits,
    so this can never be a real practice's. Keyed (HMAC-SHA-256): equal inputs give
    equal codes, and nothing of the input can be read back from one. Two different
    practices share a code with a chance of one in 26**4 (456,976)."""
    digest = hmac.new(_CODE_KEY, f"{practice}\n{site}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    letters = []
    for _ in range(4):
        number, index = divmod(number, len(_LETTERS))
        letters.append(_LETTERS[index])
    return FICTITIOUS_PREFIX + "".join(letters)


def is_fictitious_code(code: str) -> bool:
    return (len(code) == 6 and code.startswith(FICTITIOUS_PREFIX)
            and all(c in _LETTERS for c in code[2:]))
