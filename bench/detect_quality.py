"""Detection quality: precision/recall per type on a labeled corpus, with and without column
names, side by side with Presidio's pattern recognizers.

    .venv/bin/python -m bench.detect_quality [--rows 150] [--sentences 390] [--no-presidio] [--no-write]

The labeled development corpus lives here too (deterministic: fixed seeds).

Tabular columns with realistic names (Faker in several locales, python-stdnum-valid
national ids, provider-format tokens) and free-text sentences with labeled spans, plus
hard negatives: UUIDs, hex hashes, order/invoice/tracking numbers, timestamps, version
strings, ISBNs, public test card numbers, prices, random words.  Everything is synthetic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from faker import Faker

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN")
SEED = 20261129


@dataclass
class Column:
    name: str
    label: str | None  # the type every value has, None for a clean column
    values: list[str] = field(default_factory=list)


@dataclass
class Sentence:
    text: str
    spans: list[tuple[str, int, int]]  # (type, start, end) in code points


class Gen:
    """Value generators; one instance per corpus so every run produces the same data."""

    def __init__(self, seed: int = SEED) -> None:
        self.rnd = random.Random(seed)
        self.fakers = {
            loc: Faker(loc)
            for loc in (
                *LOCALES,
                "en_CA",
                "sv_SE",
                "fi_FI",
                "pl_PL",
                "de_CH",
                "ko_KR",
                "es_MX",
                "es_CL",
                "zh_CN",
            )
        }
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)

    def f(self, locale: str | None = None) -> Faker:
        return self.fakers[locale or self.rnd.choice(LOCALES)]

    def chars(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rnd.choice(alphabet) for _ in range(n))

    # ---- positives -------------------------------------------------------------------------
    def email(self) -> str:
        f = self.f()
        return self.rnd.choice([f.email, f.free_email, f.company_email, f.safe_email])()

    def phone(self) -> str:
        region = self.rnd.choice(["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "CA", "AU"])
        kind = self.rnd.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
        example = phonenumbers.example_number_for_type(region, kind)
        assert example is not None
        national = str(example.national_number)
        for _ in range(50):
            digits = national[:3] + self.chars(len(national) - 3, string.digits)
            number = phonenumbers.parse(f"+{example.country_code}{digits}", None)
            if phonenumbers.is_valid_number(number):
                break
        else:
            number = example
        fmt = self.rnd.choice(
            [
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.E164,
            ]
        )
        return phonenumbers.format_number(number, fmt)

    def credit_card(self) -> str:
        number = self.f("en_US").credit_card_number()
        if len(number) == 16 and self.rnd.random() < 0.4:
            sep = self.rnd.choice([" ", "-"])
            number = sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        value = self.f(self.rnd.choice(["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_GB"])).iban()
        if self.rnd.random() < 0.4:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def us_ssn(self) -> str:
        return self.f("en_US").ssn()

    def national_id(self) -> str:
        """A national id that python-stdnum accepts (Faker's generators are not all checksum-valid)."""
        import importlib

        choices: list[tuple[Callable[[], str], str]] = [
            (lambda: self.f("es_ES").nif(), "stdnum.es.nif"),
            (lambda: self.f("es_ES").nie(), "stdnum.es.nie"),
            (lambda: self.f("it_IT").ssn(), "stdnum.it.codicefiscale"),
            (lambda: self.f("fr_FR").ssn(), "stdnum.fr.nir"),
            (lambda: self.f("pt_BR").cpf(), "stdnum.br.cpf"),
            (lambda: self.f("en_CA").ssn(), "stdnum.ca.sin"),
            (lambda: self.f("sv_SE").ssn(), "stdnum.se.personnummer"),
            (lambda: self.f("fi_FI").ssn(), "stdnum.fi.hetu"),
            (lambda: self.f("de_CH").ssn(), "stdnum.ch.ssn"),
            (lambda: self.f("ko_KR").ssn(), "stdnum.kr.rrn"),
            (lambda: self.f("es_MX").curp(), "stdnum.mx.curp"),
            (lambda: self.f("es_CL").rut(), "stdnum.cl.rut"),
            (lambda: self.f("zh_CN").ssn(), "stdnum.cn.ric"),
            (lambda: self.f("nl_NL").ssn(), "stdnum.nl.bsn"),
            (lambda: self.f("pl_PL").pesel(), "stdnum.pl.pesel"),
            (lambda: self.f("en_IN").aadhaar_id(), "stdnum.in_.aadhaar"),
            (self._nino, ""),
        ]
        while True:
            make, module = self.rnd.choice(choices)
            for _ in range(20):
                value = make()
                if not module or importlib.import_module(module).is_valid(value):
                    return value

    def _nino(self) -> str:
        prefix = self.rnd.choice(["AB", "CE", "JG", "PR", "SW", "TM", "HK", "NE"])
        body = self.chars(6, string.digits)
        suffix = self.rnd.choice("ABCD")
        return (
            f"{prefix}{body}{suffix}"
            if self.rnd.random() < 0.5
            else f"{prefix} {body[:2]} {body[2:4]} {body[4:]} {suffix}"
        )

    def tax_id(self) -> str:
        choices: list[Callable[[], str]] = [
            lambda: self.f("en_US").ein(),
            lambda: self.f("en_US").itin(),
            lambda: self.f("pt_BR").cnpj(),
            self._pan,
        ]
        return self.rnd.choice(choices)()

    def _pan(self) -> str:
        return (
            self.chars(3, string.ascii_uppercase)
            + self.rnd.choice("PCHFT")
            + self.chars(1, string.ascii_uppercase)
            + self.chars(4, string.digits)
            + self.chars(1, string.ascii_uppercase)
        )

    def ip_address(self) -> str:
        f = self.f("en_US")
        return self.rnd.choice([f.ipv4_public, f.ipv4_private, f.ipv6])()

    def mac_address(self) -> str:
        mac = self.f("en_US").mac_address()
        return self.rnd.choice([mac, mac.upper(), mac.replace(":", "-").upper()])

    def secret(self) -> str:
        return self.rnd.choice(
            [
                self._provider_token,
                self._jwt,
                self._pem,
                self._url_password,
                self._bcrypt,
                self._provider_token,
            ]
        )()

    def _provider_token(self) -> str:
        c = self.chars
        hexa = string.hexdigits[:16]
        return self.rnd.choice(
            [
                lambda: "AKIA" + c(16, string.ascii_uppercase + string.digits),
                lambda: "AIza" + c(35, string.ascii_letters + string.digits + "_-"),
                lambda: "ghp_" + c(36),
                lambda: "github_pat_" + c(22) + "_" + c(59),
                lambda: "glpat-" + c(20),
                lambda: "xoxb-" + c(12, string.digits) + "-" + c(13, string.digits) + "-" + c(24),
                lambda: "sk_live_" + c(24),
                lambda: "rk_test_" + c(30),
                lambda: "sk-proj-" + c(40) + "T3BlbkFJ" + c(40),
                lambda: "sk-ant-api03-" + c(93, string.ascii_letters + string.digits + "_-") + "AA",
                lambda: "SK" + c(32, hexa),
                lambda: "SG." + c(22) + "." + c(43),
                lambda: "key-" + c(32, hexa),
                lambda: "npm_" + c(36),
                lambda: "pypi-AgEIcHlwaS5vcmc" + c(70),
                lambda: "hf_" + c(34, string.ascii_letters),
                lambda: "shpat_" + c(32, hexa),
                lambda: "dop_v1_" + c(64, hexa),
                lambda: "hvs." + c(90),
                lambda: "dapi" + c(32, hexa),
                lambda: "GOCSPX-" + c(28),
                lambda: "ya29." + c(80),
                lambda: "PMAK-" + c(24, hexa) + "-" + c(34, hexa),
                lambda: "glsa_" + c(32) + "_" + c(8, hexa),
                lambda: "NRAK-" + c(27, string.ascii_uppercase + string.digits),
                lambda: "sbp_" + c(40, hexa),
                lambda: "lin_api_" + c(40),
                lambda: c(32, hexa) + "-us" + str(self.rnd.randint(1, 20)),
                lambda: (
                    "DefaultEndpointsProtocol=https;AccountName=acct"
                    + c(6, string.ascii_lowercase)
                    + ";AccountKey="
                    + c(86, string.ascii_letters + string.digits + "+/")
                    + "==;EndpointSuffix=core.windows.net"
                ),
            ]
        )()

    def _jwt(self) -> str:
        import jwt

        return jwt.encode(
            {"sub": self.chars(8), "iat": 1700000000 + self.rnd.randint(0, 10**6)},
            "k" * 32,
            algorithm="HS256",
        )

    def _pem(self) -> str:
        body = base64.b64encode(self.rnd.randbytes(120)).decode()
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body[:64]}\n{body[64:]}\n-----END RSA PRIVATE KEY-----"

    def _url_password(self) -> str:
        scheme = self.rnd.choice(["postgresql", "mysql", "redis", "amqp", "mongodb+srv", "https"])
        user, password, host = self.chars(6, string.ascii_lowercase), self.chars(14), self.rnd.randint(1, 9)
        return f"{scheme}://{user}:{password}@db{host}.internal.example.com:5432/app"

    def _bcrypt(self) -> str:
        return "$2b$12$" + self.chars(53, string.ascii_letters + string.digits + "./")

    def person_name(self) -> str:
        f = self.f()
        return self.rnd.choice([f.name, f.name, f.first_name, f.last_name])()

    def street_address(self) -> str:
        return self.f().street_address().replace("\n", ", ")

    def date_of_birth(self) -> str:
        d = self.f().date_of_birth(minimum_age=18, maximum_age=90)
        return self.rnd.choice(
            [d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%m/%d/%Y"), d.strftime("%d.%m.%Y")]
        )

    def passport(self) -> str:
        return self.f("en_US").passport_number()

    def bank_account(self) -> str:
        return self.chars(self.rnd.randint(8, 12), string.digits)

    def medical_record_number(self) -> str:
        return self.rnd.choice(["MRN-", "", "H", "MR"]) + self.chars(self.rnd.randint(6, 9), string.digits)

    def health(self) -> str:
        return self.rnd.choice(DIAGNOSES)

    def latitude(self) -> str:
        return f"{self.rnd.uniform(-90, 90):.6f}"

    def longitude(self) -> str:
        return f"{self.rnd.uniform(-180, 180):.6f}"

    # ---- hard negatives --------------------------------------------------------------------
    def negative(self, kind: str) -> str:
        r, c = self.rnd, self.chars
        f = self.f("en_US")
        makers: dict[str, Callable[[], str]] = {
            "uuid": lambda: str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "md5": lambda: hashlib.md5(c(12).encode()).hexdigest(),
            "sha1": lambda: hashlib.sha1(c(12).encode()).hexdigest(),
            "sha256": lambda: hashlib.sha256(c(12).encode()).hexdigest(),
            "order": lambda: (
                r.choice(["ORD-", "SO", "#"]) + f"{r.randint(2019, 2026)}-{r.randint(0, 999999):06d}"
            ),
            "invoice": lambda: f"INV-{r.randint(0, 99999999):08d}",
            "timestamp": lambda: f.date_time_between("-5y").isoformat(sep=r.choice([" ", "T"])),
            "date": lambda: f.date_between("-3y", "+1y").isoformat(),
            "version": lambda: (
                r.choice(["", "v"]) + ".".join(str(r.randint(0, 20)) for _ in range(r.choice([2, 3, 4])))
            ),
            "isbn": lambda: r.choice([f.isbn13, f.isbn10])(),
            "tracking": lambda: r.choice(
                [
                    lambda: "1Z" + c(16, string.ascii_uppercase + string.digits),
                    lambda: "9400" + c(18, string.digits),
                    lambda: c(12, string.digits),
                ]
            )(),
            "test_card": lambda: r.choice(
                [
                    "4111111111111111",
                    "4242424242424242",
                    "5555555555554444",
                    "378282246310005",
                    "6011111111111117",
                    "4242 4242 4242 4242",
                ]
            ),
            "word": lambda: r.choice([f.word, f.color_name, lambda: " ".join(f.words(3))])(),
            "price": lambda: f"{r.uniform(0, 5000):.2f}",
            "quantity": lambda: str(r.randint(0, 100000)),
            "bigint_id": lambda: str(r.randint(10**9, 10**12)),
            "status": lambda: r.choice(
                ["pending", "shipped", "delivered", "cancelled", "refunded", "on hold"]
            ),
            "sku": lambda: (
                c(3, string.ascii_uppercase) + "-" + c(5, string.digits) + "-" + c(2, string.ascii_uppercase)
            ),
            "url": lambda: (
                f.url() + r.choice(["", "products/" + c(6, string.digits), "?page=" + str(r.randint(1, 99))])
            ),
            "company": f.company,
            "city": f.city,
            "file": f.file_path,
            "hostname": f.hostname,
            "percent": lambda: f"{r.uniform(0, 100):.1f}%",
            "duration": lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
            "json": lambda: json.dumps({"count": r.randint(0, 99), "tag": f.word()}),
        }
        return makers[kind]()


DIAGNOSES = (
    "Type 2 diabetes mellitus",
    "Essential hypertension",
    "Asthma, moderate persistent",
    "Major depressive disorder",
    "Chronic obstructive pulmonary disease (COPD)",
    "Generalized anxiety disorder",
    "Rheumatoid arthritis",
    "Atrial fibrillation",
    "Breast cancer, stage II",
    "HIV infection",
    "Epilepsy",
    "Migraine without aura",
    "Hypothyroidism",
    "Chronic kidney disease stage 3",
    "Osteoporosis",
    "Bipolar disorder",
    "Hepatitis C",
    "Pneumonia",
    "Influenza A",
    "Multiple sclerosis",
    "Parkinson's disease",
    "Coronary artery disease",
    "Heart failure with reduced ejection fraction",
    "Obesity",
    "Schizophrenia",
    "Celiac disease",
)

# (column name, type label, generator attribute or negative kind)
POSITIVE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("email", "email", "email"),
    ("contact_email", "email", "email"),
    ("phone", "phone", "phone"),
    ("mobile_number", "phone", "phone"),
    ("card_number", "credit_card", "credit_card"),
    ("iban", "iban", "iban"),
    ("ssn", "us_ssn", "us_ssn"),
    ("national_id", "national_id", "national_id"),
    ("tax_id", "tax_id", "tax_id"),
    ("client_ip", "ip_address", "ip_address"),
    ("mac_address", "mac_address", "mac_address"),
    ("api_key", "secret", "secret"),
    ("credentials", "secret", "secret"),
    ("full_name", "person_name", "person_name"),
    ("customer_name", "person_name", "person_name"),
    ("street_address", "street_address", "street_address"),
    ("date_of_birth", "date_of_birth", "date_of_birth"),
    ("passport_number", "passport", "passport"),
    ("bank_account_number", "bank_account", "bank_account"),
    ("mrn", "medical_record_number", "medical_record_number"),
    ("diagnosis", "health", "health"),
    ("latitude", "geo_coordinates", "latitude"),
    ("longitude", "geo_coordinates", "longitude"),
)
NEGATIVE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("content_md5", "md5"),
    ("commit_sha", "sha1"),
    ("checksum", "sha256"),
    ("order_no", "order"),
    ("invoice_number", "invoice"),
    ("created_at", "timestamp"),
    ("ship_date", "date"),
    ("version", "version"),
    ("isbn", "isbn"),
    ("tracking_number", "tracking"),
    ("test_card", "test_card"),
    ("tag", "word"),
    ("price", "price"),
    ("quantity", "quantity"),
    ("external_ref", "bigint_id"),
    ("status", "status"),
    ("sku", "sku"),
    ("website", "url"),
    ("company_name", "company"),
    ("city", "city"),
    ("filename", "file"),
    ("hostname", "hostname"),
    ("discount", "percent"),
    ("duration", "duration"),
    ("metadata", "json"),
)

VALUE_DETECTABLE = (
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "national_id",
    "tax_id",
    "ip_address",
    "mac_address",
    "secret",
)
HINT_DRIVEN = (
    "person_name",
    "street_address",
    "date_of_birth",
    "passport",
    "bank_account",
    "medical_record_number",
    "health",
    "geo_coordinates",
)


def build_columns(rows: int = 150, seed: int = SEED) -> list[Column]:
    gen = Gen(seed)
    columns = [
        Column(name, label, [getattr(gen, attr)() for _ in range(rows)])
        for name, label, attr in POSITIVE_COLUMNS
    ]
    columns += [
        Column(name, None, [gen.negative(kind) for _ in range(rows)]) for name, kind in NEGATIVE_COLUMNS
    ]
    return columns


_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("Customer {person_name} wrote from {email} about order {order}.",),
    ("Please call back on {phone} before 5pm, ticket {invoice}.",),
    ("Refund to IBAN {iban} approved on {date}.",),
    ("Card {credit_card} was declined; test card {test_card} works in staging.",),
    ("Login from {ip_address} (device {mac_address}) with app {version}.",),
    ("Patient {person_name} was diagnosed with {health_term} and prescribed {medication}.",),
    ("Old config still has {secret} in it, rotate it.",),
    ("SSN {us_ssn} on file, DOB {date_of_birth_iso}.",),
    ("Her national id is {national_id}, tax id {tax_id}.",),
    ("Shipment {tracking} left the warehouse on {timestamp}.",),
    ("Build {sha1} passed, artifact {uuid} uploaded, ISBN {isbn} updated.",),
    ("Meet at {geo} near the station, bring {word}.",),
    ("Shipped to {street_address} yesterday; customer confirmed.",),
)
_SENTENCE_TYPES = {
    "person_name": "person_name",
    "email": "email",
    "phone": "phone",
    "iban": "iban",
    "credit_card": "credit_card",
    "ip_address": "ip_address",
    "mac_address": "mac_address",
    "health_term": "health",
    "secret": "secret",
    "us_ssn": "us_ssn",
    "date_of_birth_iso": "date_of_birth",
    "national_id": "national_id",
    "tax_id": "tax_id",
    "geo": "geo_coordinates",
    "street_address": "street_address",
    "medication": "health",
}


def build_sentences(n: int = 400, seed: int = SEED) -> list[Sentence]:
    gen = Gen(seed + 1)
    out: list[Sentence] = []
    for i in range(n):
        (template,) = _TEMPLATES[i % len(_TEMPLATES)]
        text, spans, pos = "", [], 0
        for literal, slot in _split_template(template):
            text += literal
            pos += len(literal)
            if slot is None:
                continue
            value = _slot_value(gen, slot)
            if slot in _SENTENCE_TYPES:
                spans.append((_SENTENCE_TYPES[slot], pos, pos + len(value)))
            text += value
            pos += len(value)
        out.append(Sentence(text, spans))
    return out


def _split_template(template: str) -> list[tuple[str, str | None]]:
    parts: list[tuple[str, str | None]] = []
    rest = template
    while "{" in rest:
        literal, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        parts.append((literal, slot))
    parts.append((rest, None))
    return parts


def _slot_value(gen: Gen, slot: str) -> str:
    if slot == "person_name":
        return gen.f("en_US").name()
    if slot == "health_term":
        return gen.rnd.choice(
            ["type 2 diabetes", "asthma", "hypertension", "HIV", "breast cancer", "epilepsy"]
        )
    if slot == "medication":
        return gen.rnd.choice(["metformin", "insulin", "sertraline", "lisinopril", "methadone"])
    if slot == "secret":
        return gen.rnd.choice([gen._provider_token, gen._jwt, gen._url_password])()
    if slot == "date_of_birth_iso":
        return gen.f().date_of_birth(minimum_age=18, maximum_age=90).isoformat()
    if slot == "geo":
        return f"{gen.latitude()[:8]}, {gen.longitude()[:9]}"
    if slot == "street_address":
        f = gen.f("en_US")
        return f"{f.building_number()} {f.last_name()} {gen.rnd.choice(['Street', 'Avenue', 'Road', 'Lane'])}"
    if hasattr(gen, slot):
        return str(getattr(gen, slot)())
    return gen.negative(slot)


# ---- evaluation --------------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


Predict = Callable[[str, str | None], set[str]]


def evaluate_cells(
    columns: list[Column], predict: Predict, *, with_names: bool
) -> tuple[dict[str, Counts], float]:
    """Per-type counts over all cells, and the share of clean cells flagged with anything."""
    counts: dict[str, Counts] = {}
    clean = flagged = 0
    for column in columns:
        for value in column.values:
            predicted = predict(value, column.name if with_names else None)
            if column.label is None:
                clean += 1
                flagged += bool(predicted)
            else:
                c = counts.setdefault(column.label, Counts())
                if column.label in predicted:
                    c.tp += 1
                else:
                    c.fn += 1
            for t in predicted - {column.label}:
                counts.setdefault(t, Counts()).fp += 1
    return counts, flagged / clean if clean else 0.0


SpanPredict = Callable[[str], list[tuple[str, int, int]]]


def evaluate_spans(sentences: list[Sentence], predict: SpanPredict) -> dict[str, Counts]:
    """A labeled span is found when a finding of its type overlaps it; other findings are false."""
    counts: dict[str, Counts] = {}
    for sentence in sentences:
        found = predict(sentence.text)
        for type_, start, end in sentence.spans:
            hit = any(t == type_ and s < end and e > start for t, s, e in found)
            c = counts.setdefault(type_, Counts())
            c.tp += hit
            c.fn += not hit
        for t, s, e in found:
            if not any(lt == t and s < le and e > ls for lt, ls, le in sentence.spans):
                counts.setdefault(t, Counts()).fp += 1
    return counts


def evaluate_columns(columns: list[Column]) -> tuple[dict[str, bool], float]:
    """Column classifier: is each positive column typed right, and how many clean columns get flagged."""
    from veil.detect import classify_column

    right: dict[str, bool] = {}
    clean = flagged = 0
    for column in columns:
        result = classify_column(column.name, "text", column.values)
        if column.label is None:
            clean += 1
            flagged += not result.clean
        else:
            right[column.name] = result.primary == column.label
    return right, flagged / clean if clean else 0.0


def veil_predict() -> tuple[Predict, SpanPredict]:
    from veil.detect import default_scanner

    scanner = default_scanner()

    def cells(value: str, column: str | None) -> set[str]:
        return {f.type for f in scanner.scan(value, column=column)}

    def spans(text: str) -> list[tuple[str, int, int]]:
        return [(f.type, f.start, f.end) for f in scanner.scan(text)]

    return cells, spans


PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "IP_ADDRESS": "ip_address",
    "MAC_ADDRESS": "mac_address",
    "US_PASSPORT": "passport",
    "US_BANK_NUMBER": "bank_account",
    "US_DRIVER_LICENSE": "national_id",
    "UK_NHS": "national_id",
    "US_ITIN": "tax_id",
    "CRYPTO": "(crypto)",
    "DATE_TIME": "(date)",
    "MEDICAL_LICENSE": "(medical_license)",
    "UUID": "(uuid)",
    "URL": "(url)",
}


def presidio_predict() -> tuple[Predict, SpanPredict] | None:
    """Presidio's default English recognizers without the spaCy NER one (no model download)."""
    try:
        from presidio_analyzer import RecognizerRegistry
    except ImportError:
        return None
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    recognizers = [r for r in registry.recognizers if type(r).__name__ != "SpacyRecognizer"]

    def spans(text: str) -> list[tuple[str, int, int]]:
        out = []
        for recognizer in recognizers:
            for result in recognizer.analyze(text, recognizer.supported_entities, None) or []:
                out.append(
                    (
                        PRESIDIO_TYPES.get(result.entity_type, f"({result.entity_type})"),
                        result.start,
                        result.end,
                    )
                )
        return out

    def cells(value: str, column: str | None) -> set[str]:
        return {t for t, _, _ in spans(value)}

    return cells, spans


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _pr(c: Counts | None) -> str:
    return "-" if c is None else f"{c.precision:.3f} / {c.recall:.3f}"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    from bench import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150, help="values per column")
    parser.add_argument("--sentences", type=int, default=390)
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    columns, sentences = build_columns(args.rows), build_sentences(args.sentences)
    cells = sum(len(c.values) for c in columns)
    veil_cells, veil_spans = veil_predict()
    started = time.process_time()
    named, named_clean = evaluate_cells(columns, veil_cells, with_names=True)
    unnamed, unnamed_clean = evaluate_cells(columns, veil_cells, with_names=False)
    veil_cpu = (time.process_time() - started) / (2 * cells)
    spans = evaluate_spans(sentences, veil_spans)
    right, column_flags = evaluate_columns(columns)

    presidio = None if args.no_presidio else presidio_predict()
    p_cells = p_spans = None
    p_clean = p_cpu = 0.0
    if presidio is not None:
        started = time.process_time()
        p_cells, p_clean = evaluate_cells(columns, presidio[0], with_names=False)
        p_cpu = (time.process_time() - started) / cells
        p_spans = evaluate_spans(sentences, presidio[1])

    types = sorted(
        {*named, *unnamed, *spans} - {t for t in {*named, *unnamed, *spans} if t.startswith("(")},
        key=lambda t: (t not in VALUE_DETECTABLE, t),
    )
    rows = []
    for t in types:
        kind = "value" if t in VALUE_DETECTABLE else "hint"
        p_f1 = f"{p_cells[t].f1:.3f}" if p_cells and t in p_cells else "-"
        p_sf1 = f"{p_spans[t].f1:.3f}" if p_spans and t in p_spans else "-"
        rows.append(
            (
                t,
                kind,
                _pr(named.get(t)),
                _pr(unnamed.get(t)),
                _pr(spans.get(t)),
                f"{named[t].f1:.3f}" if t in named else "-",
                f"{unnamed[t].f1:.3f}" if t in unnamed else "-",
                p_f1,
                f"{spans[t].f1:.3f}" if t in spans else "-",
                p_sf1,
            )
        )
    header = (
        "type",
        "kind",
        "cells P/R, with names",
        "cells P/R, values only",
        "free text P/R",
        "veil F1 named",
        "veil F1 values",
        "Presidio F1 values",
        "veil F1 text",
        "Presidio F1 text",
    )
    wrong = sorted(name for name, ok in right.items() if not ok)
    body = [
        f"Measured {machine()}.",
        f"Corpus: {len(columns)} columns x {args.rows} values "
        f"({sum(c.label is not None for c in columns)} typed, {sum(c.label is None for c in columns)} clean "
        "hard-negative columns: UUIDs, hashes, order/invoice/"
        "tracking numbers, timestamps, versions, ISBNs, public test cards, prices, words...), Faker in "
        f"{len(LOCALES)}+ locales, python-stdnum-valid national ids, provider-format tokens; "
        f"{len(sentences)} free-text sentences with labeled spans. Reproduce: "
        "`.venv/bin/python -m bench.detect_quality`.",
        "",
        _table(rows, header),
        "",
        f"- Clean cells flagged with anything: veil {named_clean:.2%} with names, "
        f"{unnamed_clean:.2%} values only"
        + (f"; Presidio {p_clean:.2%} (all results, its default threshold)" if presidio else "")
        + ".",
        f"- Column classifier (`classify_column`, {args.rows} values): {sum(right.values())}/{len(right)} "
        f"typed columns right{' (wrong: ' + ', '.join(wrong) + ')' if wrong else ''}; clean columns flagged: "
        f"{column_flags:.1%}.",
        f"- CPU per cell: veil {veil_cpu * 1e6:.1f} us"
        + (
            f", Presidio pattern recognizers {p_cpu * 1e6:.0f} us ({p_cpu / veil_cpu:.0f}x)"
            if presidio
            else ""
        )
        + " on this corpus (mostly sensitive cells: the slow path).",
    ]
    if presidio is None and not args.no_presidio:
        body.append("- Presidio not installed (`pip install presidio-analyzer`): its columns are empty.")
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_subsection("Quality", text)
    return 0


def write_subsection(title: str, text: str) -> None:
    """Replace one ``### title`` part of the ``## Detection`` section (quality and speed share it)."""
    import re

    from bench import RESULTS, write_section

    current = RESULTS.read_text() if RESULTS.exists() else ""
    match = re.search(r"^## Detection\n(.*?)(?=^## |\Z)", current, re.S | re.M)
    parts: dict[str, str] = {}
    if match:
        for m in re.finditer(r"^### (.+?)\n(.*?)(?=^### |\Z)", match.group(1), re.S | re.M):
            parts[m.group(1).strip()] = m.group(2).strip()
    parts[title] = text.strip()
    order = sorted(parts, key=lambda k: (k != "Quality", k != "Speed", k))
    write_section("Detection", "\n\n".join(f"### {k}\n\n{parts[k]}" for k in order))


if __name__ == "__main__":
    raise SystemExit(main())
