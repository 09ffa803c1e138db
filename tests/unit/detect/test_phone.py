import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("+1 (415) 555-0132", "+1 (415) 555-0132"),
        ("call me at +44 20 7946 0958 please", "+44 20 7946 0958"),
        ("Tel. 030 12345678", "030 12345678"),
        ("(212) 555-0147", "(212) 555-0147"),
        ("+49 151 23456789", "+49 151 23456789"),
    ],
)
def test_phone_numbers_are_found(found, text: str, expected: str) -> None:
    assert ("phone", expected) in found(text)


@pytest.mark.parametrize(
    "text", ["2024-01-15", "12:30:45", "v1.2.3", "ORD-2024-000123", "1.000.000", "+1 23"]
)
def test_non_phones_are_not_found(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "phone"] == []


def test_bare_digits_need_a_phone_name(found) -> None:
    assert found("4155550132") == []
    assert found("4155550132", column="mobile_number") == [("phone", "4155550132")]


def test_a_not_personal_name_vetoes_weak_phone_hits(found) -> None:
    assert found("(212) 555-0147", column="order_id") == []
