import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4539 1488 0343 6467", "4539 1488 0343 6467"),
        ("paid with 5425-2334-3010-9903 yesterday", "5425-2334-3010-9903"),
        ("371449635398432", None),  # Luhn fails: one digit off an Amex number
        ("card 6011 0009 9013 9425", None),  # Luhn fails
    ],
)
def test_cards_need_luhn(found, text: str, expected: str | None) -> None:
    hits = [v for t, v in found(text) if t == "credit_card"]
    assert hits == ([expected] if expected else [])


def test_amex_with_valid_luhn(found) -> None:
    assert found("3714 496353 98431") == [] or found("378734493671000") == [
        ("credit_card", "378734493671000")
    ]
    assert found("378734493671000") == [("credit_card", "378734493671000")]


@pytest.mark.parametrize("text", ["4111111111111111", "4242 4242 4242 4242", "5555555555554444"])
def test_public_test_numbers_are_not_cards(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "credit_card"] == []


def test_mixed_separators_are_not_a_card(found) -> None:
    assert [t for t, _ in found("4539-1488 0343-6467") if t == "credit_card"] == []


def test_cvv_only_by_name(found) -> None:
    assert found("123") == []
    assert found("123", column="cvv") == [("credit_card", "123")]


def test_twelve_digit_maestro_6390_is_a_card(found) -> None:
    # Faker's Maestro numbers include the legacy 6390 range at 12 digits; one in ~150 went out unmasked
    assert found("639054658039") == [("credit_card", "639054658039")]
    assert found("639054658038") == []  # Luhn still decides
