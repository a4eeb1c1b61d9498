"""Names, streets and places for the generated practice's fictitious patients.

The practice sits in Aireborough, West Yorkshire, so addresses use that area's
real postcode districts and postal towns; the streets are common English street
names and no address is meant to be real. Given names are grouped by birth
cohort so that a 90-year-old is called Doreen rather than Isla, and a few
surname and given-name lists reflect the area's Pakistani, Indian and Polish
communities. Some names carry apostrophes or accents on purpose: they exercise
XML escaping and non-ASCII text downstream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Locality:
    name: str  # the Address/Locality line
    town: str  # postal town
    district: str  # postcode district
    sectors: str  # postcode sector digits used in that locality
    weight: int  # share of the practice's patients living there


LOCALITIES: tuple[Locality, ...] = (
    Locality("Yeadon", "Leeds", "LS19", "7", 26),
    Locality("Rawdon", "Leeds", "LS19", "6", 14),
    Locality("Guiseley", "Leeds", "LS20", "89", 22),
    Locality("Horsforth", "Leeds", "LS18", "45", 12),
    Locality("Menston", "Ilkley", "LS29", "6", 7),
    Locality("", "Otley", "LS21", "123", 6),
    Locality("Idle", "Bradford", "BD10", "89", 6),
    Locality("Apperley Bridge", "Bradford", "BD10", "0", 3),
    Locality("Baildon", "Shipley", "BD17", "567", 4),
)

COUNTY = "West Yorkshire"

# The two letters of a postcode's inward code never use C, I, K, M, O or V.
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

STREETS: tuple[str, ...] = (
    "Town Street", "High Street", "Main Street", "Victoria Road", "Station Road",
    "Church Lane", "Back Lane", "Moorland Drive", "Westfield Road", "Park Avenue",
    "Queensway", "Manor Road", "Green Lane", "Springfield Road", "Albert Road",
    "Kirkgate", "Bradford Road", "Leeds Road", "Otley Road", "Harrogate Road",
    "Batter Lane", "Henshaw Lane", "Woodlands Drive", "Oakwood Grove", "Larch Close",
    "Moor Lane", "Nether Way", "Chapel Street", "Low Green", "Hollins Hill",
    "Cragg Terrace", "Aire View", "Chevin Avenue", "Wharfedale Rise", "Layton Crescent",
    "Bayton Lane", "Silverdale Avenue", "Hawthorn Mount", "Sycamore Walk", "Tarn Court",
    "St John's Road", "St Peter's Close", "Ings Lane", "Brook Street", "Mill Fold",
)

HOUSE_NAMES: tuple[str, ...] = (
    "Rose Cottage", "The Laurels", "Fernbank", "Moor View", "Ivy House", "The Old Barn",
    "Beck Side", "Holly Lodge", "Brambles", "The Coach House",
)

# Given names by sex and birth cohort: "old" before 1955, "mid" 1955-1984,
# "young" from 1985.
MALE_NAMES: dict[str, tuple[str, ...]] = {
    "old": (
        "John", "William", "George", "Kenneth", "Ronald", "Dennis", "Geoffrey", "Harold",
        "Stanley", "Frank", "Arthur", "Eric", "Norman", "Derek", "Brian", "Keith", "Alan",
        "Roy", "Donald", "Peter", "Raymond", "Leslie", "Walter", "Albert", "Cyril",
    ),
    "mid": (
        "David", "Paul", "Andrew", "Mark", "Stephen", "Michael", "Ian", "Richard", "Gary",
        "Kevin", "Simon", "Robert", "Christopher", "Anthony", "Neil", "Martin", "Darren",
        "Jonathan", "Steven", "Graham", "Philip", "Nigel", "Wayne", "Craig", "Dean",
    ),
    "young": (
        "Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar",
        "William", "James", "Leo", "Alfie", "Henry", "Joshua", "Freddie", "Archie", "Ethan",
        "Isaac", "Samuel", "Daniel", "Matthew", "Luke", "Ryan", "Liam", "Callum", "Reece",
    ),
}

FEMALE_NAMES: dict[str, tuple[str, ...]] = {
    "old": (
        "Margaret", "Joan", "Dorothy", "Doreen", "Jean", "Betty", "Mary", "Barbara",
        "Patricia", "Sheila", "Irene", "Audrey", "Eileen", "Brenda", "Joyce", "Marjorie",
        "Edna", "Elsie", "Kathleen", "Pauline", "Maureen", "Valerie", "Shirley", "Hilda",
    ),
    "mid": (
        "Susan", "Julie", "Karen", "Sarah", "Helen", "Amanda", "Deborah", "Jacqueline",
        "Alison", "Nicola", "Joanne", "Tracey", "Claire", "Lisa", "Michelle", "Rachel",
        "Elizabeth", "Catherine", "Gillian", "Angela", "Lorraine", "Wendy", "Siân", "Kerry",
    ),
    "young": (
        "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Lily", "Chloe",
        "Ella", "Evie", "Poppy", "Jessica", "Charlotte", "Mia", "Ruby", "Freya", "Hannah",
        "Zoë", "Megan", "Lauren", "Holly", "Amy", "Bethany", "Niamh",
    ),
}

SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Wilson", "Johnson", "Walker", "Wood", "Robinson",
    "Thompson", "Wright", "White", "Hall", "Green", "Jackson", "Clarke", "Hughes", "Turner",
    "Hill", "Cooper", "Harrison", "Ward", "Holmes", "Shaw", "Atkinson", "Greenwood",
    "Sutcliffe", "Ackroyd", "Barraclough", "Hirst", "Haigh", "Illingworth", "Crowther",
    "Priestley", "Booth", "Lister", "Firth", "Pickles", "Rhodes", "Whiteley", "Wainwright",
    "Ramsden", "Schofield", "Broadbent", "Hepworth", "Moorhouse", "Dewhirst", "Crabtree",
    "Sugden", "Ogden", "Marsden", "Kershaw", "Bairstow", "Holdsworth", "Midgley", "Hainsworth",
    "Lumb", "Rushworth", "O'Brien", "O'Connor", "O'Neill", "McAllister", "Fitzgerald",
    "Kelly", "Murphy", "Evans", "Davies", "Roberts", "Lewis", "Mitchell", "Bell", "Morris",
)

SOUTH_ASIAN_MALE_NAMES: tuple[str, ...] = (
    "Mohammed", "Muhammad", "Imran", "Hamza", "Bilal", "Tariq", "Asif", "Zubair", "Adil",
    "Rajesh", "Sanjay", "Arjun", "Vikram", "Ravi", "Amir", "Yusuf", "Ibrahim", "Zain",
)

SOUTH_ASIAN_FEMALE_NAMES: tuple[str, ...] = (
    "Aisha", "Fatima", "Zainab", "Maryam", "Nadia", "Samina", "Shazia", "Ayesha", "Hina",
    "Priya", "Anjali", "Sunita", "Kiran", "Noor", "Amina", "Sana", "Iqra", "Meera",
)

SOUTH_ASIAN_SURNAMES: tuple[str, ...] = (
    "Khan", "Hussain", "Ahmed", "Ali", "Akhtar", "Mahmood", "Iqbal", "Shah", "Butt",
    "Rashid", "Bibi", "Patel", "Sharma", "Singh", "Mistry", "Chaudhry", "Qureshi", "Malik",
)

POLISH_MALE_NAMES: tuple[str, ...] = (
    "Piotr", "Tomasz", "Krzysztof", "Paweł", "Marek", "Jakub", "Łukasz", "Michał",
)

POLISH_FEMALE_NAMES: tuple[str, ...] = (
    "Anna", "Katarzyna", "Agnieszka", "Magdalena", "Joanna", "Małgorzata", "Ewa", "Zofia",
)

POLISH_SURNAMES: tuple[str, ...] = (
    "Nowak", "Kowalczyk", "Wójcik", "Mazur", "Krawczyk", "Zając", "Król", "Wróbel",
)

# Given names often shortened; a patient's KnownAs is taken from here.
KNOWN_AS: dict[str, str] = {
    "Robert": "Bob", "William": "Bill", "Thomas": "Tom", "Michael": "Mick",
    "Christopher": "Chris", "Anthony": "Tony", "Richard": "Rick", "Edward": "Ted",
    "Kenneth": "Ken", "Ronald": "Ron", "Geoffrey": "Geoff", "Stephen": "Steve",
    "Jonathan": "Jon", "Samuel": "Sam", "Alexander": "Alex", "Daniel": "Dan",
    "Margaret": "Peggy", "Elizabeth": "Liz", "Patricia": "Pat", "Susan": "Sue",
    "Catherine": "Kate", "Jacqueline": "Jackie", "Deborah": "Debbie", "Kathleen": "Kath",
    "Barbara": "Babs", "Dorothy": "Dot", "Jessica": "Jess", "Charlotte": "Lottie",
    "Rajesh": "Raj", "Katarzyna": "Kasia", "Małgorzata": "Gosia",
}

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")


# --- services that write to and hear from the practice ----------------------------
# Every organisation, clinician and address below is fictitious; the towns and
# postcode districts are the area's own, the postcode units are invented.

@dataclass(frozen=True, slots=True)
class Clinician:
    title: str
    first_name: str
    surname: str


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    address: tuple[tuple[str, str], ...]  # Address child elements, in schema order


AIRE_VALLEY_HOSPITAL = Provider(
    "Aire Valley Teaching Hospitals NHS Trust",
    (("HouseName", "Aire Valley General Hospital"), ("Road", "Moorfield Lane"),
     ("Town", "Leeds"), ("Postcode", "LS19 9QZ")))
COMMUNITY_MSK = Provider(
    "Aireborough Community MSK & Physiotherapy Service",
    (("HouseName", "Chevin Health Centre"), ("Road", "Chevin Avenue"), ("Town", "Leeds"),
     ("Postcode", "LS20 8XJ")))
TALKING_THERAPIES = Provider(
    "Aire Valley Talking Therapies",
    (("HouseNumber", "4"), ("Road", "Kirkgate"), ("Town", "Otley"), ("Postcode", "LS21 3QW")))
DIABETES_SERVICE = Provider(
    "Aire Valley Community Diabetes Service",
    (("HouseName", "Chevin Health Centre"), ("Road", "Chevin Avenue"), ("Town", "Leeds"),
     ("Postcode", "LS20 8XJ")))
EYE_SCREENING = Provider(
    "Aire Valley Diabetic Eye Screening Programme",
    (("HouseName", "Aire Valley General Hospital"), ("Road", "Moorfield Lane"),
     ("Town", "Leeds"), ("Postcode", "LS19 9QZ")))
RESPIRATORY_SERVICE = Provider(
    "Aire Valley Pulmonary Rehabilitation Service",
    (("HouseName", "Baildon Community Hub"), ("Road", "Station Road"), ("Town", "Shipley"),
     ("Postcode", "BD17 6XQ")))

# Consultants and therapists by service.
CLINICIANS: dict[str, tuple[Clinician, ...]] = {
    "Cardiology": (Clinician("Dr", "Imran", "Qureshi"), Clinician("Dr", "Eleanor", "Pratt")),
    "Orthopaedics": (Clinician("Mr", "David", "Holroyd"), Clinician("Miss", "Laura", "Finch")),
    "Physiotherapy": (Clinician("Ms", "Claire", "Hanson"), Clinician("Mr", "Gareth", "Lowe")),
    "Dermatology": (Clinician("Dr", "Fiona", "Lister"),),
    "Respiratory": (Clinician("Dr", "Rachel", "Booth"), Clinician("Mr", "Sam", "Oduya")),
    "Emergency Medicine": (Clinician("Dr", "Tom", "Brearley"), Clinician("Dr", "Nia", "Evans")),
    "Acute Medicine": (Clinician("Dr", "Anjali", "Mehta"), Clinician("Dr", "Conor", "Walsh")),
    "Talking Therapies": (Clinician("Ms", "Hannah", "Priestley"),),
    "Diabetes": (Clinician("Mrs", "Janet", "Oxley"),),
    "Eye Screening": (Clinician("Mr", "Neil", "Brogden"),),
}
