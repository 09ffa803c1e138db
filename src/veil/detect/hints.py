"""What a column or JSON key name says about its values.

Names are split into whole tokens (snake_case, camelCase, digits, JSON key paths),
common abbreviations are expanded (``dob`` -> date of birth, ``pwd`` -> password), and
rules match whole token sequences, so ``filename`` is not a person's name and ``public``
is not a licence.  A name whose last token says "not personal" (``id``, ``hash``,
``count``, ``created_at``...) vetoes weak value-only detections, unless a rule ends
right there (``tax_id``, ``password_hash`` are still sensitive).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_ALNUM = re.compile(r"[A-Za-z]+|[0-9]+")
_PATH_SEP = re.compile(r"[./\[\]$>]+")

# token -> the tokens it stands for
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ssn": ("ssn",),
    "dob": ("date", "of", "birth"),
    "birthdate": ("birth", "date"),
    "birthday": ("birth", "date"),
    "tel": ("phone",),
    "telephone": ("phone",),
    "mobile": ("phone",),
    "msisdn": ("phone",),
    "fax": ("phone",),
    "cellphone": ("phone",),
    "phonenumber": ("phone",),
    "pwd": ("password",),
    "pw": ("password",),
    "passwd": ("password",),
    "pass": ("password",),
    "passphrase": ("password",),
    "cvv": ("cvv",),
    "cvc": ("cvv",),
    "cvv2": ("cvv",),
    "csc": ("cvv",),
    "addr": ("address",),
    "fname": ("first", "name"),
    "lname": ("last", "name"),
    "firstname": ("first", "name"),
    "lastname": ("last", "name"),
    "fullname": ("full", "name"),
    "surname": ("last", "name"),
    "forename": ("first", "name"),
    "givenname": ("given", "name"),
    "emailaddress": ("email",),
    "mail": ("email",),
    "e": ("e",),
    "acct": ("account",),
    "acc": ("account",),
    "no": ("number",),
    "num": ("number",),
    "nbr": ("number",),
    "nr": ("number",),
    "zip": ("postcode",),
    "zipcode": ("postcode",),
    "postalcode": ("postcode",),
    "ipaddr": ("ip",),
    "ipv4": ("ip",),
    "ipv6": ("ip",),
    "ipaddress": ("ip",),
    "macaddr": ("mac",),
    "apikey": ("api", "key"),
    "accesstoken": ("access", "token"),
    "authtoken": ("auth", "token"),
    "privatekey": ("private", "key"),
    "secretkey": ("secret", "key"),
    "creds": ("credential",),
    "credentials": ("credential",),
    "lat": ("latitude",),
    "lng": ("longitude",),
    "lon": ("longitude",),
    "coords": ("coordinates",),
    "diagnoses": ("diagnosis",),
    "dx": ("diagnosis",),
    "meds": ("medication",),
    "medications": ("medication",),
    "allergies": ("allergy",),
    "taxid": ("tax", "id"),
    "ccnum": ("card", "number"),
    "ccn": ("card", "number"),
    "cardnumber": ("card", "number"),
    "creditcard": ("credit", "card"),
    "passportno": ("passport",),
    "iban": ("iban",),
    "dsn": ("dsn",),
    "connstr": ("connection", "string"),
    "lastfour": ("last", "four"),
}

_PERSON = frozenset(
    {
        "first",
        "last",
        "given",
        "family",
        "middle",
        "full",
        "maiden",
        "customer",
        "patient",
        "user",
        "contact",
        "employee",
        "person",
        "member",
        "client",
        "holder",
        "cardholder",
        "owner",
        "emergency",
        "legal",
        "display",
        "nick",
        "real",
        "buyer",
        "recipient",
        "sender",
        "guardian",
        "parent",
        "spouse",
    }
)

_VETO = frozenset(
    {
        "id",
        "ids",
        "uuid",
        "guid",
        "hash",
        "digest",
        "checksum",
        "md5",
        "sha1",
        "sha256",
        "version",
        "count",
        "cnt",
        "total",
        "price",
        "amount",
        "qty",
        "quantity",
        "created",
        "updated",
        "modified",
        "deleted",
        "at",
        "ts",
        "timestamp",
        "status",
        "type",
        "kind",
        "flag",
        "enabled",
        "verified",
        "valid",
        "sku",
        "order",
        "invoice",
        "seq",
        "index",
        "idx",
        "size",
        "length",
        "len",
        "width",
        "height",
        "weight",
        "score",
        "rank",
        "format",
        "template",
        "domain",
        "mask",
        "masked",
        "last4",
        "four",
        "opt",
        "consent",
        "preference",
        "bool",
        "rate",
        "ratio",
        "percent",
        "level",
        "tier",
        "color",
        "hint",
        "policy",
        "strength",
        "expiry",
        "expires",
        "expiration",
        "required",
        "question",
    }
)
_BOOLEAN_PREFIX = frozenset({"is", "has", "can", "should", "allow", "use"})
_GENERIC = frozenset({"value", "val", "text", "data", "number", "raw", "string", "str", "field"})

_SECRETISH = frozenset({"password", "secret", "token", "credential", "apikey", "dsn"})


@dataclass(frozen=True, slots=True)
class _Rule:
    tokens: tuple[str, ...]
    type: str
    tag: str
    confidence: float


def _rules() -> tuple[_Rule, ...]:
    table: list[tuple[str, str, str, float]] = [
        # tokens (space separated), type, shape tag, confidence
        ("email", "email", "email", 0.9),
        ("e email", "email", "email", 0.9),
        ("email address", "email", "email", 0.95),
        ("phone", "phone", "phone", 0.9),
        ("phone number", "phone", "phone", 0.95),
        ("contact number", "phone", "phone", 0.8),
        ("name", "person_name", "name", 0.5),
        ("date of birth", "date_of_birth", "date", 0.95),
        ("birth date", "date_of_birth", "date", 0.95),
        ("born", "date_of_birth", "date", 0.7),
        ("ssn", "us_ssn", "ssn", 0.95),
        ("social security", "us_ssn", "ssn", 0.9),
        ("social security number", "us_ssn", "ssn", 0.95),
        ("national id", "national_id", "id", 0.9),
        ("national identifier", "national_id", "id", 0.9),
        ("nin", "national_id", "id", 0.8),
        ("nino", "national_id", "id", 0.9),
        ("sin", "national_id", "id", 0.7),
        ("bsn", "national_id", "id", 0.9),
        ("cpf", "national_id", "id", 0.9),
        ("aadhaar", "national_id", "id", 0.9),
        ("nric", "national_id", "id", 0.9),
        ("dni", "national_id", "id", 0.9),
        ("nie", "national_id", "id", 0.8),
        ("personnummer", "national_id", "id", 0.9),
        ("nir", "national_id", "id", 0.8),
        ("id number", "national_id", "id", 0.7),
        ("identity number", "national_id", "id", 0.85),
        ("driver license", "national_id", "licence", 0.85),
        ("drivers license", "national_id", "licence", 0.85),
        ("driving licence", "national_id", "licence", 0.85),
        ("driver licence", "national_id", "licence", 0.85),
        ("license number", "national_id", "licence", 0.7),
        ("licence number", "national_id", "licence", 0.7),
        ("passport", "passport", "passport", 0.9),
        ("passport number", "passport", "passport", 0.95),
        ("tax id", "tax_id", "id", 0.9),
        ("tax number", "tax_id", "id", 0.9),
        ("tin", "tax_id", "id", 0.8),
        ("ein", "tax_id", "id", 0.8),
        ("itin", "tax_id", "id", 0.9),
        ("steuer id", "tax_id", "id", 0.9),
        ("pan", "tax_id", "id", 0.5),
        ("codice fiscale", "tax_id", "id", 0.9),
        ("nif", "tax_id", "id", 0.8),
        ("card", "credit_card", "card", 0.6),  # weak: steers the scanner, values decide
        ("credit card", "credit_card", "card", 0.9),
        ("card number", "credit_card", "card", 0.9),
        ("cc number", "credit_card", "card", 0.9),
        ("pan number", "credit_card", "card", 0.6),
        ("cvv", "credit_card", "cvv", 0.9),
        ("iban", "iban", "iban", 0.95),
        ("account number", "bank_account", "account", 0.85),
        ("bank account", "bank_account", "account", 0.9),
        ("bank account number", "bank_account", "account", 0.95),
        ("routing number", "bank_account", "account", 0.8),
        ("sort code", "bank_account", "account", 0.8),
        ("bban", "bank_account", "account", 0.9),
        ("ip", "ip_address", "ip", 0.9),
        ("ip address", "ip_address", "ip", 0.95),
        ("client ip", "ip_address", "ip", 0.95),
        ("remote addr", "ip_address", "ip", 0.9),
        ("mac", "mac_address", "mac", 0.85),
        ("mac address", "mac_address", "mac", 0.95),
        ("password", "secret", "password", 0.95),
        ("password hash", "secret", "hash", 0.9),
        ("secret", "secret", "token", 0.9),
        ("client secret", "secret", "token", 0.95),
        ("token", "secret", "token", 0.85),
        ("access token", "secret", "token", 0.95),
        ("refresh token", "secret", "token", 0.95),
        ("auth token", "secret", "token", 0.95),
        ("api key", "secret", "token", 0.95),
        ("access key", "secret", "token", 0.9),
        ("secret key", "secret", "token", 0.95),
        ("private key", "secret", "token", 0.95),
        ("signing key", "secret", "token", 0.9),
        ("credential", "secret", "token", 0.9),
        ("dsn", "secret", "token", 0.6),
        ("connection string", "secret", "token", 0.8),
        ("medical record number", "medical_record_number", "mrn", 0.95),
        ("medical record", "medical_record_number", "mrn", 0.9),
        ("mrn", "medical_record_number", "mrn", 0.95),
        ("chart number", "medical_record_number", "mrn", 0.8),
        ("diagnosis", "health", "health", 0.9),
        ("icd", "health", "health", 0.85),
        ("icd10", "health", "health", 0.9),
        ("medication", "health", "health", 0.85),
        ("prescription", "health", "health", 0.85),
        ("allergy", "health", "health", 0.85),
        ("symptoms", "health", "health", 0.85),
        ("condition", "health", "health", 0.5),
        ("clinical notes", "health", "health", 0.9),
        ("treatment", "health", "health", 0.7),
        ("address", "street_address", "address", 0.7),
        ("street", "street_address", "address", 0.85),
        ("street address", "street_address", "address", 0.95),
        ("home address", "street_address", "address", 0.95),
        ("address line", "street_address", "address", 0.9),
        ("mailing address", "street_address", "address", 0.95),
        ("billing address", "street_address", "address", 0.9),
        ("shipping address", "street_address", "address", 0.9),
        ("postcode", "street_address", "postcode", 0.6),
        ("postal code", "street_address", "postcode", 0.6),
        ("post code", "street_address", "postcode", 0.6),
        ("latitude", "geo_coordinates", "lat", 0.9),
        ("longitude", "geo_coordinates", "lon", 0.9),
        ("coordinates", "geo_coordinates", "coords", 0.85),
        ("geo", "geo_coordinates", "coords", 0.6),
        ("gps", "geo_coordinates", "coords", 0.8),
        ("geolocation", "geo_coordinates", "coords", 0.8),
    ]
    return tuple(_Rule(tuple(t.split()), ty, tag, c) for t, ty, tag, c in table)


_RULES = _rules()
_MAX_RULE = max(len(r.tokens) for r in _RULES)
_BY_TOKENS = {r.tokens: r for r in _RULES}
# "X address" where X is not a street: email address, ip address... handled by longer rules;
# these words before "address" mean it is not a postal address at all.
_NOT_POSTAL = frozenset(
    {"email", "ip", "mac", "web", "wallet", "url", "server", "host", "memory", "bitcoin", "e"}
)


@dataclass(frozen=True, slots=True)
class TypeGuess:
    """A type a column (or name) probably holds, how sure we are, and why ("name", "values", "both")."""

    type: str
    confidence: float
    why: str
    share: float = 0.0  # fraction of sampled non-null values that showed the type (0 from a name alone)


@dataclass(frozen=True, slots=True)
class NameHints:
    """Everything a name tells the scanner: guesses with their shape tags, and vetoes."""

    tokens: tuple[str, ...]
    guesses: tuple[TypeGuess, ...]
    tags: tuple[tuple[str, str], ...]  # (type, shape tag), same order as guesses
    veto: bool  # "not personal": weak value-only detections are dropped
    secretish: bool  # high-entropy strings count as secrets under this name

    def confidence(self, type_name: str) -> float:
        return max((g.confidence for g in self.guesses if g.type == type_name), default=0.0)


NO_HINTS = NameHints((), (), (), False, False)


def tokenize(name: str) -> tuple[str, ...]:
    """Whole, lower-case, abbreviation-expanded tokens of a column name or JSON key path.

    For a key path only the last key counts, plus its parent when the last key is generic
    (``phone.value``).
    """
    segments = [s for s in _PATH_SEP.split(name) if s and not s.isdigit()]
    if not segments:
        return ()
    last = _split(segments[-1])
    if len(segments) > 1 and all(t in _GENERIC for t in last):
        last = _split(segments[-2]) + last
    return last


def _split(segment: str) -> tuple[str, ...]:
    spaced = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", segment))
    out: list[str] = []
    for raw in _ALNUM.findall(spaced):
        out.extend(_ABBREVIATIONS.get(raw.lower(), (raw.lower(),)))
    return tuple(out)


@functools.lru_cache(maxsize=8192)
def analyze_name(name: str) -> NameHints:
    """All hints of one name; cached because the proxy asks once per column per result."""
    tokens = tokenize(name)
    if not tokens:
        return NO_HINTS
    found: dict[str, tuple[float, str]] = {}
    ends_with_rule = False
    for i in range(len(tokens)):
        for n in range(min(_MAX_RULE, len(tokens) - i), 0, -1):
            rule = _BY_TOKENS.get(tokens[i : i + n])
            if rule is None or not _applies(rule, tokens, i):
                continue
            confidence = _person_confidence(tokens, i) if rule.tokens == ("name",) else rule.confidence
            if confidence <= 0:
                break
            if i + n == len(tokens):
                ends_with_rule = True
            if confidence > found.get(rule.type, (0.0, ""))[0]:
                found[rule.type] = (confidence, rule.tag)
            break
    veto = (tokens[-1] in _VETO and not ends_with_rule) or tokens[0] in _BOOLEAN_PREFIX
    if veto:
        found = {}
    ordered = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))
    guesses = tuple(TypeGuess(t, c, "name") for t, (c, _) in ordered)
    tags = tuple((t, tag) for t, (_, tag) in ordered)
    secretish = not veto and (bool(_SECRETISH.intersection(tokens)) or "secret" in found)
    return NameHints(tokens, guesses, tags, veto, secretish)


def _applies(rule: _Rule, tokens: tuple[str, ...], i: int) -> bool:
    return not (rule.tokens[0] == "address" and i > 0 and tokens[i - 1] in _NOT_POSTAL)


def _person_confidence(tokens: tuple[str, ...], i: int) -> float:
    """``name`` alone may be a person; after a person-ish word it surely is; after others it is not."""
    if i == 0:
        return 0.5 if len(tokens) == 1 else 0.0
    return 0.9 if tokens[i - 1] in _PERSON else 0.0


def name_hints(name: str) -> tuple[TypeGuess, ...]:
    """Types the column or JSON key name alone suggests (contract API; empty when vetoed)."""
    return analyze_name(name).guesses
