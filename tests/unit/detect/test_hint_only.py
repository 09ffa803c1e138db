"""Types that values alone cannot prove: names, addresses, dates of birth, passports, MRNs, health."""

import pytest


@pytest.mark.parametrize(
    "value, column, type_",
    [
        ("Jane Doe", "customer_name", "person_name"),
        ("José María O'Neil-García", "full_name", "person_name"),
        ("1600 Pennsylvania Ave NW, Washington", "address", "street_address"),
        ("1985-03-12", "dob", "date_of_birth"),
        ("12/03/1985", "birth_date", "date_of_birth"),
        ("X1234567", "passport_number", "passport"),
        ("MRN-0048213", "mrn", "medical_record_number"),
        ("Type 2 diabetes mellitus", "diagnosis", "health"),
        ("12345678", "account_number", "bank_account"),
        ("D1234-5678-9012", "drivers_license", "national_id"),
    ],
)
def test_hint_plus_shape(found, value: str, column: str, type_: str) -> None:
    assert found(value, column=column) == [(type_, value)]


@pytest.mark.parametrize(
    "value, column",
    [
        ("Jane Doe", None),
        ("Jane Doe", "product_name"),
        ("12345", "customer_name"),
        ("2099-01-01", "dob"),
        ("hello world", "passport"),
        ("1985-03-12", "order_date"),
    ],
)
def test_no_hint_or_wrong_shape(found, value: str, column: str | None) -> None:
    assert found(value, column=column) == []


def test_free_text_forms(found) -> None:
    text = "Mr. John Smith (DOB: 1985-03-12, MRN: 00482137) lives at 221 Baker Street, passport no. X1234567"
    types = [t for t, _ in found(text)]
    assert types == ["person_name", "date_of_birth", "medical_record_number", "street_address", "passport"]


def test_health_terms_and_icd_codes(found) -> None:
    assert found("Patient has asthma; ICD-10: J45.909") == [("health", "asthma"), ("health", "J45.909")]
    assert found("I was cancelling my order") == []
