"""UK Core Appointments: the patient's pending bookings (NonClinical/Appointment: DateTime,
Duration, Clinician, UserName, Site, ClinicType, AppointmentUID, Status) and pending home
visits (NonClinical/Visit: the same with a VisitUID and Comments), one Appointment each.

- SystmOne lists only bookings still to come: "There is no facility to extract the
  appointment history of a patient" (TPP, GetPatientRecord's Appointments and Visits
  filters). Past appointments are therefore never served.
- status from conceptmaps.APPOINTMENT_STATUS (TPP: "booked, DNA or cancelled"); a status
  the map does not know is served as booked, since the booking is pending, with
  SystmOne's word in the comment rather than lost.
- start is DateTime, end start + Duration minutes (FHIR: a booked appointment has both),
  minutesDuration the Duration rounded to whole minutes.
- serviceType is the ClinicType as text ("Session", "Nurse Clinic"); a visit is a home
  visit, said so in serviceType. Comments (a visit's reason) are the description.
- participant: the patient and the clinician (Clinician, with no reference: B's
  Practitioner references can replace the display), each accepted (the slot is booked),
  the clinician as attender (ATND); the Site is a participant by name.
- The id and the event-item identifier come from the AppointmentUID / VisitUID (neither
  is in an Event); TPP's update functions take the same UID to change a booking.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import conceptmaps, systems
from .fragments import ITEM_IDENTIFIER, ITEM_KEY
from .task import lower_case

RESOURCE = "Appointment"

_STATUS = lower_case("Status")
_KNOWN = "|".join(conceptmaps.APPOINTMENT_STATUS)
#: Status text that says something the status map does not know.
UNKNOWN_STATUS = (f"normalize-space(Status) and "
                  f"not(contains('|{_KNOWN}|', concat('|', {_STATUS}, '|')))")
_MINUTES = "string(round(number(Duration)))"
ATTENDER = {"coding": [{"system": systems.V3_PARTICIPATION_TYPE, "code": "ATND",
                        "display": "attender"}]}

APPOINTMENT = {
    "resourceType": "Appointment",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_APPOINTMENT], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "status": Path(_STATUS, map="appointment_status", default="booked"),
    "serviceType": [
        When("self::Visit", {"text": "Home visit"}),
        Include({"text": Required(Path(".", via="single_spaced"))},
                at="ClinicType[normalize-space()]"),
    ],
    "description": Path("Comments", via="single_spaced"),
    "start": Path("DateTime", via="date_time"),
    "end": Path("concat(normalize-space(DateTime), ' ', normalize-space(Duration))",
                via="end_after_minutes"),
    "minutesDuration": When("number(Duration) >= 1", Path(_MINUTES, via="decimal")),
    "comment": When(UNKNOWN_STATUS,
                    Path("concat('Status in SystmOne: ', normalize-space(Status))")),
    "participant": [
        {"actor": Var("patient"), "status": "accepted"},
        Include({"type": [ATTENDER],
                 "actor": {"display": Required(Path(".", via="single_spaced"))},
                 "status": "accepted"}, at="Clinician[normalize-space()]"),
        Include({"actor": {"display": Required(Path(".", via="single_spaced"))},
                 "status": "accepted"}, at="Site[normalize-space()]"),
    ],
}

TEMPLATE = [Each("NonClinical/Appointment | NonClinical/Visit", APPOINTMENT)]

DECLARATION = Declaration(
    type="Appointment",
    profile=systems.UKCORE_APPOINTMENT,
    supported_profiles=(systems.UKCORE_APPOINTMENT,),
    sections=frozenset({"Appointments", "Visits"}),
    search_params=(
        patient_param("patient", "participant.actor", definition=r4("Appointment-patient")),
        SearchParam("date", "date", ("start",),
                    "when it starts; prefixes eq ne gt lt ge le sa eb ap; repeat for a range.",
                    definition=r4("Appointment-date")),
        SearchParam("status", "token", ("status",),
                    "booked, arrived, cancelled, noshow...: pending bookings only.",
                    definition=r4("Appointment-status")),
    ),
    patient_params=("patient",),
    sort=("start",),
    includes=("patient",),
)
