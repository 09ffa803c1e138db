import pytest


@pytest.mark.parametrize("text", ["00:1A:2B:3C:4D:5E", "device a4-5e-60-c2-11-0f online", "001a.2b3c.4d5e"])
def test_macs_are_found(found, text: str) -> None:
    assert [t for t, _ in found(text)] == ["mac_address"]


@pytest.mark.parametrize(
    "text", ["00:1A-2B:3C:4D:5E", "00:00:00:00:00:00", "12:30:45:11", "ff:ff:ff:ff:ff:ff"]
)
def test_non_macs(found, text: str) -> None:
    assert [t for t, _ in found(text) if t == "mac_address"] == []
