"""The data contract as data: tables, columns, types and allowed codes.

The single source of truth for ``load.py``'s checks; mirrors
``shared/data-contract.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEX = ("F", "M")
BENEFITS = ("bijstand", "ww", "wia", "other")
KINDS = ("marriage", "registered_partnership", "cohabitation")
END_REASONS = ("divorce", "separation", "death")
MIGRATION = ("dutch", "western", "non_western")
EDUCATION = ("low", "middle", "high")
#: ASCII digits only: ``\d`` would also accept Arabic-Indic and other Unicode digits (GM\u0660\u0663\u0666\u0663).
MUNICIPALITY_PATTERN = r"^GM[0-9]{4}$"
#: Words that make a column look identifying, Dutch and English. A column is refused when its name,
#: split into words (``first_name``, ``FirstName``, ``e-mail`` -> first/name, e/mail) and compared
#: without case, is one of these, contains one as a word, or starts or ends with one written together
#: (``woonadres``, ``postcode4``, ``emailadres``).
IDENTIFYING = (
    "bsn", "burgerservicenummer", "sofinummer", "sofi", "anummer", "ssn", "socialsecuritynumber",
    "name", "names", "naam", "namen", "voornaam", "voornamen", "achternaam", "geslachtsnaam",
    "surname", "firstname", "lastname", "fullname", "givenname", "familyname", "initials",
    "voorletters", "tussenvoegsel",
    "address", "adres", "woonadres", "straat", "straatnaam", "street", "huisnummer", "housenumber",
    "postcode", "zipcode", "zip", "postalcode",
    "email", "mail", "telefoon", "telefoonnummer", "phone", "telephone", "mobile", "mobiel",
    "geboortedatum", "geboortedag", "dateofbirth", "birthdate", "birthday", "dob",
    "iban", "rekeningnummer", "paspoort", "passport",
)
ALLOWED_IDENTIFYING = {"municipalities": {"name"}}
#: experiments: the arm every experiment compares against (regular service), and how arms and experiments
#: are named (lowercase ASCII words joined by underscores: they become column labels and results names).
CONTROL_ARM = "control"
ARM_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id", "str", "int", "float", "date", "code"
    required: bool = True
    codes: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    columns: tuple
    spell: bool = False  # has start_date/end_date that must not overlap per person
    spell_key: tuple = ("person_id",)
    references_persons: bool = True
    unique: tuple = field(default_factory=tuple)


TABLES = {
    "persons": Table("persons", True, (
        Column("person_id", "id"),
        Column("sex", "code", codes=SEX),
        Column("birth_year", "int", minimum=1900, maximum=2030),
        Column("municipality_code", "str", pattern=MUNICIPALITY_PATTERN),
        Column("migration_background", "code", required=False, codes=MIGRATION, nullable=True),
        Column("education", "code", required=False, codes=EDUCATION, nullable=True),
    ), references_persons=False, unique=("person_id",)),
    "benefit_spells": Table("benefit_spells", True, (
        Column("person_id", "id"),
        Column("benefit", "code", codes=BENEFITS),
        Column("start_date", "date"),
        Column("end_date", "date", nullable=True),
        Column("municipality_code", "str", pattern=MUNICIPALITY_PATTERN),
        Column("monthly_amount_eur", "float", required=False, minimum=0, nullable=True),
    ), spell=True, spell_key=("person_id", "benefit")),
    "employment_spells": Table("employment_spells", True, (
        Column("person_id", "id"),
        Column("start_date", "date"),
        Column("end_date", "date", nullable=True),
        Column("monthly_wage_eur", "float", required=False, nullable=True),
    ), spell=True),
    "partnerships": Table("partnerships", True, (
        Column("person_id", "id"),
        Column("partner_id", "id", nullable=True),
        Column("kind", "code", codes=KINDS),
        Column("start_date", "date"),
        Column("end_date", "date", nullable=True),
        Column("end_reason", "code", codes=END_REASONS, nullable=True),
    ), spell=True),
    "health_yearly": Table("health_yearly", True, (
        Column("person_id", "id"),
        Column("year", "int", minimum=1900, maximum=2100),
        Column("healthcare_costs_eur", "float", minimum=0),
        Column("mental_healthcare_costs_eur", "float", minimum=0),
        Column("gp_costs_eur", "float", minimum=0),
        Column("antidepressants", "int", codes=(0, 1)),
    ), unique=("person_id", "year")),
    "interventions": Table("interventions", False, (
        Column("person_id", "id"),
        Column("intervention", "str"),
        Column("start_date", "date"),
        Column("end_date", "date", nullable=True),
        Column("cost_eur", "float", minimum=0),
    )),
    "participation_ladder": Table("participation_ladder", False, (
        Column("person_id", "id"),
        Column("date", "date"),
        Column("step", "int", minimum=1, maximum=6),
    )),
    # one row per person per experiment: the randomised arm (docs/contract-experiments.md); load.py adds the
    # rules that need more than one column (a control arm, dates in the data period, clusters in one arm)
    "experiments": Table("experiments", False, (
        Column("person_id", "id"),
        Column("experiment", "str", pattern=ARM_PATTERN),
        Column("arm", "str", pattern=ARM_PATTERN),
        Column("assignment_date", "date"),
        Column("stratum", "str", required=False, nullable=True),
        Column("cluster", "str", required=False, nullable=True),
    ), unique=("person_id", "experiment")),
    "municipalities": Table("municipalities", False, (
        Column("municipality_code", "str", pattern=MUNICIPALITY_PATTERN),
        Column("name", "str"),
        Column("population", "int", required=False, minimum=0, nullable=True),
    ), references_persons=False, unique=("municipality_code",)),
}
