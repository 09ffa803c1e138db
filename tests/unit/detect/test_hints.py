import pytest

from veil.detect import name_hints
from veil.detect.hints import analyze_name, tokenize


@pytest.mark.parametrize(
    "name, tokens",
    [
        ("customerEmail", ("customer", "email")),
        ("HTTPClientIP", ("http", "client", "ip")),
        ("address_line1", ("address", "line", "1")),
        ("$.user.contact.phone", ("phone",)),
        ("payload.phone.value", ("phone", "value")),
        ("items[0].ssn", ("ssn",)),
        ("DOB", ("date", "of", "birth")),
    ],
)
def test_tokenize(name: str, tokens: tuple[str, ...]) -> None:
    assert tokenize(name) == tokens


@pytest.mark.parametrize(
    "name, expected",
    [
        ("email", "email"),
        ("customer_email", "email"),
        ("e_mail", "email"),
        ("mobile", "phone"),
        ("first_name", "person_name"),
        ("patientName", "person_name"),
        ("dob", "date_of_birth"),
        ("ssn", "us_ssn"),
        ("passport_no", "passport"),
        ("tax_id", "tax_id"),
        ("cc_number", "credit_card"),
        ("cvv", "credit_card"),
        ("iban", "iban"),
        ("bank_account_number", "bank_account"),
        ("client_ip", "ip_address"),
        ("mac_addr", "mac_address"),
        ("api_key", "secret"),
        ("pwd", "secret"),
        ("password_hash", "secret"),
        ("mrn", "medical_record_number"),
        ("diagnosis", "health"),
        ("street_address", "street_address"),
        ("billingAddress", "street_address"),
        ("lat", "geo_coordinates"),
        ("drivers_license_number", "national_id"),
    ],
)
def test_names_hint_types(name: str, expected: str) -> None:
    guesses = name_hints(name)
    assert guesses and guesses[0].type == expected
    assert guesses[0].why == "name"


@pytest.mark.parametrize(
    "name",
    [
        "filename",
        "public",
        "product_name",
        "file_name",
        "hostname",
        "email_hash",
        "created_at",
        "customer_id",
        "phone_count",
        "is_email_verified",
        "version",
        "order_id",
        "ip_address_hash",
        "password_hint",
    ],
)
def test_names_that_say_nothing_personal(name: str) -> None:
    assert name_hints(name) == ()


@pytest.mark.parametrize("name", ["email_hash", "created_at", "customer_id", "uuid", "has_phone"])
def test_vetoes(name: str) -> None:
    assert analyze_name(name).veto


def test_email_address_is_not_a_street() -> None:
    assert [g.type for g in name_hints("email_address")] == ["email"]
    assert [g.type for g in name_hints("ip_address")] == ["ip_address"]


def test_secretish_names() -> None:
    assert analyze_name("client_secret").secretish
    assert analyze_name("refreshToken").secretish
    assert not analyze_name("token_count").secretish
