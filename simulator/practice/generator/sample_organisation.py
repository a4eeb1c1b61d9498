"""The fictitious practice the generated patients belong to: its sites and users.

Tarnfield Medical Practice is fixed data, independent of the seed, so it has
its own module; the generator draws GPs, nurses and sites from it. Its ODS codes
(B99991, B99992) are the default practice's; every other generated practice is
Tarnfield under codes of its own (``generated_organisation``).
"""

from __future__ import annotations

from ..organisation import Organisation, Site, User, fictitious_code

#: The practice ``facade simulator`` and ``facade demo`` generate when not told otherwise.
DEFAULT_PATIENTS = 100
DEFAULT_SEED = 1


def generated_organisation(patients: int, seed: int) -> Organisation:
    """The organisation of the generated practice of ``patients`` from ``seed``: Tarnfield,
    under B99991 for the default practice and under codes derived from the seed and the
    list size for any other, so that two generated practices are never one organisation.
    (The size counts: patient ``n`` is the same in every practice of a seed, but a smaller
    list no longer holds the ones beyond it.)"""
    organisation = default_organisation()
    if (patients, seed) == (DEFAULT_PATIENTS, DEFAULT_SEED):
        return organisation
    practice = f"generated practice: {patients} patients, seed {seed}"
    return organisation.with_codes({site.id: fictitious_code(practice, site.id)
                                    for site in organisation.sites})


def default_organisation() -> Organisation:
    """Tarnfield Medical Practice: a fictitious two-site practice in Aireborough.

    Names, ids, GMC/NMC numbers and telephone numbers are all fictitious
    (telephones from Ofcom's drama range); role codes follow the national RBAC
    pattern for illustration.
    """
    main = Site(
        name="Tarnfield Medical Practice", id="B99991", telephone="0113 496 0000",
        address={"HouseName": "Tarnfield House", "HouseNumber": "12", "Road": "Tarn Court",
                 "Locality": "Yeadon", "Town": "Leeds", "County": "West Yorkshire",
                 "Postcode": "LS19 7TZ"},
        fax="0113 496 0001", email="reception.tarnfield@example.nhs.uk",
        primary=True, current=True)
    branch = Site(
        name="Tarnfield Menston Branch Surgery", id="B99992", telephone="0113 496 0002",
        address={"HouseName": "", "HouseNumber": "3", "Road": "Low Green",
                 "Locality": "Menston", "Town": "Ilkley", "County": "West Yorkshire",
                 "Postcode": "LS29 6EY"})
    return Organisation(sites=(main, branch), users=_practice_users())


def _practice_users() -> tuple[User, ...]:
    gp_rights = ("Clinical", "Prescribing", "Patient Record Access")
    nurse_rights = ("Clinical", "Patient Record Access")
    admin_rights = ("Appointments", "Registration")

    def gp(title, first, surname, user_name, gender, gmc, current=False):
        return User(title, first, surname, user_name, gender, "General Medical Practitioner",
                    "S0010:G0020:R0260", gmc, "GMC", access_rights=gp_rights,
                    groups=("Clinicians",), teams=("GP Team",), current=current)

    return (
        gp("Dr", "Sarah", "Fenwick", "sfenwick2210", "F", "7012345", current=True),
        gp("Dr", "Martin", "Oldroyd", "moldroyd0412", "M", "7023456"),
        gp("Dr", "Priya", "Chaudhry", "pchaudhry1187", "F", "7034567"),
        gp("Dr", "Owen", "Whitley", "owhitley0935", "M", "7045678"),
        User("Mrs", "Helen", "Ackroyd", "hackroyd0622", "F", "Practice Nurse",
             "S8000:G8000:R8001", "91A2345E", "NMC", access_rights=nurse_rights,
             groups=("Clinicians",), teams=("Nursing Team",)),
        User("Ms", "Joanne", "Sykes", "jsykes1540", "F", "Nurse Practitioner",
             "S8000:G8000:R8001", "88B6789C", "NMC", access_rights=(*nurse_rights, "Prescribing"),
             groups=("Clinicians",), teams=("Nursing Team",)),
        User("Mr", "Kieran", "Dobson", "kdobson0318", "M", "Health Care Assistant",
             "S8000:G8000:R8003", access_rights=nurse_rights, teams=("Nursing Team",)),
        User("Mrs", "Lisa", "Marsden", "lmarsden2714", "F", "Receptionist",
             "S8000:G8000:R8008", access_rights=admin_rights, teams=("Reception",)),
        User("Mr", "Paul", "Whitaker", "pwhitaker1102", "M", "Practice Manager",
             "S8000:G8000:R8008", access_rights=(*admin_rights, "Reporting"),
             teams=("Management",)),
    )
