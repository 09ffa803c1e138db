"""Realistic, reproducible sample data for ``veil demo``.

The demo has to show detection and masking on data that looks like production:
names, addresses and phone numbers in the formats of several countries, card
numbers that pass Luhn, IBANs with valid check digits, API tokens in the exact
shapes secret scanners know, and free text that hides all of these in prose.  A
fixed seed makes every run (and every machine) produce the same rows, so the tour
and screenshots stay true.  Nothing here is real: Faker data, ``example.*``
mail domains, tokens made of seeded random characters.
"""

from __future__ import annotations

import random
import string
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from faker import Faker

SEED = 20240611
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")

SCHEMA = """
CREATE TABLE customers (
    id             integer PRIMARY KEY,
    full_name      text NOT NULL,
    email          text NOT NULL,
    phone          text,
    ssn            text,
    date_of_birth  date,
    street_address text,
    city           text,
    postal_code    text,
    country        text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE TABLE payments (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    card_number text NOT NULL,
    iban        text,
    amount      numeric(12,2) NOT NULL,
    currency    text NOT NULL,
    paid_at     timestamptz NOT NULL
);
CREATE TABLE patients (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    mrn         text NOT NULL,
    icd10       text NOT NULL,
    diagnosis   text NOT NULL,
    admitted_on date NOT NULL
);
CREATE TABLE support_tickets (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    subject     text NOT NULL,
    notes       text NOT NULL,
    opened_at   timestamptz NOT NULL
);
CREATE TABLE api_credentials (
    id          integer PRIMARY KEY,
    provider    text NOT NULL,
    owner_email text NOT NULL,
    token       text NOT NULL,
    created_at  timestamptz NOT NULL
);
"""

TABLES = ("customers", "payments", "patients", "support_tickets", "api_credentials")

DIAGNOSES: Sequence[tuple[str, str]] = (
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential (primary) hypertension"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("F32.A", "Depression, unspecified"),
    ("M54.5", "Low back pain"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("F41.1", "Generalized anxiety disorder"),
    ("N39.0", "Urinary tract infection, site not specified"),
    ("C50.911", "Malignant neoplasm of unspecified site of right female breast"),
    ("B20", "Human immunodeficiency virus [HIV] disease"),
    ("O24.419", "Gestational diabetes mellitus in pregnancy, unspecified control"),
)

CURRENCIES = {"en_US": "USD", "en_GB": "GBP"}

_ALNUM = string.ascii_letters + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True)
class Sizes:
    customers: int = 1000
    payments: int = 2000
    patients: int = 400
    tickets: int = 600
    credentials: int = 40


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(_BASE62[rem])
    return "".join(reversed(out))


def github_token(rng: random.Random) -> str:
    """``ghp_`` + 30 random chars + their CRC32 in 6 base62 chars (GitHub's own format)."""
    body = "".join(rng.choices(_ALNUM, k=30))
    return f"ghp_{body}{_base62(zlib.crc32(body.encode()), 6)}"


def provider_token(rng: random.Random) -> tuple[str, str]:
    """A (provider, token) pair in one of the well-known token shapes."""
    kind = rng.choice(("github", "aws", "stripe", "slack", "google", "openai"))
    upper32 = string.ascii_uppercase + "234567"
    if kind == "github":
        return kind, github_token(rng)
    if kind == "aws":
        return kind, "AKIA" + "".join(rng.choices(upper32, k=16))
    if kind == "stripe":
        return kind, "sk_live_" + "".join(rng.choices(_ALNUM, k=24))
    if kind == "slack":
        digits = string.digits
        return kind, (f"xoxb-{''.join(rng.choices(digits, k=12))}-{''.join(rng.choices(digits, k=13))}-"
                      f"{''.join(rng.choices(_ALNUM, k=24))}")
    if kind == "google":
        return kind, "AIza" + "".join(rng.choices(_ALNUM + "-_", k=35))
    return kind, "sk-proj-" + "".join(rng.choices(_ALNUM + "-_", k=48))


class DemoData:
    """Generates every demo table from one seed; each ``*_rows`` method yields tuples in column order."""

    def __init__(self, seed: int = SEED, sizes: Sizes | None = None) -> None:
        self.sizes = sizes or Sizes()
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(LOCALES):
            fake = Faker(loc)
            fake.seed_instance(seed + i)
            self.fakers[loc] = fake
        self.epoch = datetime(2024, 6, 1, tzinfo=UTC)
        self._customers: list[tuple[int, str, str, str, str]] = []  # id, locale, name, email, phone

    def _when(self, days: int) -> datetime:
        return self.epoch - timedelta(seconds=self.rng.randrange(days * 86400))

    def customers_rows(self) -> Iterator[tuple[object, ...]]:
        self._customers.clear()
        for cid in range(1, self.sizes.customers + 1):
            loc = self.rng.choice(LOCALES)
            fake = self.fakers[loc]
            name = fake.name()
            email = fake.email()
            phone = fake.phone_number()
            ssn = self.fakers["en_US"].ssn()  # every row, so the tour always shows one masked
            dob: date = fake.date_of_birth(minimum_age=18, maximum_age=90)
            self._customers.append((cid, loc, name, email, phone))
            street = fake.street_address().replace("\n", ", ")
            yield (cid, name, email, phone, ssn, dob, street, fake.city(), fake.postcode(),
                   fake.current_country_code(), self._when(900))

    def payments_rows(self) -> Iterator[tuple[object, ...]]:
        for pid in range(1, self.sizes.payments + 1):
            cid, loc, *_ = self.rng.choice(self._customers)
            fake = self.fakers[loc]
            amount = f"{self.rng.uniform(3, 2500):.2f}"
            yield (pid, cid, fake.credit_card_number(), fake.iban(), amount, CURRENCIES.get(loc, "EUR"),
                   self._when(365))

    def patients_rows(self) -> Iterator[tuple[object, ...]]:
        for pid in range(1, self.sizes.patients + 1):
            cid = self.rng.choice(self._customers)[0]
            code, text = self.rng.choice(DIAGNOSES)
            mrn = f"MRN-{self.rng.randrange(10**7, 10**8)}"
            yield pid, cid, mrn, code, text, self._when(1500).date()

    def _note(self, loc: str, name: str, email: str, phone: str) -> str:
        """Agent prose with PII scattered in it, the way real ticket notes look."""
        fake = self.fakers[loc]
        card = fake.credit_card_number()
        templates = (
            f"Customer {name} called from {phone} about a double charge on card {card}. "
            f"Refund promised; confirmation to {email}.",
            f"{name} asked to change the contact address to {fake.email()}. Verified identity via callback "
            f"to {phone}. {fake.sentence()}",
            f"Chargeback dispute: card ending {card[-4:]} (full number {card}) flagged. "
            f"Reach the customer at {email} or {phone}.",
            f"{fake.sentence()} Customer wrote from {email}; wants invoices sent to "
            f"{fake.street_address().replace(chr(10), ', ')}, "
            f"{fake.city()}.",
        )
        return self.rng.choice(templates)

    def tickets_rows(self) -> Iterator[tuple[object, ...]]:
        subjects = ("Double charge", "Change of address", "Card declined", "Invoice request",
                    "Account locked", "Refund status")
        for tid in range(1, self.sizes.tickets + 1):
            cid, loc, name, email, phone = self.rng.choice(self._customers)
            yield tid, cid, self.rng.choice(subjects), self._note(loc, name, email, phone), self._when(200)

    def credentials_rows(self) -> Iterator[tuple[object, ...]]:
        for kid in range(1, self.sizes.credentials + 1):
            provider, token = provider_token(self.rng)
            owner = self.fakers["en_US"].user_name() + "@example.com"
            yield kid, provider, owner, token, self._when(400)

    def tables(self) -> Iterator[tuple[str, Iterator[tuple[object, ...]]]]:
        """(table, rows) in dependency order; customers first, as the others refer to them."""
        yield "customers", self.customers_rows()
        yield "payments", self.payments_rows()
        yield "patients", self.patients_rows()
        yield "support_tickets", self.tickets_rows()
        yield "api_credentials", self.credentials_rows()


def is_loaded(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('public.api_credentials') IS NOT NULL").fetchone()
    return bool(row and row[0])


def load(conn: psycopg.Connection, data: DemoData | None = None) -> dict[str, int]:
    """Create the demo schema and COPY the rows in, in one transaction; returns row counts."""
    data = data or DemoData()
    counts: dict[str, int] = {}
    with conn.transaction():
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            for table, rows in data.tables():
                n = 0
                with cur.copy(f"COPY {table} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
                counts[table] = n
    conn.execute("ANALYZE")
    return counts
