import pytest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ITIN 912-78-1234", "912-78-1234"),
        ("PAN ABCPE1234F", "ABCPE1234F"),
        ("CNPJ 11.222.333/0001-81", "11.222.333/0001-81"),
        ("Steuer-ID 86 095 742 719", "86 095 742 719"),
    ],
)
def test_tax_ids_are_found(found, text: str, expected: str) -> None:
    assert ("tax_id", expected) in found(text)


@pytest.mark.parametrize("text", ["CNPJ 11.222.333/0001-82", "Steuer-ID 86 095 742 718", "ITIN 912-12-1234"])
def test_checksum_failures(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "tax_id"] == []
