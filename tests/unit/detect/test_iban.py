import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DE89370400440532013000", "DE89370400440532013000"),
        ("IBAN: GB82 WEST 1234 5698 7654 32, thanks", "GB82 WEST 1234 5698 7654 32"),
        ("fr1420041010050500013m02606", "fr1420041010050500013m02606"),
    ],
)
def test_ibans_are_found(found, text: str, expected: str) -> None:
    assert ("iban", expected) in found(text)


@pytest.mark.parametrize(
    "text", ["DE89370400440532013001", "GB82 WEST 1234 5698 7654 33", "XX00123412341234"]
)
def test_mod97_failures_are_not_ibans(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "iban"] == []
